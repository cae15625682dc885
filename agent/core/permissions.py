"""Permission rules: `allow` / `ask` / `deny`, each `tool(pattern)` or a bare `tool`.

Evaluated deny first, then ask, then allow; a call no rule names gets the default
for its kind (reads and edits allowed: they land in the scratch copy and go through
review; shell allowed inside a sandbox, asked outside one; network asked). Shell rules
see each part of a compound command (`a && b; c | d`, subshells, `$( )`): an allow
rule must cover every part, so `shell(ls*)` does not allow `ls && curl x`, and a deny
rule fires on any part. `generalise` turns one approved call into the rule that an
"always allow" answer saves.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from agent.core.shellsplit import split_compound  # noqa: F401  (re-exported)

Action = Literal["allow", "ask", "deny"]
MODES = ("default", "plan", "bypass")
MCP_PREFIX = "mcp__"   # tools from MCP servers: mcp__<server>__<tool>   # plan: mutating tools refused; bypass: no asking
# TOOL may be a glob (`mcp__github__*`: every tool of one MCP server)
_RULE = re.compile(r"^\s*([A-Za-z_*?][\w*?-]*)\s*(?:\((.*)\))?\s*$", re.S)
# The argument a pattern is matched against, per tool.
_KEY_ARG = {"shell": "command", "read_file": "path", "write_file": "path", "edit_file": "path",
            "list_files": "path", "grep": "pattern", "git": "args", "apply_patch": "patch"}


@dataclass(frozen=True)
class Rule:
    tool: str
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Rule":
        m = _RULE.match(text)
        if not m:
            raise ValueError(f"bad permission rule {text!r}; write TOOL or TOOL(PATTERN), "
                             f"e.g. shell(npm test*)")
        return cls(m.group(1), m.group(2))

    def matches(self, tool: str, args: Mapping[str, Any], part: str | None = None) -> bool:
        """Does this rule name `tool` and (if it has a pattern) match the call?

        For shell, `part` is one simple command of the call's command line (see
        `split_compound`); the caller decides whether any or every part must match.
        """
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        if self.pattern is None:
            return True
        if part is not None:
            return fnmatch.fnmatchcase(part, self.pattern)
        return fnmatch.fnmatchcase(key_value(tool, args), self.pattern)

    def __str__(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}({self.pattern})"


def key_value(tool: str, args: Mapping[str, Any]) -> str:
    """The argument a pattern is matched against, as text (git's args joined by spaces)."""
    value = args.get(_KEY_ARG.get(tool, ""), "")
    if isinstance(value, list):
        value = " ".join(map(str, value))
    return str(value)


# Commands that reach the network: asked by default where the network is reachable.
NETWORK_COMMANDS = (
    "curl*", "wget*", "ssh *", "scp *", "sftp *", "rsync *", "nc *", "ncat *", "telnet *",
    "ftp *", "git push*", "git pull*", "git fetch*", "git clone*", "git ls-remote*",
    "pip install*", "pip3 install*", "pip download*", "python* -m pip install*",
    "uv pip install*", "uv add*", "npm install*", "npm i *", "npm publish*", "npx *",
    "yarn add*", "yarn install*", "pnpm add*", "pnpm install*", "cargo install*",
    "cargo publish*", "go get*", "go install*", "gem install*", "apt*install*",
    "brew install*", "docker pull*", "docker push*",
)
# Tools (besides shell) whose whole job is the network; asked by default.
NETWORK_TOOLS = ("web_fetch", "web_search", "fetch")


@dataclass
class Permissions:
    """The rules for one session, and what the defaults depend on.

    `allow` rules (flags, config) are a list: once one names a tool, that tool's calls
    outside them are asked. `granted` rules (saved by "always allow") only allow.
    `sandboxed`: commands run in an isolating sandbox (not `--sandbox local`).
    `network`: the sandbox has network access (`--network`).
    """
    allow: list[Rule] = field(default_factory=list)
    ask: list[Rule] = field(default_factory=list)
    deny: list[Rule] = field(default_factory=list)
    mode: str = "default"   # default | plan (mutating tools refused) | bypass
    sandboxed: bool = True
    network: bool = False
    granted: list[Rule] = field(default_factory=list)   # "always allow" answers: allow, never restrict

    @classmethod
    def from_lists(cls, allow=(), ask=(), deny=(), mode: str = "default", granted=(),
                   **kw) -> "Permissions":
        """Parse rule strings; ValueError names a malformed one."""
        return cls([Rule.parse(r) for r in allow], [Rule.parse(r) for r in ask],
                   [Rule.parse(r) for r in deny], mode,
                   granted=[Rule.parse(r) for r in granted], **kw)

    def decide(self, tool: str, args: Mapping[str, Any], mutating: bool,
               can_ask: bool = False) -> tuple[Action, str]:
        """(action, reason) for one call. `can_ask`: someone is there to answer an "ask".

        Order: deny rules, plan mode, ask rules, allow rules, then the defaults. For
        shell, deny and ask rules fire when they match any part of a compound command;
        allow rules must cover every part.
        """
        parts = split_compound(key_value(tool, args)) if tool == "shell" else [None]
        parts = parts or [""]
        for rule in self.deny:
            if any(rule.matches(tool, args, p) for p in parts):
                return "deny", f"denied by rule {rule}"
        if self.mode == "plan" and mutating:
            return "deny", "plan mode is read-only"
        if self.mode == "bypass":
            return "allow", "bypass mode"
        for rule in self.ask:
            if any(rule.matches(tool, args, p) for p in parts):
                return "ask", f"rule {rule} asks for approval"
        rules = [*self.allow, *self.granted]
        uncovered = [p for p in parts if not any(r.matches(tool, args, p) for r in rules)]
        if not uncovered:
            return "allow", "allowed by rule"
        if self.allow and tool in {r.tool for r in self.allow}:
            # The user listed patterns for this tool: calls outside them are asked.
            what = f"`{uncovered[0]}`" if tool == "shell" else tool
            return "ask", f"no allow rule for {what} matches"
        # parts no rule covers get the default
        return self._default(tool, uncovered, can_ask, mutating)

    def _default(self, tool: str, parts: list, can_ask: bool,
                 mutating: bool = True) -> tuple[Action, str]:
        """Reads and edits: allowed (they land in the scratch copy, under review). Shell:
        allowed in a sandbox; outside one (`--sandbox local`) asked when someone can
        answer — in headless mode choosing `local` by name is the consent. Network: asked
        where it is reachable; a headless run has to have opted in with `--network`.
        An MCP tool that may change something: asked — it acts outside the workspace,
        where review cannot undo it."""
        if tool.startswith(MCP_PREFIX) and mutating:
            return "ask", (f"{tool} may change things outside the workspace, where review "
                           f"cannot undo it; allow it with --allowed-tools {tool}")
        if tool in NETWORK_TOOLS:
            if self.network and not can_ask:
                return "allow", "--network"
            return "ask", f"{tool} uses the network"
        if tool != "shell":
            return "allow", "default"
        net = next((p for p in parts if is_network_command(p)), None)
        if net is not None and (self.network or not self.sandboxed):
            if not self.network:
                return "ask", (f"`{net}` may reach the network, and --sandbox local does not "
                               f"isolate it; allow it with --allowed-tools or pass --network")
            if can_ask:
                return "ask", f"`{net}` uses the network"
        if not self.sandboxed and can_ask:
            return "ask", "shell runs on this machine without isolation (--sandbox local)"
        return "allow", "default"


def is_network_command(part: str) -> bool:
    """Does this simple command look like it reaches the network? (Env prefixes skipped.)"""
    words = part.split()
    while words and "=" in words[0] and not words[0].startswith("="):
        words.pop(0)
    if words[:1] in (["sudo"], ["env"], ["command"], ["exec"]):
        words.pop(0)
    text = " ".join(words)
    return any(fnmatch.fnmatchcase(text, pat) for pat in NETWORK_COMMANDS)


# Programs whose first argument is a subcommand worth keeping in a generalised rule.
_SUBCOMMAND_PROGRAMS = {"git", "npm", "pnpm", "yarn", "cargo", "go", "docker", "uv", "poetry",
                        "pip", "pip3", "make", "kubectl", "dotnet", "mvn", "gradle", "bundle"}
# Programs an "always allow" must never widen: the rule is the exact command.
_EXACT_PROGRAMS = {"rm", "sudo", "curl", "wget", "dd", "chmod", "chown", "mv", "ssh", "scp",
                   "eval", "bash", "sh", "zsh", "python", "python3", "node", "perl", "ruby"}
_FILE_TOOLS = {"edit_file", "write_file", "read_file", "list_files"}


def generalise(tool: str, args: Mapping[str, Any]) -> list[str]:
    """The rules an "always allow" of this call saves (one per simple shell command).

    `shell` `npm test -- -x` -> ["shell(npm test*)"]; `pytest -q a.py && ls` ->
    ["shell(pytest*)", "shell(ls*)"]; risky programs (rm, curl, interpreters, …) are
    kept exact. File tools -> the file's folder: `edit_file(src/pkg/*)`. `git` -> its
    subcommand: `git(status*)`. Anything else -> the bare tool name.
    """
    if tool == "shell":
        rules = []
        for part in split_compound(key_value(tool, args)):
            words = part.split()
            prog = words[0].rsplit("/", 1)[-1] if words else ""
            if not words or prog in _EXACT_PROGRAMS or "=" in words[0] or "$" in part or "`" in part:
                pattern = _escape(part)
            elif prog in _SUBCOMMAND_PROGRAMS and len(words) > 1 and not words[1].startswith("-"):
                pattern = f"{_escape(words[0])} {_escape(words[1])}*"
            else:
                pattern = f"{_escape(words[0])}*"
            rule = f"shell({pattern})"
            if rule not in rules:
                rules.append(rule)
        return rules
    if tool in _FILE_TOOLS and args.get("path"):
        folder = str(args["path"]).rsplit("/", 1)[0] if "/" in str(args["path"]) else ""
        return [f"{tool}({_escape(folder)}/*)" if folder else f"{tool}(*)"]
    if tool == "git":
        first = key_value(tool, args).split()[:1]
        return [f"git({_escape(first[0])}*)"] if first else ["git"]
    return [tool]


def _escape(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
