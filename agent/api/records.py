"""The records the Python API hands out: frozen, fully typed, ama's own.

    Result        how one task ended (agent/session/result.py's RunResult, typed)
    Changes       a change set: FileChange per file, and the patch
    Usage         tokens and cost
    Verification  the --verify report
    Denial        a tool call the permission rules refused
    Applied       what `Session.apply` wrote to your tree

JSON values coming from the model (tool arguments) are `object`: narrow them before use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from agent.core.errors import AmaError
from agent.session.result import RunResult

if TYPE_CHECKING:
    from agent.core.types import Usage as CoreUsage


@dataclass(frozen=True)
class FileChange:
    """One changed file. status: added | modified | deleted | renamed | type_changed;
    old_path: where a renamed file was."""
    path: str
    status: str
    old_path: str | None = None
    additions: int = 0
    deletions: int = 0
    binary: bool = False


@dataclass(frozen=True)
class Changes:
    """A change set: from your tree as the session last saw it to the scratch copy."""
    files: tuple[FileChange, ...] = ()
    patch: str = ""

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    @property
    def empty(self) -> bool:
        return not self.files


@dataclass(frozen=True)
class Usage:
    """Tokens and USD. input_tokens are the uncached ones; cost_usd is 0 for a model
    whose price is unknown (the session's notices say so)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Verification:
    """The --verify command's last run: passed, its exit code (None: it never ran or
    was killed), how many times it ran, the tail of its output."""
    command: str
    passed: bool
    exit_code: int | None
    attempts: int
    output_tail: str


@dataclass(frozen=True)
class Denial:
    """A tool call the permission rules (or your approver) refused, and why."""
    tool_name: str
    call_id: str
    arguments: Mapping[str, object]
    reason: str


@dataclass(frozen=True)
class Applied:
    """What `Session.apply` did. paths: written to your tree (or already as the change set
    leaves them); conflicts: path -> why it was left alone (you changed it meanwhile; it
    stays pending); commit and branch: what `mode="commit"` / `"branch:NAME"` made."""
    paths: tuple[str, ...] = ()
    conflicts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    commit: str | None = None
    branch: str | None = None


@dataclass(frozen=True)
class Result:
    """How one task ended; never an exception for the outcome.

    subtype:      "success" or an error_* subtype (error_max_turns, error_permission_denied, …)
    result:       the model's last answer, or what went wrong
    session_id, model: which session ran it, with which model
    num_turns:    model turns in this task; duration: seconds
    usage:        tokens and cost of the session so far
    changes:      the change set pending after the task
    verification: the --verify report, or None
    denials:      tool calls refused in this task
    error:        the AmaError that ended it, if one did
    exit_code, is_error, to_dict(): as `ama -p` reports them (the result object)
    """
    subtype: str
    result: str
    session_id: str
    model: str
    num_turns: int
    duration: float
    usage: Usage
    changes: Changes
    verification: Verification | None
    denials: tuple[Denial, ...]
    error: AmaError | None
    _record: RunResult = field(repr=False, compare=False)

    @property
    def is_error(self) -> bool:
        return self._record.is_error

    @property
    def exit_code(self) -> int:
        return self._record.exit_code

    def to_dict(self) -> dict[str, object]:
        """The result object, exactly as `ama -p --output-format json` prints it
        (`ama schema result`)."""
        return self._record.to_dict()


def result_of(record: RunResult) -> Result:
    """The API's Result for the session API's RunResult."""
    report = record.verification
    verification = None if report is None else Verification(
        str(report["command"]), bool(report["passed"]), report.get("exit_code"),
        int(report.get("attempts", 0)), str(report.get("output_tail", "")))
    return Result(
        subtype=record.subtype, result=record.result, session_id=record.session_id,
        model=record.model, num_turns=record.num_turns, duration=record.duration,
        usage=usage_of(record.usage), changes=changes_of(record.changes["files"],
                                                         record.changes["patch"]),
        verification=verification,
        denials=tuple(Denial(d["tool_name"], d["tool_use_id"], frozen(d["tool_input"]), d["reason"])
                      for d in record.denials),
        error=record.error, _record=record)


def changes_of(files: Iterable[Mapping[str, Any]], patch: str) -> Changes:
    """Changes from a change set's summary (`ChangeSet.summary()`'s files and patch)."""
    return Changes(tuple(FileChange(path=f["path"], status=f["status"], old_path=f.get("old_path"),
                                    additions=int(f.get("additions", 0)),
                                    deletions=int(f.get("deletions", 0)),
                                    binary=bool(f.get("binary", False)))
                         for f in files), patch)


def usage_of(usage: "CoreUsage | Mapping[str, Any]") -> Usage:
    values = usage if isinstance(usage, Mapping) else usage.to_dict()
    return Usage(**{k: values[k] for k in Usage.__dataclass_fields__ if k in values})


def frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    """A read-only copy (the records are frozen all the way down, at the top level)."""
    return MappingProxyType(dict(mapping))
