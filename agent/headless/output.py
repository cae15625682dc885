"""What a headless run hands over: the change set applied per `--apply` (or written to
`--patch-out`), and the result on stdout in the chosen format."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TextIO

from agent.core.errors import AmaError
from agent.session.apply import apply_change_set, write_patch
from agent.session.options import RunRequest
from agent.session.result import RunResult


def deliver(result: RunResult, request: RunRequest, user_root: Path) -> RunResult:
    """A run that succeeded with changes is applied per --apply; otherwise --patch-out
    still gets the diff, unless an untrusted run touched protected files. Returns the
    record with `applied` filled in (or failed, if applying did)."""
    from agent.headless.untrusted import protected_paths
    cs = result.change_set
    if cs is None:
        return result
    if not result.is_error and not cs.empty:
        try:
            applied = apply_change_set(cs, user_root, request.apply, patch_out=request.patch_out,
                                       message=result.result or request.task,
                                       author=request.author)
        except AmaError as e:
            return result.failed(e)
        return dataclasses.replace(result, applied=applied)
    if (request.apply == "patch" and request.patch_out is not None
            and not (request.untrusted and protected_paths(cs))):
        try:
            write_patch(cs, request.patch_out)
        except AmaError as e:   # the run's own error, if it had one, says more
            return result if result.is_error else result.failed(e)
    return result


def write_line(out: TextIO, obj: dict) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    out.flush()


def write_result(out: TextIO, fmt: str, result: dict) -> None:
    """The result object (json, stream-json), or the final answer (text)."""
    if fmt in ("json", "stream-json"):
        write_line(out, result)
    else:
        out.write((result["result"] or "").rstrip() + "\n")
        out.flush()
