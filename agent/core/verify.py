"""`--verify CMD`: a run is done when a command the user chose passes, not when the
model says so. The command runs in the sandbox on the scratch workspace; a failure's
output (capped head + tail) goes back to the model as the next message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prompts import render
from tools.output_cap import cap_output

FEEDBACK_LIMIT = 8_000
USER_COMMAND_TIMEOUT = 600.0   # seconds for a command the user chose (--verify, the REPL's !cmd)


@dataclass
class Verifier:
    command: str
    sandbox: Any
    max_attempts: int = 3
    timeout: float = USER_COMMAND_TIMEOUT
    runs: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self) -> tuple[bool, str]:
        """Run the command once. Returns (passed, feedback for the model)."""
        res = self.sandbox.exec(self.command, timeout=self.timeout)
        tail, _ = cap_output(res.output, FEEDBACK_LIMIT)
        self.runs.append({"exit_code": res.exit_code, "timed_out": res.timed_out,
                          "duration": round(res.duration, 3), "output_tail": tail[-2000:]})
        passed = res.exit_code == 0 and not res.timed_out
        feedback = "" if passed else render(
            "verify_failed.md", command=self.command, exit_code=res.exit_code,
            timed_out=res.timed_out, output=tail, attempt=len(self.runs),
            max_attempts=self.max_attempts)
        return passed, feedback

    @property
    def exhausted(self) -> bool:
        return len(self.runs) >= self.max_attempts

    def report(self) -> dict[str, Any] | None:
        last = self.runs[-1] if self.runs else None
        return {
            "command": self.command,
            "passed": bool(last and last["exit_code"] == 0 and not last["timed_out"]),
            "exit_code": last["exit_code"] if last else None,
            "attempts": len(self.runs),
            "output_tail": last["output_tail"] if last else "",
            "runs": self.runs,
        }
