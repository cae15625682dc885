"""The `ama` command line.

    ama -p TASK [options]          one headless run (TASK "-" reads stdin)
    ama exec TASK [options]        the same
    ama sandbox build|doctor       the sandbox image and backend
    ama [TASK]                     the interactive REPL
    ama review                     review the change set a session left pending
    ama mcp list|get|add|remove    the MCP servers of the user config

Kept light at start-up: provider SDKs, docker, git and the tools are imported
only when a run needs them.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from agent.cli.fail import fail, say
from agent.core.errors import AmaError, BadInput, RuntimeFailure

SUBCOMMANDS = {   # name -> the line `ama --help` shows for it
    "review": "review, hunk by hunk, the changes a session left pending",
    "sessions": "list, show and remove sessions (logs and scratch workspaces)",
    "config": "show the merged configuration and where each value comes from",
    "mcp": "MCP servers: list, add, remove, approve their tools; serve ama as one",
    "init": "have the model write a first AGENTS.md for this repository",
    "sandbox": "build the sandbox image; say which backend a run uses and why",
    "serve": "serve a local checkpoint over an OpenAI-compatible API",
    "schema": "print a JSON Schema shipped with ama (the result object)",
    "acp": "serve the Agent Client Protocol on stdio, for editors (Zed, JetBrains, Neovim)",
    "batch": "run many tasks (SWE-bench style): predictions, logs, rollouts; local or Ray",
}
EPILOG = "\b\nCommands (ama COMMAND --help):\n" + "\n".join(
    f"  {name:<10}{line}" for name, line in SUBCOMMANDS.items())

app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})
main_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                       context_settings={"help_option_names": ["-h", "--help"]})
sandbox_app = typer.Typer(rich_markup_mode=None, help="Build the sandbox image; see which backend is used and why.")
app.add_typer(sandbox_app, name="sandbox")
from agent.cli.config_cmd import config_app  # noqa: E402  (light: typer only)
from agent.cli.mcp_cmd import mcp_app  # noqa: E402
from agent.cli.sessions_cmd import init_command, sessions_app  # noqa: E402
from agent.cli.acp_cmd import ACP_HELP, acp_command  # noqa: E402
app.add_typer(config_app, name="config")
app.add_typer(mcp_app, name="mcp")
app.add_typer(sessions_app, name="sessions")
from agent.cli.batch_cmd import HELP as BATCH_HELP, batch_command  # noqa: E402
app.command("batch", help=BATCH_HELP)(batch_command)
app.command("init", help="Look at the repository and write a first AGENTS.md (asks the "
                         "model; the file is yours to edit).")(init_command)
app.command("acp", help=ACP_HELP)(acp_command)


_MODEL = typer.Option(None, "--model", "-m", help="PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5, "
                      "openai:gpt-5.2, openai-compat:NAME@URL, local:PATH, script:FILE.jsonl. Env: AMA_MODEL.")
_CWD = typer.Option(None, "--cwd", "-C", help="The repository or folder to work on (default: here).")
_MAX_TURNS = typer.Option(None, "--max-turns", help="Stop after this many model turns (exit 3; default 50).")
_MAX_COST = typer.Option(None, "--max-cost", help="Stop once the session cost reaches USD (exit 3).")
_MAX_TIME = typer.Option(None, "--max-time", help="Stop after this many seconds (exit 3).")
_FORMAT = typer.Option("text", "--output-format", help="text (the answer) | json (the result "
                       "object) | stream-json (Claude Code's messages, a line each) | ama-events "
                       "(ama's events, a line each, the result object last)")
_INPUT_FORMAT = typer.Option("text", "--input-format", help="text (the TASK) | stream-json (user "
                             "messages as JSON lines on stdin, each a turn of one session)")
_APPLY = typer.Option(None, "--apply", help="patch (report only; default) | tree | commit | branch:NAME")
_PATCH_OUT = typer.Option(None, "--patch-out", help="With --apply patch: write the diff to this file.")
_SANDBOX = typer.Option(None, "--sandbox", help="docker | bwrap | local (no isolation). Default: "
                        "docker if the engine answers, else bwrap.")
_IMAGE = typer.Option(None, "--sandbox-image", help="Docker image for the sandbox.")
_NETWORK = typer.Option(None, "--network/--no-network", help="Allow network access inside the sandbox.")
_ALLOWED = typer.Option([], "--allowed-tools", help="Permission rule TOOL or TOOL(PATTERN); repeatable.")
_DISALLOWED = typer.Option([], "--disallowed-tools", help="Deny rule TOOL or TOOL(PATTERN); repeatable.")
_PERM_MODE = typer.Option(None, "--permission-mode", help="default | plan (read-only) | bypass")
_KEEP = typer.Option(False, "--keep-workspace", help="Keep the scratch copy after the run.")
_VERIFY = typer.Option(None, "--verify", help="A command that must pass in the sandbox for the "
                       "run to be done; its failures go back to the model (exit 5 if it never passes).")
_MAX_VERIFY = typer.Option(None, "--max-verify", help="How many times --verify may run (default 3).")
_TASK_FILE = typer.Option(None, "--task-file", help="Read the task from this file ('-': stdin), "
                          "e.g. an issue body.")
_UNTRUSTED = typer.Option(False, "--untrusted", help="The task comes from an untrusted source: it "
                          "is marked as data, the run gets no network, cannot widen its "
                          "permissions or change .ama/ or CI files, and only proposes a change "
                          "set (--apply patch or branch:NAME; needs docker or bwrap).")
_ATTEMPTS = typer.Option(1, "--attempts", help="Run N independent attempts, each in its own "
                         "workspace and sandbox; the best passing one is chosen.")
_PARALLEL = typer.Option(None, "--parallel", help="With --attempts: how many run at once "
                         "(default: all).")
_SELECT = typer.Option("smallest", "--select", help="With --attempts: which passing attempt wins: "
                       "smallest (change set) | first (to pass; stops the others).")
_AUTHOR = typer.Option(None, "--author", help="\"Name <email>\": author and committer of the "
                       "commit made by --apply commit or branch:NAME.")


@main_app.command(help="ama: a coding agent you talk to in plain English. `ama` opens the "
                       "REPL; `ama -p TASK` (or `ama exec TASK`) runs one task headless.",
                  epilog=EPILOG)
def main_command(
    task: Optional[str] = typer.Argument(None, help="What to do. '-' reads it from stdin."),
    print_mode: bool = typer.Option(False, "--print", "-p", help="Run headless: no prompts, "
                                    "progress on stderr, result on stdout."),
    model: Optional[str] = _MODEL, cwd: Optional[Path] = _CWD, max_turns: int = _MAX_TURNS,
    max_cost: Optional[float] = _MAX_COST, max_time: Optional[float] = _MAX_TIME,
    output_format: str = _FORMAT, input_format: str = _INPUT_FORMAT, apply: str = _APPLY,
    patch_out: Optional[Path] = _PATCH_OUT,
    sandbox: Optional[str] = _SANDBOX, sandbox_image: Optional[str] = _IMAGE,
    network: bool = _NETWORK, allowed_tools: List[str] = _ALLOWED,
    disallowed_tools: List[str] = _DISALLOWED, permission_mode: str = _PERM_MODE,
    keep_workspace: bool = _KEEP, verify: Optional[str] = _VERIFY, max_verify: int = _MAX_VERIFY,
    task_file: Optional[Path] = _TASK_FILE, untrusted: bool = _UNTRUSTED,
    attempts: int = _ATTEMPTS, parallel: Optional[int] = _PARALLEL, select: str = _SELECT,
    author: Optional[str] = _AUTHOR,
    auto_accept: bool = typer.Option(False, "--auto-accept", help="REPL: apply each turn's "
                                     "changes without review (Shift-Tab switches modes)."),
    trust: bool = typer.Option(False, "--trust", help="Trust this repository's own files "
                               "(.ama/config.toml, AGENTS.md, hooks); asked again if they change."),
    config: List[str] = typer.Option([], "--config", help="An extra config file (TOML), or "
                                     "KEY=VALUE (e.g. max_turns=10); repeatable."),
    continue_: bool = typer.Option(False, "--continue", "-c", help="Continue the latest "
                                   "session in this repository."),
    resume: Optional[str] = typer.Option(None, "--resume", "-r", help="Continue session ID "
                                         "(`ama sessions list`); without ID: the latest."),
) -> None:
    from agent.session.settle import Flags
    flags = Flags(task=task or "", task_file=task_file, model=model, cwd=cwd, max_turns=max_turns,
                  max_cost=max_cost, max_time=max_time, output_format=output_format,
                  input_format=input_format, apply=apply,
                  patch_out=patch_out, sandbox=sandbox, sandbox_image=sandbox_image,
                  network=network, allowed_tools=tuple(allowed_tools),
                  disallowed_tools=tuple(disallowed_tools), permission_mode=permission_mode,
                  keep_workspace=keep_workspace, verify=verify, max_verify=max_verify,
                  untrusted=untrusted, attempts=attempts, parallel=parallel, select=select,
                  author=author, trust=trust, config=tuple(config), continue_=continue_,
                  resume=resume)
    if print_mode or not sys.stdin.isatty():
        _run_headless(flags)
    if untrusted or attempts != 1:  # never quietly dropped: they change what a run may do
        fail(BadInput("--untrusted and --attempts work with `ama -p` (headless) only"))
    if input_format != "text":
        fail(BadInput("--input-format stream-json works with `ama -p` (headless) only"))
    _run_repl(flags, auto_accept)


def _run_headless(flags) -> None:
    from agent.headless.run import run_headless
    from agent.session.settle import settle
    try:
        options, request = settle(flags, headless=True)
        code = run_headless(options, request)
    except AmaError as e:
        fail(e)
    raise typer.Exit(code)


def _run_repl(flags, auto_accept: bool) -> None:
    from agent.repl.app import run_repl   # prompt-toolkit and rich load only here
    from agent.session.options import Mode
    from agent.session.settle import settle
    try:
        options, _ = settle(flags, headless=False, ask=terminal_ask)
        code = run_repl(options, flags.task or None,
                        mode=Mode.AUTO_ACCEPT if auto_accept else Mode.REVIEW)
    except AmaError as e:
        fail(e)
    raise typer.Exit(code)


def terminal_ask(check) -> bool:
    """The start-up trust question on a terminal (stderr), default no."""
    if not sys.stdin.isatty():
        return False
    return typer.confirm(check.describe(), default=False, err=True)


@sandbox_app.command("doctor", help="Say which sandbox backend will be used, why, and what is "
                                    "missing. Exits 1 when a default run would refuse to start.")
def sandbox_doctor(image: Optional[str] = _IMAGE) -> None:
    from tools.sandbox.select import doctor
    report = doctor(image)
    typer.echo(report.render())
    raise typer.Exit(0 if report.backend else 1)


@sandbox_app.command("build", help="Build the default sandbox image: from a Dockerfile where a "
                                   "base image is at hand, else offline from a debootstrap root.")
def sandbox_build(
    image: str = typer.Option("amanuensis-sandbox", "--image", help="Image name."),
    method: str = typer.Option("auto", "--method", help="auto | dockerfile | debootstrap"),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists."),
) -> None:
    from tools.sandbox.image import ImageBuildError, build_image
    try:
        result = build_image(image, method=method, force=force,
                             log=lambda line: typer.echo(line, err=True))
    except ImageBuildError as e:
        fail(RuntimeFailure(f"could not build {image}: {e}"))
    typer.echo(result.render())


@app.command("schema", help="Print a JSON Schema shipped with ama: `ama schema result` is the "
                             "result object of `--output-format json`, `ama schema stream-json` "
                             "a line of `--output-format stream-json`.")
def schema_command(name: str = typer.Argument("result", help="result | stream-json")) -> None:
    from agent.schemas import NAMES, schema_text
    if name not in NAMES:
        fail(BadInput(f"no schema {name!r}; choose one of {', '.join(NAMES)}"))
    typer.echo(schema_text(name), nl=False)


@app.command("review", help="Reopen the pending change set of the last session in this repo "
                             "(e.g. a headless run with --apply patch) and review it hunk by hunk.")
def review_command_cli(cwd: Optional[Path] = _CWD,
               show: bool = typer.Option(False, "--show", help="Only print the pending diff."),
               accept_all: bool = typer.Option(False, "--accept-all", help="Apply all of it "
                                               "without asking.")) -> None:
    from agent.repl.review import review_command
    try:
        raise typer.Exit(review_command(cwd or Path.cwd(), show_only=show, accept_all=accept_all))
    except AmaError as e:
        fail(e)


@app.command("serve", help="Serve a local DeepSeek-V2/V3-family checkpoint over an "
                           "OpenAI-compatible API (/v1/chat/completions); point any OpenAI "
                           "client, or --model openai-compat:NAME@http://HOST:PORT/v1, at it.")
def serve_command(
    model: Path = typer.Option(..., "--model", help="Checkpoint folder (config.json, "
                               "*.safetensors, tokenizer.json)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32 | bfloat16 (default: "
                                        "float32 on cpu, bfloat16 elsewhere)"),
    max_batch: int = typer.Option(8, "--max-batch", help="Sequences decoded together."),
    max_len: int = typer.Option(8192, "--max-len", help="Tokens per sequence, prompt + completion."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="int8 | int4: weight-only "
                                           "quantization at load (int8 per output channel, int4 in "
                                           "groups of 128); embeddings, norms, routers stay in --dtype."),
) -> None:
    from agent.models.local import serve   # torch loads only here
    argv = ["--model", str(model), "--host", host, "--port", str(port), "--device", device,
            "--max-batch", str(max_batch), "--max-len", str(max_len)] + (["--dtype", dtype] if dtype else [])
    raise typer.Exit(serve(argv + (["--quantize", quantize] if quantize else [])))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    target = main_app
    if argv and argv[0] == "exec":       # `ama exec TASK` is `ama -p TASK`
        argv = ["--print", *argv[1:]]
    elif argv and argv[0] == "help":
        argv = ["--help"]
    elif argv and argv[0] in SUBCOMMANDS:
        target = app
    for flag in ("--resume", "-r"):  # `--resume` without an ID: the latest session
        if flag in argv and (argv.index(flag) + 1 == len(argv) or argv[argv.index(flag) + 1][:1] == "-"):
            argv = [*argv[:argv.index(flag)], "--resume=", *argv[argv.index(flag) + 1:]]
    try:
        target(args=argv, prog_name="ama")
    except AmaError as e:   # from a command that did not catch it (e.g. AMA_HOME unwritable)
        say(e)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
