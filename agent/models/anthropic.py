"""`anthropic:MODEL` — Claude through the `anthropic` SDK's streaming Messages API.

create(rest, options) -> AnthropicModel. Options: api_key, base_url, max_retries,
retry_base_delay, retry_max_delay, timeout, prices, context_window, thinking_budget
(tokens, or "adaptive").
The key and endpoint otherwise come from ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL.

The SDK is imported here, and this module is imported only when an anthropic model
is chosen. Its own retries are off: `retry.stream_with_retries` is the only retry layer.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Mapping

import anthropic

from agent.core.errors import BadInput
from agent.models.http_errors import ProviderHints, RetryingStream
from agent.models.images import images_to_send
from agent.models.pricing import Price, context_window_for, price_for, priced_usage
from agent.models.retry import IncompleteStream, RetryPolicy, client_timeout
from agent.models.tool_args import make_tool_call
from agent.core.types import (Done, ImageData, Message, ModelEvent, ModelSettings, Reasoning,
                         TextDelta, ThinkingDelta, ToolCallDelta, ToolCallDone, ToolSpec)

DEFAULT_BASE_URL = "https://api.anthropic.com"
CACHE = {"type": "ephemeral"}
STOP_REASONS = {"stop_sequence": "stop"}


def create(rest: str, options: dict) -> "AnthropicModel":
    """Build the model for `anthropic:REST`. Raises BadInput when no key is set."""
    api_key = options.get("api_key") or os.environ.get("ANTHROPIC_API_KEY")
    if not api_key:
        raise BadInput("no Anthropic API key: set ANTHROPIC_API_KEY (or api_key in your "
                       "user config)")
    base_url = options.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    return AnthropicModel(rest, api_key=api_key, base_url=base_url, options=options)


class AnthropicModel(RetryingStream):
    """A Claude model. `stream` yields one assistant turn as `ModelEvent`s."""

    def __init__(self, model: str, *, api_key: str, base_url: str, options: Mapping[str, Any]):
        self.model = model
        self.name = f"anthropic:{model}"
        self.context_window = context_window_for(model, options, 200_000, spec=self.name)
        self.thinking_budget = options.get("thinking_budget")
        self.price: Price | None = price_for(model, options.get("prices"), spec=self.name)
        self.policy = RetryPolicy.from_options(options)
        self.hints = ProviderHints("Anthropic", model, "ANTHROPIC_API_KEY", base_url)
        read, connect = client_timeout(options)
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0,
            timeout=anthropic.Timeout(read, connect=connect))

    def request(self, messages: list[Message], tools: list[ToolSpec],
                settings: ModelSettings) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for this turn."""
        system, wire_messages = to_wire_messages(messages)
        req: dict[str, Any] = {"model": self.model, "max_tokens": settings.max_tokens,
                               "messages": wire_messages}
        if system:
            req["system"] = [{"type": "text", "text": system, "cache_control": CACHE}]
        if tools:
            req["tools"] = [{"name": t.name, "description": t.description,
                             "input_schema": dict(t.parameters)} for t in tools]
            req["tools"][-1]["cache_control"] = CACHE
        budget = settings.thinking_budget or self.thinking_budget
        if budget == "adaptive":    # the model decides how much to think
            req["thinking"] = {"type": "adaptive"}
        elif budget:
            # Thinking tokens count toward max_tokens, which must exceed the budget.
            req["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
            req["max_tokens"] = max(settings.max_tokens, int(budget) + 1024)
        elif settings.temperature is not None:   # the API refuses a temperature with thinking
            req["temperature"] = settings.temperature
        if settings.top_p is not None and not budget:
            req["top_p"] = settings.top_p
        if settings.stop:
            req["stop_sequences"] = list(settings.stop)
        return req

    def _attempt(self, request: dict[str, Any]) -> Iterator[ModelEvent]:
        """One request: its stream of events, or an exception for `classify`."""
        stream = self.client.messages.create(stream=True, **request)
        try:
            yield from _events(stream, self.price)
        finally:
            stream.close()   # prompt close on cancel: releases the HTTP connection now


def _events(stream: Any, price: Price | None) -> Iterator[ModelEvent]:
    """Translate the raw SSE events of one response into `ModelEvent`s."""
    usage: dict[str, int] = {}
    blocks: dict[int, dict[str, Any]] = {}    # wire block index -> what we gathered
    reasoning: list[Reasoning] = []
    n_calls = 0
    stop_reason, finished = "end_turn", False
    for event in stream:
        kind = event.type
        if kind == "message_start":
            _merge_usage(usage, event.message.usage)
        elif kind == "content_block_start":
            block = event.content_block
            info: dict[str, Any] = {"type": block.type, "text": "", "signature": None}
            if block.type == "tool_use":
                info.update(id=block.id, name=block.name, call=n_calls)
                n_calls += 1
                yield ToolCallDelta(index=info["call"], id=block.id, name=block.name)
            elif block.type == "redacted_thinking":
                info["text"] = block.data
            elif block.type == "thinking" and block.thinking:
                info["text"] = block.thinking
                yield ThinkingDelta(block.thinking)
            elif block.type == "text" and block.text:
                yield TextDelta(block.text)
            blocks[event.index] = info
        elif kind == "content_block_delta":
            # Blocks we do not ask for (server tools, citations) are passed over.
            info, delta = blocks.get(event.index, _orphan()), event.delta
            if delta.type == "text_delta":
                yield TextDelta(delta.text)
            elif delta.type == "thinking_delta":
                info["text"] += delta.thinking
                yield ThinkingDelta(delta.thinking)
            elif delta.type == "signature_delta":
                info["signature"] = (info["signature"] or "") + delta.signature
            elif delta.type == "input_json_delta" and info["type"] == "tool_use":
                info["text"] += delta.partial_json
                yield ToolCallDelta(index=info["call"], arguments_delta=delta.partial_json)
        elif kind == "content_block_stop":
            info = blocks.get(event.index, _orphan())
            if info["type"] == "tool_use":
                yield ToolCallDone(info["call"], make_tool_call(info["id"], info["name"], info["text"]))
            elif info["type"] == "thinking":
                reasoning.append(Reasoning(info["text"], info["signature"]))
                if info["signature"]:
                    yield ThinkingDelta("", signature=info["signature"])
            elif info["type"] == "redacted_thinking":
                reasoning.append(Reasoning(info["text"], None, redacted=True))
        elif kind == "message_delta":
            if event.delta.stop_reason:
                stop_reason = STOP_REASONS.get(event.delta.stop_reason, event.delta.stop_reason)
            _merge_usage(usage, event.usage)
        elif kind == "message_stop":
            finished = True
    if not finished:
        raise IncompleteStream("no message_stop")
    yield priced_usage(input_tokens=usage.get("input_tokens", 0),
                       output_tokens=usage.get("output_tokens", 0),
                       cache_read_tokens=usage.get("cache_read_input_tokens", 0),
                       cache_write_tokens=usage.get("cache_creation_input_tokens", 0),
                       price=price)
    yield Done(stop_reason, reasoning=tuple(reasoning))


def _orphan() -> dict[str, Any]:
    """Stand-in for a block whose start we did not see (nothing is gathered from it)."""
    return {"type": None, "text": "", "signature": None}


def _merge_usage(usage: dict[str, int], wire: Any) -> None:
    """Keep the latest value of each counter (message_delta counts are cumulative)."""
    if wire is None:
        return
    for key in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                "cache_creation_input_tokens"):
        value = getattr(wire, key, None)
        if value is not None:
            usage[key] = value


def to_wire_messages(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, Messages API `messages`) for a conversation.

    System messages join into the system prompt. Consecutive tool results become one
    user message of `tool_result` blocks; consecutive messages of one role merge,
    since the API wants user and assistant to alternate. The last blocks of the last
    two user messages carry `cache_control`, so the prefix is cached as it grows. A tool
    result's images (those `images_to_send` picks) follow its text in the tool_result.
    """
    system: list[str] = []
    wire: list[dict[str, Any]] = []
    images = images_to_send(messages)
    for index, m in enumerate(messages):
        if m.role == "system":
            system.append(m.content)
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m, images.get(index, ()))
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    # Breakpoints on the last two user messages: the newer one caches this request's
    # prefix; the older one is where the previous request wrote its cache, so it hits
    # even when a turn added more blocks than the API looks back over (20). With the
    # system prompt and the tools that makes four, the API's limit.
    for msg in [w for w in wire if w["role"] == "user"][-2:]:
        msg["content"][-1]["cache_control"] = CACHE
    return "\n\n".join(s for s in system if s), wire


def _blocks(m: Message, images: tuple[ImageData, ...] = ()) -> list[dict[str, Any]]:
    if m.role == "tool":
        text = m.content or "(no output)"
        content: str | list[dict[str, Any]] = text if not images else [
            {"type": "text", "text": text},
            *({"type": "image", "source": {"type": "base64", "media_type": i.mime_type,
                                           "data": i.data}} for i in images)]
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id,
                                 "content": content}
        if m.is_error:
            block["is_error"] = True
        return [block]
    if m.role == "user":
        return [{"type": "text", "text": m.content}] if m.content else []
    blocks: list[dict[str, Any]] = []
    for r in m.reasoning:   # thinking goes back first and unchanged, with its signature
        if r.redacted:
            blocks.append({"type": "redacted_thinking", "data": r.text})
        elif r.signature:
            blocks.append({"type": "thinking", "thinking": r.text, "signature": r.signature})
    if m.content:
        blocks.append({"type": "text", "text": m.content})
    for call in m.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": dict(call.arguments)})
    return blocks
