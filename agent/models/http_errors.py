"""Turn SDK and transport exceptions into retry decisions with messages that say what to do.

Both SDKs (anthropic, openai) raise exceptions of the same shape: `APIStatusError`
with `status_code`, `response` and `body`; `APIConnectionError` / `APITimeoutError`
for transport trouble. Mid-stream, a dropped connection surfaces as the HTTP
library's `TransportError`. This module reads them by shape, so it imports no SDK.
"""
from __future__ import annotations

from dataclasses import dataclass
from agent.models.retry import Failure, IncompleteStream, parse_retry_after, stream_with_retries

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
RETRYABLE_ERROR_TYPES = {"overloaded_error", "api_error", "rate_limit_error", "server_error",
                         "timeout_error"}
_CONTEXT_HINTS = ("prompt is too long", "context_length_exceeded", "maximum context length",
                  "context length", "context window", "exceed context limit", "too many tokens")


@dataclass(frozen=True)
class ProviderHints:
    """What the messages name: the provider, the model, the variables that fix things."""

    provider: str          # "Anthropic", "OpenAI", "the server at http://..."
    model: str             # the model as sent on the wire
    key_var: str           # variable that holds the key
    base_url: str          # where requests went


def error_detail(exc: BaseException) -> str:
    """The API's own words for an error: `error.message` from the body, else str(exc)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else (str(exc) or type(exc).__name__)


def _error_type(exc: BaseException) -> str | None:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            kind = err.get("type") or err.get("code")
            return kind if isinstance(kind, str) else None
    return None


def is_context_error(detail: str, kind: str | None) -> bool:
    text = f"{detail} {kind or ''}".lower()
    return any(h in text for h in _CONTEXT_HINTS)


def classify(exc: BaseException, hints: ProviderHints) -> Failure | None:
    """Map an exception from one attempt to a `Failure`, or None if it is not a provider failure."""
    if isinstance(exc, IncompleteStream):
        return Failure(True, f"{hints.provider} closed the stream before the response was complete")
    names = {c.__name__ for c in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    detail = error_detail(exc)
    kind = _error_type(exc)

    if isinstance(status, int) and status >= 400:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return _classify_status(status, detail, kind, parse_retry_after(headers), hints)

    if "APITimeoutError" in names or "TimeoutException" in names:
        return Failure(True, f"{hints.provider} did not answer in time ({hints.base_url})")
    if "APIConnectionError" in names or "TransportError" in names:
        # The SDKs wrap transport errors; the cause says whether we never got through
        # or the connection broke while the answer streamed.
        root = exc.__cause__ or exc
        why = str(root) or type(root).__name__
        if {"ConnectError", "ConnectTimeout"} & {c.__name__ for c in type(root).__mro__}:
            return Failure(True, f"could not reach {hints.provider} at {hints.base_url}: {why}")
        return Failure(True, f"the connection to {hints.provider} broke: {why}")
    if "APIError" in names:
        # An error reported inside a 200 stream (Anthropic `event: error`, an OpenAI
        # `{"error": ...}` chunk): retry overloads and server errors, not bad requests.
        if is_context_error(detail, kind):
            return _context_failure(detail, hints)
        if kind is None or kind in RETRYABLE_ERROR_TYPES:
            return Failure(True, f"{hints.provider} reported an error mid-stream: {detail}")
        return Failure(False, f"{hints.provider} rejected the request: {detail}")
    return None


def _classify_status(status: int, detail: str, kind: str | None, retry_after: float | None,
                     hints: ProviderHints) -> Failure:
    if status in (401, 403):
        return Failure(False, f"{hints.provider} rejected the API key ({status}: {detail}). "
                              f"Set {hints.key_var} to a valid key.")
    if status == 404:
        return Failure(False, f"{hints.provider} does not know model {hints.model!r} "
                              f"(404 from {hints.base_url}: {detail}). Check the name given "
                              f"to --model, and the base URL.")
    if status in (400, 413, 422) and is_context_error(detail, kind):
        return _context_failure(detail, hints)
    if status in RETRYABLE_STATUS or status >= 500:
        what = "rate-limited the request" if status == 429 else "is unavailable"
        return Failure(True, f"{hints.provider} {what} ({status}: {detail})", retry_after)
    return Failure(False, f"{hints.provider} rejected the request ({status}: {detail})")


def _context_failure(detail: str, hints: ProviderHints) -> Failure:
    return Failure(False, f"the conversation no longer fits {hints.model!r}'s context window "
                          f"({detail}). Start a new session or compact this one (/compact), "
                          f"or lower max_tokens (the output budget) in config.")



class RetryingStream:
    """`Model.stream` for a provider that has `request(messages, tools, settings)`, a
    single-try `_attempt(request)` generator, `hints` and `policy`: each turn is the one
    request, retried as `stream_with_retries` allows."""

    def stream(self, messages, tools, settings):
        request = self.request(messages, tools, settings)
        return stream_with_retries(lambda: self._attempt(request),
                                   lambda exc: classify(exc, self.hints), self.policy)
