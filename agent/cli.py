"""The `ama` command line.

    ama -p TASK [options]          one headless run (TASK "-" reads stdin)
    ama exec TASK [options]        the same
    ama sandbox build|doctor       the sandbox image and backend
    ama [TASK]                     the interactive REPL

Kept light at start-up: provider SDKs, docker, git and the tools are imported
only when a run needs them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from agent.errors import AmaError, BadInput

DEFAULT_MODEL = "anthropic:claude-sonnet-4-6"
SUBCOMMANDS = {"sandbox"}

app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})
main_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                       context_settings={"help_option_names": ["-h", "--help"]})
sandbox_app = typer.Typer(rich_markup_mode=None, help="Build the sandbox image; see which backend is used and why.")
app.add_typer(sandbox_app, name="sandbox")


def _run_options(task: str, model: Optional[str], cwd: Optional[Path], max_turns: int,
                 max_cost: Optional[float], max_time: Optional[float], output_format: str,
                 apply: str, patch_out: Optional[Path], sandbox: Optional[str],
                 sandbox_image: Optional[str], network: bool, allowed_tools: List[str],
                 disallowed_tools: List[str], permission_mode: str, keep_workspace: bool,
                 verify: Optional[str], max_verify: int):
    from agent.headless import OUTPUT_FORMATS, RunOptions, check_apply
    from agent.loop import Limits

    if output_format not in OUTPUT_FORMATS:
        raise BadInput(f"--output-format {output_format!r}: choose one of {', '.join(OUTPUT_FORMATS)}")
    if permission_mode not in ("default", "plan", "bypass"):
        raise BadInput(f"--permission-mode {permission_mode!r}: choose default, plan or bypass")
    if max_verify < 1:
        raise BadInput("--max-verify must be at least 1")
    if max_turns < 1:
        raise BadInput("--max-turns must be at least 1")
    if task == "-":
        task = sys.stdin.read()
    if not task.strip():
        raise BadInput("the task is empty; give it as an argument, or '-' to read stdin")
    return RunOptions(
        task=task, model=model or os.environ.get("AMA_MODEL") or DEFAULT_MODEL,
        cwd=cwd or Path.cwd(), output_format=output_format, apply=check_apply(apply),
        patch_out=patch_out, sandbox=sandbox, sandbox_image=sandbox_image, network=network,
        limits=Limits(max_turns=max_turns, max_seconds=max_time, max_cost_usd=max_cost),
        allowed_tools=tuple(allowed_tools), disallowed_tools=tuple(disallowed_tools),
        permission_mode=permission_mode, keep_workspace=keep_workspace, verify=verify,
        max_verify=max_verify)


def _headless(**kw) -> None:
    from agent.headless import run_headless
    try:
        opts = _run_options(**kw)
    except AmaError as e:
        _fail(e)
    raise typer.Exit(run_headless(opts))


def _fail(e: AmaError) -> None:
    typer.echo(f"ama: {e.message}", err=True)
    raise typer.Exit(e.exit_code)


_MODEL = typer.Option(None, "--model", "-m", help="PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5, "
                      "openai:gpt-5.2, openai-compat:NAME@URL, local:PATH, script:FILE.jsonl. Env: AMA_MODEL.")
_CWD = typer.Option(None, "--cwd", "-C", help="The repository or folder to work on (default: here).")
_MAX_TURNS = typer.Option(50, "--max-turns", help="Stop after this many model turns (exit 3).")
_MAX_COST = typer.Option(None, "--max-cost", help="Stop once the session cost reaches USD (exit 3).")
_MAX_TIME = typer.Option(None, "--max-time", help="Stop after this many seconds (exit 3).")
_FORMAT = typer.Option("text", "--output-format", help="text | json | stream-json")
_APPLY = typer.Option("patch", "--apply", help="patch (report only) | tree | commit | branch:NAME")
_PATCH_OUT = typer.Option(None, "--patch-out", help="With --apply patch: write the diff to this file.")
_SANDBOX = typer.Option(None, "--sandbox", help="docker | bwrap | local (no isolation). Default: "
                        "docker if the engine answers, else bwrap.")
_IMAGE = typer.Option(None, "--sandbox-image", help="Docker image for the sandbox.")
_NETWORK = typer.Option(False, "--network", help="Allow network access inside the sandbox.")
_ALLOWED = typer.Option([], "--allowed-tools", help="Permission rule TOOL or TOOL(PATTERN); repeatable.")
_DISALLOWED = typer.Option([], "--disallowed-tools", help="Deny rule TOOL or TOOL(PATTERN); repeatable.")
_PERM_MODE = typer.Option("default", "--permission-mode", help="default | plan (read-only) | bypass")
_KEEP = typer.Option(False, "--keep-workspace", help="Keep the scratch copy after the run.")
_VERIFY = typer.Option(None, "--verify", help="A command that must pass in the sandbox for the "
                       "run to be done; its failures go back to the model (exit 5 if it never passes).")
_MAX_VERIFY = typer.Option(3, "--max-verify", help="How many times --verify may run.")


@main_app.command(help="ama: a coding agent you talk to in plain English. "
                       "`ama -p TASK` (or `ama exec TASK`) runs one task headless; "
                       "`ama sandbox build|doctor` manages the sandbox.")
def main_command(
    task: Optional[str] = typer.Argument(None, help="What to do. '-' reads it from stdin."),
    print_mode: bool = typer.Option(False, "--print", "-p", help="Run headless: no prompts, "
                                    "progress on stderr, result on stdout."),
    model: Optional[str] = _MODEL, cwd: Optional[Path] = _CWD, max_turns: int = _MAX_TURNS,
    max_cost: Optional[float] = _MAX_COST, max_time: Optional[float] = _MAX_TIME,
    output_format: str = _FORMAT, apply: str = _APPLY, patch_out: Optional[Path] = _PATCH_OUT,
    sandbox: Optional[str] = _SANDBOX, sandbox_image: Optional[str] = _IMAGE,
    network: bool = _NETWORK, allowed_tools: List[str] = _ALLOWED,
    disallowed_tools: List[str] = _DISALLOWED, permission_mode: str = _PERM_MODE,
    keep_workspace: bool = _KEEP, verify: Optional[str] = _VERIFY, max_verify: int = _MAX_VERIFY,
) -> None:
    kw = dict(task=task or "", model=model, cwd=cwd, max_turns=max_turns, max_cost=max_cost,
              max_time=max_time, output_format=output_format, apply=apply, patch_out=patch_out,
              sandbox=sandbox, sandbox_image=sandbox_image, network=network,
              allowed_tools=allowed_tools, disallowed_tools=disallowed_tools,
              permission_mode=permission_mode, keep_workspace=keep_workspace, verify=verify,
              max_verify=max_verify)
    if print_mode or not sys.stdin.isatty():
        _headless(**kw)
    _fail(BadInput("the interactive REPL is not available yet; run a task headless with "
                   "`ama -p TASK` (see `ama --help`)"))


@sandbox_app.command("doctor", help="Say which sandbox backend will be used, why, and what is missing.")
def sandbox_doctor() -> None:
    from tools.sandbox.select import doctor
    report = doctor()
    typer.echo(report.render() if hasattr(report, "render") else str(report))


@sandbox_app.command("build", help="Build the default sandbox image (offline via debootstrap if needed).")
def sandbox_build(image: str = typer.Option("amanuensis-sandbox", "--image", help="Image name.")) -> None:
    from tools.sandbox.image import build_image
    try:
        build_image(image)
    except AmaError as e:
        _fail(e)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    target = main_app
    if argv and argv[0] == "exec":       # `ama exec TASK` is `ama -p TASK`
        argv = ["--print", *argv[1:]]
    elif argv and argv[0] == "help":
        argv = ["--help"]
    elif argv and argv[0] in SUBCOMMANDS:
        target = app
    target(args=argv, prog_name="ama")


if __name__ == "__main__":
    main()
