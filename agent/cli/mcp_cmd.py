"""`ama mcp list|get|add|remove`: the MCP servers of the user's config (and, read only,
of a trusted repository). Edits go to the user config file alone, comments kept.
`ama mcp serve`: ama itself as an MCP server (agent/headless/mcp_serve.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from agent.cli.fail import fail
from agent.core.errors import AmaError, BadInput

mcp_app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                      help="List, show, add and remove MCP servers (the user config); "
                           "`ama mcp serve` serves ama itself as one.")
_CWD = typer.Option(None, "--cwd", "-C", help="The repository whose servers are shown too "
                    "(default: here; read only once it is trusted).")


def _servers(cwd: Optional[Path]) -> dict:
    from agent.config.load import load_config
    from agent.config.mcp import server_tables
    from agent.config.trust import check_trust, project_root
    here = Path(cwd or Path.cwd())
    root = project_root(here)
    return server_tables(load_config(root, trusted=check_trust(root, here).trusted))


@mcp_app.command("list", help="Every MCP server: how it connects, where it is defined, and "
                              "whether this build starts it.")
def mcp_list(cwd: Optional[Path] = _CWD) -> None:
    from agent.config.mcp import source_of, where_it_runs
    try:
        servers = _servers(cwd)
    except AmaError as e:
        fail(e)
    if not servers:
        typer.echo("no MCP servers; add one with `ama mcp add NAME -- COMMAND ARGS...` "
                   "or `ama mcp add NAME --url URL`")
        return
    for name, t in servers.items():
        target = t.get("url") or " ".join([t.get("command") or "", *t.get("args", [])])
        typer.echo(f"{name:<16} {'http' if t.get('url') else 'stdio':<6} {target}")
        typer.echo(f"{'':<16} {where_it_runs(t)}; from {source_of(t)}")


@mcp_app.command("get", help="One MCP server's settings, each with where it comes from.")
def mcp_get(name: str = typer.Argument(..., help="The server's name."),
            cwd: Optional[Path] = _CWD) -> None:
    from agent.config.load import shown_value
    from agent.config.mcp import where_it_runs
    try:
        servers = _servers(cwd)
        if name not in servers:
            raise BadInput(f"no MCP server {name!r}; `ama mcp list` shows them")
    except AmaError as e:
        fail(e)
    t = servers[name]
    typer.echo(f"{name}: {where_it_runs(t)}")
    for key, value in t.items():
        if key == "_sources":
            continue
        value = shown_value(f"mcp_servers.{name}.{key}", value)   # tokens: names only
        typer.echo(f"  {key} = {json.dumps(value, ensure_ascii=False)}    # {t['_sources'][key]}")


@mcp_app.command("add", help="Add a server to the user config: `ama mcp add NAME -- COMMAND "
                             "ARGS...` (stdio) or `ama mcp add NAME --url URL` (HTTP).")
def mcp_add(
    name: str = typer.Argument(..., help="The server's name: letters, digits, _ and -."),
    command: Optional[List[str]] = typer.Argument(None, help="After `--`: the command and "
                                                   "its arguments."),
    url: Optional[str] = typer.Option(None, "--url", help="A streamable HTTP server's URL."),
    header: List[str] = typer.Option([], "--header", help="K=V, an HTTP header; repeatable."),
    env: List[str] = typer.Option([], "--env", "-e", help="K=V, for a stdio server; repeatable."),
    bearer_token_env: Optional[str] = typer.Option(None, "--bearer-token-env", help="HTTP: send "
                                                   "this variable's value as a Bearer token."),
    required: bool = typer.Option(False, "--required", help="A run stops (exit 2) if it does "
                                  "not connect."),
    startup_timeout: Optional[float] = typer.Option(None, "--startup-timeout", help="Seconds "
                                                    "it has to start (default 10)."),
    tool_timeout: Optional[float] = typer.Option(None, "--tool-timeout", help="Seconds one "
                                                 "tool call may take (default 60)."),
    enable_tool: List[str] = typer.Option([], "--enable-tool", help="Offer only this tool "
                                          "(its name on the server); repeatable."),
    disable_tool: List[str] = typer.Option([], "--disable-tool", help="Never offer this tool; "
                                           "repeatable."),
    sandbox: bool = typer.Option(False, "--sandbox", help="stdio: run it in the session's "
                                 "sandbox, not on this machine (sandbox = true)."),
    disabled: bool = typer.Option(False, "--disabled", help="Define it but do not start it "
                                  "(enabled = false)."),
) -> None:
    from agent.config.edit import set_table
    from agent.config.load import user_config_path
    from agent.config.mcp import NAME
    try:
        if not NAME.match(name):
            raise BadInput(f"MCP server name {name!r}: use letters, digits, _ and -")
        if bool(command) == bool(url):
            raise BadInput("give either `-- COMMAND ARGS...` (stdio) or --url URL (HTTP), "
                           f"not {'both' if url else 'neither'}")
        _check_transport_flags(bool(url), {"--env": env, "--sandbox": sandbox},
                               {"--header": header, "--bearer-token-env": bearer_token_env})
        values: dict = {"url": url} if url else {"command": command[0], "args": command[1:]}
        for flag, items, key in (("--header", header, "headers"), ("--env", env, "env")):
            if items:
                values[key] = _pairs(flag, items)
        if bearer_token_env:
            values["bearer_token_env"] = bearer_token_env
        for flag, seconds, key in (("--startup-timeout", startup_timeout, "startup_timeout"),
                                   ("--tool-timeout", tool_timeout, "tool_timeout")):
            if seconds is not None:
                values[key] = _seconds(flag, seconds)
        if enable_tool:
            values["enabled_tools"] = _tool_names("--enable-tool", enable_tool)
        if disable_tool:
            values["disabled_tools"] = _tool_names("--disable-tool", disable_tool)
        if both := sorted(set(enable_tool) & set(disable_tool)):
            raise BadInput(f"{', '.join(both)}: given to both --enable-tool and --disable-tool; "
                           f"keep one")
        for flag, key, value in ((required, "required", True), (sandbox, "sandbox", True),
                                 (disabled, "enabled", False)):
            if flag:
                values[key] = value
        path = user_config_path()
        set_table(path, "mcp_servers", name, values)
    except AmaError as e:
        fail(e)
    typer.echo(f"added MCP server {name} to {path}")


@mcp_app.command("serve", help="Serve ama as an MCP server on stdin/stdout. Its one tool, "
                               "ama_run, runs a task as `ama -p` does (its own scratch copy and "
                               "sandbox; by default it only proposes a diff) and returns the "
                               "result object.")
def mcp_serve(
    cwd: Optional[Path] = typer.Option(None, "--cwd", "-C", help="The folder a call works on "
                                       "when it names none (default: here)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="The model of a call that "
                                        "names none (default: your config's)."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="docker | bwrap | local: the "
                                          "sandbox of a call that names none."),
    untrusted: bool = typer.Option(False, "--untrusted", help="Run every task as `ama -p "
                                   "--untrusted` (task text from someone other than you)."),
    config: List[str] = typer.Option([], "--config", help="An extra config file (TOML), or "
                                     "KEY=VALUE, for every run; repeatable."),
) -> None:
    try:
        from agent.headless.mcp_serve import ServeOptions, serve   # imports pydantic; mcp at serve()
        options = ServeOptions(cwd=cwd or Path.cwd(), model=model, sandbox=sandbox,
                               untrusted=untrusted, config=tuple(config))
    except AmaError as e:
        fail(e)
    try:
        serve(options)
    except ImportError as e:
        fail(BadInput(f"`ama mcp serve` needs the MCP SDK ({e}); pip install 'mcp>=2'"))
    except KeyboardInterrupt:
        raise typer.Exit(130)


@mcp_app.command("remove", help="Remove a server from the user config.")
def mcp_remove(name: str = typer.Argument(..., help="The server's name.")) -> None:
    from agent.config.edit import remove_table
    from agent.config.load import user_config_path
    path = user_config_path()
    try:
        if not remove_table(path, "mcp_servers", name):
            raise BadInput(f"no MCP server {name!r} in {path} (a repository's servers are "
                           f"edited in its own files)")
    except AmaError as e:
        fail(e)
    typer.echo(f"removed MCP server {name} from {path}")


def _check_transport_flags(http: bool, stdio_only: dict, http_only: dict) -> None:
    """BadInput naming the flags given that the server's transport does not take."""
    wrong = [flag for flag, value in (stdio_only if http else http_only).items() if value]
    if wrong:
        kind, other = ("stdio", "this one has --url") if http else ("HTTP", "this one is stdio")
        raise BadInput(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} for {kind} "
                       f"servers only ({other}); leave {'it' if len(wrong) == 1 else 'them'} out")


def _seconds(flag: str, value: float) -> float:
    from agent.config.schema import RANGES
    ok, wanted = RANGES["positive"]
    if not ok(value) or value == float("inf"):
        raise BadInput(f"{flag} must be a number of seconds {wanted}, not {value}")
    return value


def _tool_names(flag: str, names: list[str]) -> list[str]:
    """The tool names as given, each once; BadInput for an empty one."""
    if any(not n.strip() for n in names):
        raise BadInput(f"{flag}: a tool name cannot be empty")
    return list(dict.fromkeys(n.strip() for n in names))


def _pairs(flag: str, items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"{flag} {item!r}: write KEY=VALUE")
        out[key.strip()] = value
    return out


# ---- ama mcp approve: re-pin a server's tools ----------------------------------------

DESCRIPTION_SHOWN = 1500   # characters of a tool's description shown for review


@mcp_app.command("approve", help="Show an MCP server's tools that changed since they were "
                                 "pinned, or are new, and pin them as they are now, so that "
                                 "sessions offer them again.")
def mcp_approve(
    name: str = typer.Argument(..., help="The server's name."),
    cwd: Optional[Path] = typer.Option(None, "--cwd", "-C", help="The repository that defines "
                                       "the server, for a repository's own (default: here)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve without asking."),
) -> None:
    import sys

    from agent.config.mcp_pins import approve_pins, compare_pins, store_path
    try:
        root, spec = _startable(name, cwd)
        status, tools = _connect_once(spec, root)
        check = compare_pins(root, spec, status.pins)
    except AmaError as e:
        fail(e)
    if not check.pinned and not check.withheld:
        typer.echo(f"nothing to approve: the {_count(status.pins)} of MCP server {name} are "
                   f"as they were pinned")
        return
    if check.pinned:
        why = "has no pins yet" if check.pinned == "first" else "changed its definition"
        typer.echo(f"MCP server {name} {why}; its tools as it lists them now:")
        shown = [("", tool) for tool in sorted(status.pins)]
    else:
        typer.echo(f"MCP server {name}: tools that are not as you approved them:")
        shown = [("changed", t) for t in check.changed] + [("new", t) for t in check.new]
    for kind, tool in shown:
        typer.echo(_described(kind, tool, tools.get(tool)))
    if not yes and not sys.stdin.isatty():
        fail(BadInput("not approved: review them in a terminal, or add --yes"))
    if not yes and not typer.confirm("Approve them?", default=False):
        typer.echo("not approved; sessions go on withholding them")
        raise typer.Exit(1)
    try:
        approve_pins(root, spec, status.pins)
    except AmaError as e:
        fail(e)
    typer.echo(f"approved: pinned the {_count(status.pins)} of MCP server {name} in "
               f"{store_path()}; sessions offer them again")


def _count(tools) -> str:
    return f"{len(tools)} tool{'' if len(tools) == 1 else 's'}"


def _startable(name: str, cwd: Optional[Path]):
    """(project root, ServerSpec) of the server `name` as a session here would start it;
    BadInput when there is none or it is not started outside a session."""
    from agent.config.load import load_config
    from agent.config.mcp import server_specs
    from agent.config.trust import check_trust, project_root
    here = Path(cwd or Path.cwd())
    root = project_root(here)
    plan = server_specs(load_config(root, trusted=check_trust(root, here).trusted))
    for spec, why in plan.refused:
        if spec.name == name:
            raise BadInput(f"MCP server {name} is not started here, so its tools cannot be "
                           f"reviewed: {why}")
    for spec in plan.start:
        if spec.name == name:
            return root, spec
    raise BadInput(f"no enabled MCP server {name!r} in {root}; `ama mcp list` shows them (a "
                   f"repository's own servers count once you trust it)")


def _connect_once(spec, root: Path):
    """Connect to `spec` as a session would (a sandboxed one in a sandbox over a scratch
    copy of `root`), list its tools, and end it: (ServerStatus, server-side name -> the
    McpTool it offers)."""
    from contextlib import ExitStack
    try:
        from tools.mcp.hub import McpHub
    except ImportError as e:
        raise BadInput(f"the MCP client cannot load ({e}); pip install 'mcp>=2'") from None
    with ExitStack() as stack:
        if spec.sandboxed:   # as a session starts it: in a sandbox over a scratch copy
            spec = _in_a_sandbox(spec, root, stack)
        hub = stack.enter_context(McpHub.start([spec]))
        status = hub.statuses[0]
        tools = {t.remote_name: t for t in hub.tools}
    if status.status != "connected":
        raise BadInput(f"could not connect to MCP server {spec.name} ({status.status}: "
                       f"{status.error}); nothing was approved")
    return status, tools


def _in_a_sandbox(spec, root: Path, stack):
    """`spec` launched in a new default sandbox (the config's `sandbox`, else docker, else
    bwrap) over a scratch copy of `root`; both go when `stack` closes."""
    import os
    import tempfile

    from agent.config.load import load_config
    from agent.session.open import launch_in
    from tools.sandbox.errors import SandboxUnavailable
    from tools.sandbox.select import open_sandbox
    from tools.workspace.scratch import Workspace
    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="ama-mcp-approve-"))
    ws = Workspace.create(root, Path(scratch) / "ws")
    stack.callback(ws.cleanup)
    from agent.config.trust import check_trust
    cfg = load_config(root, trusted=check_trust(root).trusted)
    kind = cfg.get("sandbox") or os.environ.get("AMA_SANDBOX")
    try:
        sandbox = open_sandbox(kind, ws.tree, readonly_mounts=ws.readonly_mounts)
        stack.callback(sandbox.close)
        return launch_in(sandbox, spec)
    except SandboxUnavailable as e:
        raise BadInput(f"MCP server {spec.name} runs only in a sandbox: {e}") from None


def _described(kind: str, tool: str, offered) -> str:
    """A tool for review: its name, what it says of itself, its arguments."""
    head = f"  {kind + ': ' if kind else ''}{tool}"
    if offered is None:
        return f"{head}  (not offered to the model: enabled_tools, disabled_tools or a name clash)"
    if offered.read_only:
        head += "  (says it is read-only)"
    text = offered.description
    if len(text) > DESCRIPTION_SHOWN:
        text = f"{text[:DESCRIPTION_SHOWN]}… ({len(text) - DESCRIPTION_SHOWN} more characters)"
    args = ", ".join(offered.params.input_schema.get("properties", {})) or "none"
    body = "\n".join(f"      {line}" for line in text.splitlines() or [""])
    return f"{head}\n{body}\n      arguments: {args}"
