"""The task file of `ama batch`: JSON (a list of records) or JSONL (one record a line).

Two forms are read as they are:

    SWE-bench  {"instance_id", "repo": "owner/name", "base_commit", "problem_statement",
                optional "FAIL_TO_PASS", "PASS_TO_PASS" (lists, or JSON text of a list),
                "test_patch", "version", ...}
    ama        {"id", "repo" (owner/name, a URL or a path) or "cwd" (a folder to work
                on), optional "base_commit", "task", optional "verify"}

Relative paths in `repo` and `cwd` are relative to the task file's folder. Ids name
folders of the output dir, so they must be unique and plain (letters, digits, `._+-`).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.core.errors import BadInput
from tools import json_safe

_ID = re.compile(r"[A-Za-z0-9_+\-][A-Za-z0-9._+\-]{0,199}")
_TEST_LIST_KEYS = ("FAIL_TO_PASS", "PASS_TO_PASS")


@dataclass(frozen=True)
class Task:
    """One task of a batch.

    id:            instance_id (SWE-bench) or id (ama form)
    text:          the problem statement / task, as the model gets it (before the
                   untrusted wrapper)
    repo:          owner/name, a URL or a path (None with `cwd`)
    cwd:           a folder to work on as it is (ama form; None with `repo`)
    base_commit:   the commit to check out (None: the repo's HEAD, or `cwd` as it is)
    verify:        the task's own verification command (ama form), or None
    fail_to_pass, pass_to_pass: test ids (SWE-bench), possibly empty
    test_patch:    the patch that adds those tests (SWE-bench), or ""
    record:        the record as read (kept for the output dir)
    """
    id: str
    text: str
    repo: str | None = None
    cwd: str | None = None
    base_commit: str | None = None
    verify: str | None = None
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_patch: str = ""
    record: dict[str, Any] | None = None


def load_tasks(path: Path) -> list[Task]:
    """Every task of the file at `path`, in file order. BadInput names the record and
    what is wrong with it."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"task file {path}: {getattr(e, 'strerror', None) or e}; give a JSON "
                       f"or JSONL file of tasks") from None
    records = _records(text, path)
    if not records:
        raise BadInput(f"task file {path} holds no tasks")
    base = path.resolve().parent
    tasks = [_task(r, f"{path}:{where}", base) for where, r in records]
    seen: dict[str, str] = {}
    for (where, _), task in zip(records, tasks):
        if task.id in seen:
            raise BadInput(f"{path}:{where}: task id {task.id!r} is also the id of the task at "
                           f"{path}:{seen[task.id]}; ids must be unique")
        seen[task.id] = str(where)
    return tasks


def _records(text: str, path: Path) -> list[tuple[int | str, Any]]:
    """(where, record) pairs: `where` is the line (JSONL) or `#index` (a JSON list)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json_safe.loads(text, max_chars=max(len(text), json_safe.MAX_CHARS))
        except json_safe.JSONTextError as e:
            raise BadInput(f"task file {path}: {e}; write a JSON list of task objects, or "
                           f"one object a line (JSONL)") from None
        return [(f"#{i}", r) for i, r in enumerate(data)]
    out: list[tuple[int | str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((lineno, json_safe.loads(line, max_chars=max(len(line), json_safe.MAX_CHARS))))
        except json_safe.JSONTextError as e:
            raise BadInput(f"{path}:{lineno}: {e}; each line must be one task object "
                           f"(or give the file as one JSON list)") from None
    return out


def _task(r: Any, where: str, base: Path) -> Task:
    if not isinstance(r, dict):
        raise BadInput(f"{where}: a task must be a JSON object, not {type(r).__name__}")
    task_id = r.get("instance_id", r.get("id"))
    if not isinstance(task_id, str) or not _ID.fullmatch(task_id):
        raise BadInput(f"{where}: needs an \"instance_id\" (SWE-bench) or \"id\" (ama form): "
                       f"up to 200 letters, digits and ._+- (not starting with a dot), got "
                       f"{task_id!r}")
    text = r.get("problem_statement", r.get("task"))
    if not isinstance(text, str):
        raise BadInput(f"{where}: task {task_id} needs its text as \"problem_statement\" "
                       f"(SWE-bench) or \"task\" (ama form)")
    repo, cwd = _string(r, "repo", where), _string(r, "cwd", where)
    if (repo is None) == (cwd is None):
        raise BadInput(f"{where}: task {task_id} needs exactly one of \"repo\" (owner/name, a "
                       f"URL or a path) and \"cwd\" (a folder to work on)")
    if cwd is not None:
        cwd = str((base / Path(cwd).expanduser()).resolve())
    elif repo is not None and repo.startswith((".", "/", "~")):
        repo = str((base / Path(repo).expanduser()).resolve())
    tests = {key: _test_list(r.get(key), f"{where}: {key}") for key in _TEST_LIST_KEYS}
    return Task(id=task_id, text=text, repo=repo, cwd=cwd,
                base_commit=_string(r, "base_commit", where), verify=_string(r, "verify", where),
                fail_to_pass=tests["FAIL_TO_PASS"], pass_to_pass=tests["PASS_TO_PASS"],
                test_patch=_string(r, "test_patch", where) or "", record=r)


def _string(r: dict, key: str, where: str) -> str | None:
    value = r.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise BadInput(f"{where}: \"{key}\" must be a non-empty string, not {value!r}")


def _test_list(value: Any, where: str) -> tuple[str, ...]:
    """A list of test ids; SWE-bench's datasets hold it as JSON text of a list."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json_safe.loads(value)
        except json_safe.JSONTextError as e:
            raise BadInput(f"{where}: not a list of test ids ({e})") from None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise BadInput(f"{where}: must be a list of test ids (strings)")
    return tuple(value)


def select(tasks: list[Task], *, slice_: str | None = None, pattern: str | None = None,
           shuffle: bool = False, seed: int = 0) -> list[Task]:
    """The tasks a run works on: `--filter REGEX` (searched in the id), then `--shuffle
    --seed N`, then `--slice START:STOP` (Python slice bounds, either may be empty)."""
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise BadInput(f"--filter {pattern!r}: not a regular expression ({e})") from None
        tasks = [t for t in tasks if regex.search(t.id)]
    if shuffle:
        tasks = list(tasks)
        random.Random(seed).shuffle(tasks)
    if slice_:
        tasks = tasks[parse_slice(slice_)]
    return tasks


def parse_slice(text: str) -> slice:
    """`START:STOP` (or `N`: the first N) as a slice; BadInput otherwise."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return slice(0, int(parts[0]))
        if len(parts) == 2:
            return slice(*(int(p) if p.strip() else None for p in parts))
    except ValueError:
        pass
    raise BadInput(f"--slice {text!r}: give START:STOP (e.g. 0:50, :10, 100:) or N")
