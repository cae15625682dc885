"""The headless flags made for CI: `--task-file`, `--untrusted`, `--attempts`,
`--parallel`, `--select`, `--author`. Checked here (BadInput, exit 2) before a run
starts; `agent/attempts.py` and `agent/untrusted.py` do the work.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import BadInput

if TYPE_CHECKING:
    from agent.headless import RunOptions

TASK_FILE_LIMIT = 200_000   # characters; an issue body past this is not a task


def read_task(task: str, task_file: Path | None) -> str:
    """The task text: the TASK argument, or the file `--task-file` names ("-": stdin)."""
    if task_file is None:
        return task
    if task.strip():
        raise BadInput("give the task either as an argument or with --task-file, not both")
    if str(task_file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(task_file).expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise BadInput(f"--task-file {task_file}: {e.strerror or e}") from None
    if len(text) > TASK_FILE_LIMIT:
        raise BadInput(f"--task-file {task_file}: {len(text)} characters is more than the "
                       f"{TASK_FILE_LIMIT} a task may have")
    return text


def with_ci_options(opts: "RunOptions", *, untrusted: bool = False, attempts: int = 1,
                    parallel: int | None = None, select: str = "smallest",
                    author: str | None = None) -> "RunOptions":
    """`opts` with the CI flags checked and set (an untrusted run hardened)."""
    from agent.attempts import SELECT
    from tools.workspace.changeset import author_env

    if attempts < 1:
        raise BadInput("--attempts must be at least 1")
    if parallel is not None and parallel < 1:
        raise BadInput("--parallel must be at least 1")
    if attempts > 1 and getattr(opts, "resume", None):
        raise BadInput("--attempts cannot be combined with --continue or --resume: each "
                       "attempt starts a session of its own")
    if select not in SELECT:
        raise BadInput(f"--select {select!r}: choose one of {', '.join(SELECT)}")
    try:
        author_env(author)
    except ValueError as e:
        raise BadInput(str(e)) from None
    opts = dataclasses.replace(opts, attempts=attempts, parallel=parallel, select=select,
                               author=author, untrusted=untrusted)
    if untrusted:
        from agent.untrusted import harden
        opts = harden(opts)
    return opts
