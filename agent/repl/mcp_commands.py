"""The MCP part of the slash commands: `/mcp` lists the servers, and each prompt a server
offers is the command `/mcp__<server>__<prompt> ARGS` (named like its tools), which
sends the prompt's text as the user's message."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Protocol, TypeVar

from rich.console import Console
from rich.text import Text

from agent.repl.state import ReplState
from tools.mcp.resources import McpRequestError, PromptInfo, prompt_arguments
from tools.mcp.spec import tool_name

SHOWN = 8   # resources listed by name under a server; the rest are counted
T = TypeVar("T")


class Host(Protocol):
    """What these commands need from the REPL (a part of agent/repl/commands.py's Host)."""
    console: Console
    state: ReplState
    runner: Any                  # the TurnRunner: `run(work)` with interrupt keys

    def send(self, text: str, mentions: bool = True) -> None: ...


class McpCommands:
    def __init__(self, repl: Host):
        self.repl = repl
        self.console = repl.console
        self.state = repl.state

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style=style))

    def prompt_commands(self, wait: bool = True) -> tuple[dict[str, tuple[str, PromptInfo]], list[str]]:
        """{command name: (server, prompt)} over the connected servers, and why a
        server's prompts could not be listed. `wait=False`: only what was fetched."""
        found: dict[str, tuple[str, PromptInfo]] = {}
        problems: list[str] = []
        for server in self.state.mcp_connected():
            try:
                prompts = self.state.mcp_list(server, "prompts", wait=wait)
            except McpRequestError as e:
                problems.append(str(e))
                continue
            for prompt in prompts:
                found.setdefault(tool_name(server, prompt.name), (server, prompt))
        return found, problems

    def _asking(self, work: Callable[[], T]) -> T:
        """`work()`, which may wait on servers: with the interrupt keys (Esc stops it)
        where there are servers to wait on."""
        return self.repl.runner.run(work) if self.state.mcp_connected() else work()

    # ---- /mcp ---------------------------------------------------------------------------

    def show(self) -> None:
        rows = self._asking(self.state.mcp_overview)
        if not rows:
            self.say("no MCP servers in this session: define them in your config "
                              "or with `ama mcp add` (README: MCP servers)", "dim")
            return
        console = self.console
        for row in rows:
            ok = row["status"] == "connected"
            head = Text.assemble((row["name"], "bold"), "  ",
                                 (row["status"], "green" if ok else "yellow"))
            if row["error"] and not ok:
                head.append(f": {row['error']}")
            console.print(head)
            if not ok:
                continue
            tools = row["tools"]
            self._line(f"tools ({len(tools)})", ", ".join(tools) or "none")
            if row.get("withheld"):
                self._line("withheld", f"{', '.join(row['withheld'])} (changed since you approved "
                                       f"them: `ama mcp approve {row['name']}`)", "yellow")
            resources, prompts = row["resources"], row["prompts"]
            if resources is not None:
                uris = [r.uri for r in resources]
                more = f", … {len(uris) - SHOWN} more" if len(uris) > SHOWN else ""
                self._line(f"resources ({len(uris)})",
                           (", ".join(uris[:SHOWN]) + more) or "none")
            if prompts is not None:
                self._line(f"prompts ({len(prompts)})", ", ".join(
                    f"/{tool_name(row['name'], p.name)} {p.usage()}".rstrip() for p in prompts)
                    or "none")
            if row["error"]:
                self._line("note", row["error"], "yellow")

    def _line(self, label: str, text: str, style: str = "") -> None:
        self.console.print(Text.assemble("  ", (f"{label}: ", "dim"), (text, style)))

    # ---- /help ----------------------------------------------------------------------------

    def help(self) -> None:
        """The prompt commands, one a line, for /help."""
        found, problems = self._asking(self.prompt_commands)
        for name, (server, prompt) in sorted(found.items()):
            usage = f"/{name} {prompt.usage()}".rstrip()
            about = prompt.description.strip().splitlines()[0] if prompt.description.strip() else ""
            self.console.print(Text.assemble((usage, "bold"), "  ", about,
                                                      (f"  (MCP server {server})", "dim")))
        for problem in problems:
            self.say(f"(prompts not listed: {problem})", "yellow")

    def describe(self, name: str) -> bool:
        """`/help mcp__server__prompt`: its usage and arguments; False if there is none."""
        found = self._asking(self.prompt_commands)[0].get(name)
        if found is None:
            return False
        server, prompt = found
        self.say(f"/{name} {prompt.usage()}".rstrip(), "bold")
        self.say(f"{prompt.description or prompt.name} (prompt {prompt.name!r} of "
                          f"MCP server {server}; its text is sent as your message)")
        for arg in prompt.arguments:
            need = "required" if arg.required else "optional"
            self.say(f"  {arg.name} ({need}){': ' + arg.description if arg.description else ''}")
        return True

    # ---- /mcp__server__prompt ARGS ----------------------------------------------------------

    def run(self, name: str, arg: str) -> None:
        """Get the prompt with the arguments `arg` gives and send its text as a turn."""
        found, problems = self._asking(self.prompt_commands)
        if name not in found:
            close = difflib.get_close_matches(name, list(found), n=1)
            hint = f"; did you mean /{close[0]}?" if close else ""
            why = f" ({'; '.join(problems)})" if problems else ""
            self.say(f"no MCP prompt /{name}{hint}{why} (/mcp lists the servers' "
                              f"prompts)", "yellow")
            return
        server, prompt = found[name]
        try:
            arguments = prompt_arguments(prompt, arg)
        except ValueError as e:
            self.say(f"/{name}: {e}; usage: /{name} {prompt.usage()}".rstrip(), "yellow")
            return
        session = self.state.session
        try:
            text = self.repl.runner.run(
                lambda: session.mcp_prompt(server, prompt.name, arguments))
        except McpRequestError as e:
            self.say(f"/{name}: {e}", "red")
            return
        if not text.strip():
            self.say(f"/{name}: the server's prompt is empty; nothing sent", "yellow")
            return
        self.repl.send(text, mentions=False)
