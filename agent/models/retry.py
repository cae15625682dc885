"""Retries for streaming model calls, shared by the cloud providers.

`stream_with_retries(open_stream, classify, policy)` wraps a provider's one-attempt
event generator. A failure before anything was yielded is retried from the request
(with exponential backoff and jitter, honouring Retry-After); a failure after
events were yielded raises `StreamInterrupted`, because the caller has already shown
part of a turn that must now be thrown away (it carries the waits for the retries the
policy allows, and the loop retries the turn with them). Failures that no retry can fix (bad
key, unknown model, context too long) raise `ModelError` at once.

Nothing here imports an SDK: providers pass a `classify` function that turns their
exceptions into a `Failure`.
"""
from __future__ import annotations

import email.utils
import random
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from agent.core.errors import ModelError, StreamInterrupted

# A server asking us to wait longer than this is treated as "not now": we give up.
MAX_RETRY_AFTER_S = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    max_retries:  retries after the first attempt (0 = try once).
    base_delay:   seconds before the first retry; doubles each time.
    max_delay:    cap on one backoff wait (Retry-After may ask for more, up to 300 s).
    """

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "RetryPolicy":
        return cls(
            max_retries=int(options.get("max_retries", cls.max_retries)),
            base_delay=float(options.get("retry_base_delay", cls.base_delay)),
            max_delay=float(options.get("retry_max_delay", cls.max_delay)),
        )

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        Retry-After wins when the server sends it; otherwise exponential backoff
        with jitter in [half, full] of the step, so that clients hitting the same
        limit do not come back in lockstep.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        step = min(self.max_delay, self.base_delay * (2 ** attempt))
        return step * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class Failure:
    """What a provider's `classify` makes of an exception.

    retryable:   True for 429, 5xx, overload, timeouts, dropped connections.
    message:     for the user; for a fatal failure it says what to do.
    retry_after: seconds the server asked us to wait, if it said.
    """

    retryable: bool
    message: str
    retry_after: float | None = None


class IncompleteStream(Exception):
    """The HTTP stream ended cleanly but without the protocol's final event."""


def stream_with_retries(open_stream: Callable[[], Iterator[Any]],
                        classify: Callable[[BaseException], Failure | None],
                        policy: RetryPolicy,
                        *, sleep: Callable[[float], None] = time.sleep) -> Iterator[Any]:
    """Yield the events of `open_stream()`, retrying it as the module docstring says.

    open_stream: makes one attempt; a fresh generator per call.
    classify:    None for exceptions that are not provider failures (bugs): they
                 propagate unchanged.
    Raises ModelError (fatal or out of retries) or StreamInterrupted.
    Closing this generator closes the attempt in flight (and so its HTTP stream).
    """
    attempt = 0
    while True:
        yielded = False
        try:
            with closing(open_stream()) as events:
                for event in events:
                    yielded = True
                    yield event
            return
        except Exception as exc:  # KeyboardInterrupt / GeneratorExit pass straight through
            failure = classify(exc)
            if failure is None:
                raise
            if not failure.retryable:
                raise ModelError(failure.message) from exc
            if yielded:   # the caller retries the whole turn, with the same budget
                raise StreamInterrupted(
                    f"the model's response was cut off midway ({failure.message}); "
                    f"the partial turn was discarded",
                    tuple(policy.backoff(n, None) for n in range(policy.max_retries))) from exc
            if attempt >= policy.max_retries:
                tries = policy.max_retries + 1
                raise ModelError(f"{failure.message} (gave up after {tries} "
                                 f"attempt{'s' if tries != 1 else ''})") from exc
            if failure.retry_after is not None and failure.retry_after > MAX_RETRY_AFTER_S:
                raise ModelError(f"{failure.message}; the server asks to wait "
                                 f"{failure.retry_after:.0f} s, try again later") from exc
            sleep(policy.backoff(attempt, failure.retry_after))
            attempt += 1


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def client_timeout(options: Mapping[str, Any]) -> tuple[float, float]:
    """(read timeout, connect timeout) in seconds for a provider's HTTP client, from
    `options["timeout"]` (default 600 s; connecting never waits more than 10 s)."""
    timeout = float(options.get("timeout", 600.0))
    return timeout, min(timeout, 10.0)
