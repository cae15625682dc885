"""Early exits as a small hierarchy of exceptions that carry a message and an exit code.

The message is for the user and says what to do. The exit codes are the headless
contract: 0 done, 1 runtime failure, 2 bad input, 3 limit reached, 4 blocked by
permissions, 5 verification failed.
"""
from __future__ import annotations


class AmaError(Exception):
    exit_code = 1
    subtype = "error_during_execution"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(AmaError):
    """Flags, config, paths or files the user gave us are wrong."""
    exit_code = 2
    subtype = "error_bad_input"


class RuntimeFailure(AmaError):
    """A provider, sandbox or tool failed in a way the model cannot fix."""
    exit_code = 1


class ModelError(RuntimeFailure):
    """A provider failed after its retries (or with an error that must not be retried)."""
    subtype = "error_model"


class StreamInterrupted(ModelError):
    """A model stream broke off after deltas were already yielded.

    The partial turn must be discarded, never recorded; the loop retries the whole turn
    and reports this error once the retries are spent.

    retry_delays: seconds to wait before each retry the provider's policy allows (as
                  many as it gives a 5xx); the default is one retry at once.
    """
    subtype = "error_model"

    def __init__(self, message: str, retry_delays: tuple[float, ...] = (0.0,)):
        super().__init__(message)
        self.retry_delays = retry_delays


class SandboxError(RuntimeFailure):
    subtype = "error_sandbox"


class LimitReached(AmaError):
    """--max-turns, --max-cost or the wall-time limit was hit."""
    exit_code = 3
    subtype = "error_max_turns"

    def __init__(self, message: str, subtype: str = "error_max_turns"):
        super().__init__(message)
        self.subtype = subtype


class Interrupted(AmaError):
    """The user stopped the run (Ctrl-C, Esc, cancel)."""
    exit_code = 130
    subtype = "error_interrupted"


class VerificationFailed(AmaError):
    exit_code = 5
    subtype = "error_verification_failed"

