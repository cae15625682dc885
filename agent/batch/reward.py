"""The reward of one attempt, measured in its sandbox after the run, on its final tree.

    FAIL_TO_PASS and --test-cmd   the fraction of those tests that pass, each run on
                                  its own (1.0 at once when the run's own verification
                                  was that same command and passed)
    a verification command        1.0 if it passed, else 0.0; a command the run never
                                  got to (a limit came first) is run once now
    neither                       None: there is nothing to measure against
"""
from __future__ import annotations

import shlex
from typing import Any

from agent.core.verify import USER_COMMAND_TIMEOUT


def tests_command(template: str, tests: tuple[str, ...]) -> str:
    """`template` with {tests} replaced by the shell-quoted test ids."""
    return template.replace("{tests}", " ".join(shlex.quote(t) for t in tests))


def measure(sandbox: Any, verification: dict[str, Any] | None, *, verify: str | None,
            test_cmd: str | None, fail_to_pass: tuple[str, ...]) -> dict[str, Any] | None:
    """{"reward", "source" ("fail_to_pass" | "verify"), "passed", "total"} for an
    attempt whose sandbox is still open, or None when nothing can be measured."""
    if test_cmd and fail_to_pass:
        everything = tests_command(test_cmd, fail_to_pass)
        if verification and verification["passed"] and verification["command"] == everything:
            passed = len(fail_to_pass)
        else:
            passed = sum(_passes(sandbox, tests_command(test_cmd, (t,))) for t in fail_to_pass)
        return {"reward": passed / len(fail_to_pass), "source": "fail_to_pass",
                "passed": passed, "total": len(fail_to_pass)}
    if verify:
        if verification and verification["attempts"]:
            ok = bool(verification["passed"])
        else:
            ok = _passes(sandbox, verify)
        return {"reward": 1.0 if ok else 0.0, "source": "verify", "passed": int(ok), "total": 1}
    return None


def _passes(sandbox: Any, command: str) -> bool:
    res = sandbox.exec(command, timeout=USER_COMMAND_TIMEOUT)
    return res.exit_code == 0 and not res.timed_out
