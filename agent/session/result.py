"""How one run ended, as a frozen record, and the two things derived from it: the exit
code and the result object of `--output-format json` (`ama schema result`).

Exit codes: 0 done; 1 runtime failure (provider, sandbox, a bug); 2 bad input; 3 a
limit was reached; 4 blocked by permissions; 5 verification failed; 130 interrupted.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TYPE_CHECKING

from agent.core.errors import AmaError
from agent.core.types import Usage

if TYPE_CHECKING:
    from tools.workspace.changeset import ChangeSet

EXIT_CODES = {"success": 0, "error_max_turns": 3, "error_max_cost": 3, "error_max_time": 3,
              "error_permission_denied": 4, "error_verification_failed": 5,
              "error_bad_input": 2, "error_interrupted": 130}
NO_CHANGES: dict[str, Any] = {"files": [], "patch": ""}


@dataclass(frozen=True)
class RunResult:
    """One run of one task.

    subtype:       "success" or an error_* subtype (the result object's `subtype`)
    result:        the model's last answer, or what went wrong
    session_id, model: which session ran it, with which model
    num_turns:     model turns in this run
    duration:      seconds
    usage:         tokens and cost of the session so far
    changes:       {"files": [...], "patch": "..."} of the change set (user tree → scratch)
    change_set:    the ChangeSet itself (None when there is none or it could not be read)
    verification:  the --verify report, or None
    denials:       permission denials of this run (tool_name, tool_use_id, tool_input, reason)
    applied:       what --apply did ({"mode": ...}), or None
    error:         the AmaError that ended the run, if one did
    mcp_servers:   {name, status, tools} of each MCP server of the session
    """
    subtype: str
    result: str
    session_id: str
    model: str
    num_turns: int = 0
    duration: float = 0.0
    usage: Usage = field(default_factory=Usage)
    changes: dict[str, Any] = field(default_factory=lambda: dict(NO_CHANGES))
    change_set: "ChangeSet | None" = None
    verification: dict[str, Any] | None = None
    denials: tuple[dict[str, Any], ...] = ()
    applied: dict[str, Any] | None = None
    error: AmaError | None = None
    mcp_servers: tuple[dict[str, Any], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.subtype != "success"

    @property
    def changed(self) -> bool:
        return bool(self.changes["files"])

    @property
    def exit_code(self) -> int:
        if self.subtype in EXIT_CODES:
            return EXIT_CODES[self.subtype]
        return self.error.exit_code if self.error is not None else 1

    def failed(self, error: AmaError) -> "RunResult":
        """This run, ended by `error` after it ran (e.g. --apply could not apply)."""
        return dataclasses.replace(self, subtype=error.subtype, result=error.message, error=error)

    def to_dict(self) -> dict[str, Any]:
        """The result object (agent/schemas/result.schema.json)."""
        usage = self.usage.to_dict()
        return {
            "type": "result",
            "subtype": self.subtype,
            "is_error": self.is_error,
            "result": self.result,
            "session_id": self.session_id,
            "model": self.model,
            "num_turns": self.num_turns,
            "duration_ms": int(self.duration * 1000),
            "usage": usage,
            "total_cost_usd": round(usage.get("cost_usd", 0.0), 6),
            "changes": self.changes,
            "applied": self.applied,
            "verification": self.verification,
            "permission_denials": list(self.denials),
            "mcp_servers": list(self.mcp_servers),
        }


def not_started(session_id: str, model: str, error: AmaError, duration: float = 0.0) -> RunResult:
    """The record of a run that could not start (bad input, no sandbox)."""
    return RunResult(error.subtype, error.message, session_id, model, duration=duration,
                     error=error)
