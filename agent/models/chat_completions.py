"""The Chat Completions wire format, shared by `openai:` and `openai-compat:`.

`ChatCompletionsModel` takes a ready `openai.OpenAI` client (made by the provider
module, which owns keys and endpoints), converts messages to the wire format, and
turns streamed chunks into `ModelEvent`s. With `text_tool_calls=True` it also
recognises tool calls that the model wrote as text (servers without a tool parser).

Tool messages hold text only on this wire. With `images=True` (`openai:` models that
take images) the images of a run of tool results go in one user message right after
it; otherwise (`openai-compat:`, `local:`, text-only models) they stay the notes in the
tool's text.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Iterator

from agent.models.http_errors import ProviderHints, RetryingStream
from agent.models.images import data_url, images_to_send
from agent.models.pricing import Price, priced_usage
from agent.models.retry import IncompleteStream, RetryPolicy
from agent.models.text_tool_calls import TextCallFilter, parameter_types
from agent.models.tool_args import make_tool_call
from agent.core.types import (Done, Message, ModelEvent, ModelSettings, TextDelta, ThinkingDelta,
                         ToolCallDelta, ToolCallDone, ToolSpec)

FINISH_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
                  "length": "max_tokens"}


class ChatCompletionsModel(RetryingStream):
    """A model behind a Chat Completions endpoint.

    name:            the full spec string.
    model:           the model name sent on the wire.
    client:          an `openai.OpenAI` with max_retries=0.
    token_param:     "max_completion_tokens" (OpenAI) or "max_tokens" (everything else).
    reasoning_effort: default effort when the settings give none (OpenAI reasoning models).
    text_tool_calls: parse tool calls written as text.
    images:          send tool results' images (in a user message after them).
    extra_body:      fields added to every request body as they are (the config's
                     `providers.SCHEME.extra_body`, e.g. vLLM's `chat_template_kwargs`).
    """

    def __init__(self, *, name: str, model: str, client: Any, hints: ProviderHints,
                 price: Price | None, context_window: int, policy: RetryPolicy,
                 token_param: str, reasoning_effort: str | None = None,
                 text_tool_calls: bool = False, images: bool = False,
                 extra_body: Mapping[str, Any] | None = None):
        self.name, self.model, self.client, self.hints = name, model, client, hints
        self.price, self.context_window, self.policy = price, context_window, policy
        self.token_param, self.reasoning_effort = token_param, reasoning_effort
        self.text_tool_calls, self.images = text_tool_calls, images
        self.extra_body = dict(extra_body or {})

    def request(self, messages: list[Message], tools: list[ToolSpec],
                settings: ModelSettings) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for this turn."""
        req: dict[str, Any] = {"model": self.model,
                               "messages": to_wire_messages(messages, images=self.images),
                               "stream": True, "stream_options": {"include_usage": True},
                               self.token_param: settings.max_tokens}
        if tools:
            req["tools"] = [{"type": "function",
                             "function": {"name": t.name, "description": t.description,
                                          "parameters": dict(t.parameters)}} for t in tools]
        effort = settings.reasoning_effort or self.reasoning_effort
        if effort:
            req["reasoning_effort"] = effort
        for key in ("temperature", "top_p", "seed"):
            if getattr(settings, key) is not None:
                req[key] = getattr(settings, key)
        if settings.stop:
            req["stop"] = list(settings.stop)
        if self.extra_body:
            req["extra_body"] = dict(self.extra_body)
        return req

    def _attempt(self, request: dict[str, Any]) -> Iterator[ModelEvent]:
        stream = self.client.chat.completions.create(**request)
        try:
            types = parameter_types(request.get("tools")) if self.text_tool_calls else None
            yield from _events(stream, self.price, self.text_tool_calls, types)
        finally:
            stream.close()   # prompt close on cancel: releases the HTTP connection now


def _events(stream: Any, price: Price | None, text_tool_calls: bool,
            types: Any = None) -> Iterator[ModelEvent]:
    """Translate the chunks of one response into `ModelEvent`s (types: the tools' parameter
    types, for tool calls written as text)."""
    calls: dict[Any, dict[str, Any]] = {}      # wire index -> {id, name, args}, in arrival order
    last_key: Any = None
    finish: str | None = None
    usage: Any = None
    text_filter = TextCallFilter(types) if text_tool_calls else None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta is not None:
                # DeepSeek, vLLM and Ollama send reasoning in a field OpenAI does not define.
                thought = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
                if isinstance(thought, str) and thought:
                    yield ThinkingDelta(thought)
                if delta.content:
                    text = text_filter.feed(delta.content) if text_filter else delta.content
                    if text:
                        yield TextDelta(text)
                for tc in delta.tool_calls or ():
                    # Some servers omit `index`; a new id then means a new call.
                    key = tc.index if tc.index is not None else (tc.id or last_key)
                    last_key = key
                    fn = tc.function
                    first = key not in calls
                    if first:
                        calls[key] = {"n": len(calls), "id": tc.id or _new_id(), "name": "", "args": ""}
                    call = calls[key]
                    # The name comes once, in the call's first chunk; some servers repeat it.
                    if fn is not None and fn.name and not call["name"]:
                        call["name"] = fn.name
                    piece = (fn.arguments or "") if fn is not None else ""
                    call["args"] += piece
                    yield ToolCallDelta(index=call["n"], id=call["id"] if first else None,
                                        name=call["name"] if first else None,
                                        arguments_delta=piece)
            if choice.finish_reason:
                finish = choice.finish_reason
    if finish is None:
        raise IncompleteStream("no finish_reason")
    for call in calls.values():
        yield ToolCallDone(call["n"], make_tool_call(call["id"], call["name"], call["args"]))
    stop_reason = FINISH_REASONS.get(finish, finish)
    n_calls = len(calls)
    if text_filter is not None:
        rest, text_calls = text_filter.finish()
        if rest:
            yield TextDelta(rest)
        for found in text_calls:
            call_id = _new_id()
            yield ToolCallDelta(index=n_calls, id=call_id, name=found.name,
                                arguments_delta=found.raw_arguments)
            yield ToolCallDone(n_calls, make_tool_call(call_id, found.name, found.raw_arguments))
            n_calls += 1
    if n_calls and stop_reason == "end_turn":
        stop_reason = "tool_use"
    yield _usage(usage, price)
    yield Done(stop_reason)


def _usage(usage: Any, price: Price | None) -> ModelEvent:
    """`prompt_tokens` includes cached tokens; our `input_tokens` are the uncached ones."""
    if usage is None:
        return priced_usage(input_tokens=0, output_tokens=0, price=price)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    prompt = usage.prompt_tokens or 0
    return priced_usage(input_tokens=max(0, prompt - cached), output_tokens=usage.completion_tokens or 0,
                        cache_read_tokens=cached, price=price)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def to_wire_messages(messages: list[Message], images: bool = False) -> list[dict[str, Any]]:
    """Chat Completions `messages` for a conversation.

    All system messages join into one at the start (many chat templates refuse a
    system message anywhere else). Arguments that did not parse go back as `{}`:
    some servers' templates parse them again and would fail on the broken text.
    With `images`, the images of each run of tool messages (those `images_to_send`
    picks) follow it in a user message, each call's under a line naming it: a tool
    message's content can only be text, and nothing may come between an assistant's
    tool calls and their results.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    chosen = images_to_send(messages) if images else {}
    parts: list[dict[str, Any]] = []   # the image message of the current run of tool results
    for index, m in enumerate(messages):
        if parts and m.role != "tool":
            wire.append({"role": "user", "content": parts})
            parts = []
        if m.role == "user":
            wire.append({"role": "user", "content": m.content})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))}}
                    for c in m.tool_calls]
            elif msg["content"] is None:
                msg["content"] = ""
            wire.append(msg)
        elif m.role == "tool":
            wire.append({"role": "tool", "tool_call_id": m.tool_call_id,
                         "content": m.content or "(no output)"})
            if index in chosen:
                parts.append({"type": "text", "text": f"The images {m.name} returned (call "
                                                      f"{m.tool_call_id}), in the order of its notes:"})
                parts += [{"type": "image_url", "image_url": {"url": data_url(i)}}
                          for i in chosen[index]]
    if parts:
        wire.append({"role": "user", "content": parts})
    return wire
