"""`ama mcp serve`: ama as an MCP server on stdin/stdout, so that another agent (Claude
Code, Codex, a program using the `mcp` SDK) can hand it a task.

It offers one tool, `ama_run`. Each call is one `ama -p` run in a child process
(`python -P -m agent -p - --output-format ama-events ...`, the task on its stdin): its
own scratch workspace, sandbox and session log, and everything `ama -p` does between
flags and result (settle → open_session → run_session → --apply, agent/headless/run.py),
with the same defaults: `--apply patch` unless the user's config sets `apply`, so the
user's tree is left alone and the diff comes back. The call returns the result object
(`ama schema result`, plus `exit_code`) as structuredContent and as JSON text, with
`isError` set when the run did not succeed.

Why a child process rather than a session in this one: stdout is the MCP channel, and a
child writes to a pipe of its own, so nothing a run prints can reach the channel; a call
the client cancels (or a client that goes away) becomes a SIGTERM, which the headless
run treats as Ctrl-C: it stops, removes its sandbox and workspace, and applies nothing;
calls running at once share no signal handlers or process state; and a run that crashes
cannot take the server down. The run's progress lines go to this server's stderr, and
each tool call it makes becomes a progress notification when the caller asked for them.

Whose task it is: the caller is the user's own agent, so a task is treated as `ama -p`
treats one typed by the user. `ama mcp serve --untrusted`, or `untrusted: true` in a
call, runs it with `--untrusted` instead (a task quoted from an issue or a comment). The
server never grants trust: a repository's own config, memory files and MCP servers count
only if the user trusted the repository before.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.core.errors import BadInput, RuntimeFailure
from agent.session.options import existing_dir
from agent.session.result import not_started
from tools.json_safe import MAX_CHARS, MAX_DEPTH, JSONTextError, loads as json_loads
from tools.sandbox.select import KINDS

TOOL = "ama_run"
STOP_GRACE = 30.0      # seconds a cancelled run has to stop and clean up before SIGKILL
STDERR_TAIL = 20       # stderr lines kept to explain a run that ended without a result
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]   # the folder `agent/` is in

DESCRIPTION = (
    "Delegate a coding task to ama, a sandboxed coding agent. It works in a scratch copy of "
    "the repository at `cwd` (every command in its sandbox: docker or bwrap), runs until it "
    "is done, a limit is reached or `verify` keeps failing, and returns its result object: "
    "subtype (success or error_*), exit_code, result (its final answer or what went wrong), "
    "changes (the files it changed and the unified diff), verification, applied. By default "
    "(apply: patch, unless the user's ama config says otherwise) nothing in the repository "
    "changes: the diff comes back for review. apply \"tree\" writes the change into the "
    "working tree, \"commit\" also commits it, \"branch:NAME\" commits it on a new branch "
    "and leaves the working tree alone. isError is set when the run did not succeed; the "
    "result object says why. A run can take minutes.")


class RunArgs(BaseModel):
    # The arguments of one `ama_run` call: its inputSchema, and their validation.
    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, description="What to do, in plain English, with what "
                      "you know: the goal, the files involved, how to check it.")
    cwd: str | None = Field(None, description="The repository (or a folder in it) to work on; "
                            "relative to the folder the server serves. Default: that folder.")
    model: str | None = Field(None, description="PROVIDER:MODEL, e.g. "
                              "anthropic:claude-sonnet-4-5. Default: the server's, else the "
                              "user's config.")
    sandbox: Literal[KINDS] | None = Field(  # type: ignore[valid-type]
        None, description="Where commands run. Default: the server's, else docker if the engine "
        "answers, else bwrap. local: on this machine, without isolation.")
    max_turns: int | None = Field(None, ge=1, description="Stop after this many model turns.")
    max_time: float | None = Field(None, gt=0, description="Stop after this many seconds.")
    verify: str | None = Field(None, min_length=1, description="A shell command that must pass "
                               "in the sandbox (e.g. `pytest -q`) for the task to be done; its "
                               "failures go back to ama.")
    apply: str | None = Field(None, pattern=r"^(patch|tree|commit|branch:\S+)$",
                              description="patch (report the diff only; the default) | tree | "
                              "commit | branch:NAME")
    untrusted: bool = Field(False, description="The task text comes from someone other than "
                            "the user (an issue, a comment): it is treated as data, the run gets "
                            "no network and only proposes a change set (apply patch or "
                            "branch:NAME; needs docker or bwrap).")


@dataclass(frozen=True)
class ServeOptions:
    """What `ama mcp serve` was started with.

    cwd:       the folder a call without `cwd` works on (and relative ones start from)
    model:     the model of a call that names none (None: the user's config decides)
    sandbox:   the sandbox of a call that names none (None: the config, else docker/bwrap)
    untrusted: run every task with --untrusted
    config:    --config FILE or KEY=VALUE, passed to every run
    """
    cwd: Path
    model: str | None = None
    sandbox: str | None = None
    untrusted: bool = False
    config: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cwd", existing_dir(self.cwd, "--cwd").resolve())
        if self.sandbox is not None and self.sandbox not in KINDS:
            raise BadInput(f"--sandbox {self.sandbox!r}: choose one of {', '.join(KINDS)}")
        if self.model is not None and not self.model.strip():
            raise BadInput("--model is empty; give PROVIDER:MODEL or leave it out")


def child_argv(args: RunArgs, opts: ServeOptions) -> list[str]:
    """The `ama -p` command line of one call (the task goes to its stdin). `-P`: the
    folder it starts in is not on its import path, so a package named `agent` there
    cannot stand in for ama. Values go as `--flag=value`, so one that starts with "-"
    stays a value."""
    cwd = opts.cwd / Path(args.cwd).expanduser() if args.cwd else opts.cwd
    argv = [sys.executable, "-P", "-m", "agent", "-p", "-", "--output-format", "ama-events",
            f"--cwd={cwd}"]
    for flag, value in (("--model", args.model or opts.model),
                        ("--sandbox", args.sandbox or opts.sandbox),
                        ("--max-turns", args.max_turns), ("--max-time", args.max_time),
                        ("--verify", args.verify), ("--apply", args.apply)):
        if value is not None:
            argv.append(f"{flag}={value}")
    if args.untrusted or opts.untrusted:
        argv.append("--untrusted")
    argv += [f"--config={c}" for c in opts.config]
    return argv


def child_env() -> dict[str, str]:
    """This process's environment; PYTHONPATH starts with the folder this `agent`
    package is in when that is not site-packages (a checkout run as `python -m agent`)."""
    env = dict(os.environ)
    if _PACKAGE_ROOT.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT),
                                                        env.get("PYTHONPATH")) if p)
    return env


def output_schema() -> dict[str, Any]:
    """The tool's outputSchema: the result object's schema, plus `exit_code`."""
    from agent.schemas import load_schema
    schema = load_schema("result")
    schema["properties"]["exit_code"] = {
        "type": "integer", "description": "What `ama -p` exits with: 0 success, 1 runtime "
        "failure, 2 bad input, 3 limit reached, 4 blocked by permissions, 5 verification "
        "failed, 130 interrupted."}
    schema["required"] = [*schema["required"], "exit_code"]
    return schema


# ---- one run ------------------------------------------------------------------------

Report = Callable[[dict[str, Any]], Awaitable[None]]


async def run_task(args: RunArgs, opts: ServeOptions, report: Report,
                   live: set | None = None) -> dict[str, Any]:
    """Run one task as a child `ama -p`; its result object with `exit_code`. Each event
    but the result goes to `report`; the child is in `live` while it runs. Cancelled, it
    stops the child (SIGTERM, then SIGKILL past STOP_GRACE) before the cancellation goes
    on."""
    import anyio
    live = set() if live is None else live
    # A session of its own: a signal to this server's process group (Ctrl-C, a client
    # stopping the server) reaches the run once, from `_stop`, not twice (which aborts).
    proc = await anyio.open_process(child_argv(args, opts), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=child_env(), start_new_session=True)
    live.add(proc)
    result: dict[str, Any] | None = None
    tail: deque[str] = deque(maxlen=STDERR_TAIL)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_feed, proc.stdin, args.task)
            tg.start_soon(_forward_stderr, proc.stderr, tail)
            async for line in _lines(proc.stdout):
                try:
                    event = _event(line)
                except JSONTextError:
                    continue
                if event.get("type") == "result":
                    result = event
                else:
                    await report(event)
        code = await proc.wait()
    finally:
        if proc.returncode is None:
            with anyio.CancelScope(shield=True):
                await _stop(proc)
        live.discard(proc)
    if result is not None:
        return {**result, "exit_code": code}
    return _no_result(code, tail, args.model or opts.model or "")


def _event(line: str) -> Any:
    """One line of the child's ama-events stream. ama wrote it, from values it bounded when it
    read them (tool arguments at most MAX_DEPTH deep), inside a few levels of its own;
    a line may be longer than any model output (a big patch), so length is not capped."""
    return json_loads(line, max_depth=MAX_DEPTH + 10, max_chars=max(MAX_CHARS, len(line)))


def _no_result(code: int, tail: deque[str], model: str) -> dict[str, Any]:
    """The result object of a run that ended before writing one (bad flags, a crash)."""
    if tail and tail[-1].startswith("ama: "):   # how every `ama` error ends (cli/fail.py)
        message = tail[-1][len("ama: "):]
    else:
        message = (f"ama exited with code {code} before writing its result"
                   + (f"; its stderr ends: {' | '.join(tail)}" if tail else ""))
    error = BadInput(message) if code == 2 else RuntimeFailure(message)
    return {**not_started("", model, error).to_dict(), "exit_code": error.exit_code}


async def _feed(stdin, task: str) -> None:
    import anyio
    try:
        await stdin.send(task.encode("utf-8"))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass   # it ended before reading the task: its stderr says why
    finally:
        await stdin.aclose()


async def _lines(stream) -> AsyncIterator[str]:
    """The lines of a byte stream, as text, without their newline. A long line (a big
    patch) is joined once, not rescanned for every chunk."""
    partial: list[bytes] = []
    async for chunk in stream:
        *ended, rest = chunk.split(b"\n")
        if ended:
            ended[0] = b"".join([*partial, ended[0]])
            for line in ended:
                yield line.decode("utf-8", errors="replace")
            partial = []
        partial.append(rest)
    if last := b"".join(partial):
        yield last.decode("utf-8", errors="replace")


async def _forward_stderr(stream, tail: deque[str]) -> None:
    """The run's progress lines, on to this server's stderr (never stdout: the channel)."""
    import anyio
    try:
        async for line in _lines(stream):
            tail.append(line)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


async def _stop(proc) -> None:
    """SIGTERM (the run stops as on Ctrl-C and cleans up), SIGKILL past STOP_GRACE. Its
    output is read meanwhile, so a full pipe cannot hold it up."""
    import anyio
    _terminate(proc)
    with anyio.move_on_after(STOP_GRACE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_drain, proc.stdout)
            tg.start_soon(_forward_stderr, proc.stderr, deque(maxlen=1))
            await proc.wait()
            tg.cancel_scope.cancel()
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def _terminate(proc) -> None:
    try:
        proc.terminate()
    except ProcessLookupError:
        pass


async def _drain(stream) -> None:
    import anyio
    try:
        async for _ in stream:
            pass
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


# ---- the server -----------------------------------------------------------------------

def build_server(opts: ServeOptions, live: set | None = None):
    """The MCP server (the SDK's low-level `Server`) with its one tool; the processes of
    the runs going on are in `live`."""
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from agent.ui.toolcalls import key_argument

    tool = types.Tool(name=TOOL, title="Run an ama task", description=DESCRIPTION,
                      input_schema=RunArgs.model_json_schema(), output_schema=output_schema(),
                      annotations=types.ToolAnnotations(read_only_hint=False,
                                                        open_world_hint=True))

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name != TOOL:
            return _error(types, f"no tool {params.name!r}: this server has {TOOL}")
        try:
            args = RunArgs.model_validate(params.arguments or {})
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'arguments'}: {x['msg']}"
                                 for x in e.errors())
            return _error(types, f"{TOOL}: {problems}")
        calls = 0

        async def report(event: dict[str, Any]) -> None:
            nonlocal calls
            if event.get("type") == "tool_call":
                calls += 1
                name = str(event.get("name", ""))
                line = f"{name} {key_argument(name, event.get('arguments') or {})}".strip()
                try:
                    await ctx.session.report_progress(calls, None, line[:200])
                except Exception:   # progress is a courtesy; the run goes on without it
                    pass

        record = await run_task(args, opts, report, live)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(record, ensure_ascii=False))],
            structured_content=record, is_error=bool(record["is_error"]))

    return Server("ama", version=_version(), on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions=f"{TOOL} runs a coding task in ama's sandbox and returns its "
                               f"result object; by default it only proposes a diff.")


def _error(types, message: str):
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                is_error=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("amanuensis")
    except PackageNotFoundError:
        return "0"


def serve(opts: ServeOptions) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin (the runs still going are
    cancelled) or a SIGTERM or SIGINT comes (they are stopped, then the server exits)."""
    import anyio
    from mcp.server.stdio import stdio_server

    live: set = set()
    server = build_server(opts, live)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_exit_on_signal, live)
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
            tg.cancel_scope.cancel()

    anyio.run(main)


async def _exit_on_signal(live: set) -> None:
    """On SIGTERM or SIGINT: stop every run (each cleans up), then exit 128 + the signal.
    The exit is `os._exit`: the transport's reader thread is blocked on stdin, which the
    client still holds open, and nothing can wake it."""
    import signal

    import anyio
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            break
    with anyio.CancelScope(shield=True):
        procs = list(live)
        for proc in procs:    # their calls still read their output: only signal and wait
            _terminate(proc)
        with anyio.move_on_after(STOP_GRACE):
            for proc in procs:
                await proc.wait()
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
    sys.stderr.flush()
    os._exit(128 + signum)
