"""Between OpenAI-style chat requests and token ids: the prompt in, the message out.

No HTTP and no torch here: `build_prompt` renders messages and tools with the checkpoint's
chat template; `OutputAssembler` turns generated ids into visible text and tool calls,
applying stop strings, as they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .generate import StreamDecoder
from .tokenizer import ChatTokenizer
from .tool_calls import MARKERS, ParsedToolCall, ToolCallParser, format_tool_call, tools_prompt


class BadRequest(ValueError):
    """A request the server answers with 400; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


def select_tools(tools: Sequence[Mapping] | None, tool_choice: Any) -> list[Mapping] | None:
    """The tools to offer the model given `tool_choice` ("none" | "auto" | "required" | a named function).

    "required" and a named function are honoured by what the prompt offers (only that tool);
    decoding is not constrained, so a model may still answer in plain text.
    """
    if not tools or tool_choice == "none":
        return None
    if tool_choice in (None, "auto", "required"):
        return list(tools)
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            raise BadRequest(f"tool_choice names function {name!r}, which is not in tools", "tool_choice")
        return chosen
    raise BadRequest(f"tool_choice must be 'none', 'auto', 'required' or a function, got {tool_choice!r}",
                     "tool_choice")


def _text(content: Any, where: str) -> str | None:
    """Message content: a string, None, or a list of {"type": "text", "text": ...} parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise BadRequest(f"{where}: only text content parts are supported", where)
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise BadRequest(f"{where}: content must be a string or a list of text parts", where)


def build_prompt(tokenizer: ChatTokenizer, family: str, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping] | None) -> list[int]:
    """Token ids of the chat, tools described the way the checkpoint expects.

    A template that reads `tools` renders them itself; otherwise the family's tool section
    (tool_calls.tools_prompt) joins the system message. Likewise earlier assistant tool
    calls and tool results are handed to a template that knows them, and written out as
    the family's text otherwise.
    """
    if not messages:
        raise BadRequest("messages must not be empty", "messages")
    source = tokenizer.template_source(tools=tools) if tokenizer.chat_template is not None else None
    if source is None:
        raise BadRequest("this checkpoint has no chat template; it cannot serve chat completions")
    knows_tools, knows_calls = "tools" in source, "tool_calls" in source
    knows_tool_role = "'tool'" in source or '"tool"' in source
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise BadRequest(f"messages[{i}].role must be system, user, assistant or tool, got {role!r}",
                             f"messages[{i}].role")
        content = _text(m.get("content"), f"messages[{i}].content")
        msg: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
        if role == "assistant" and m.get("tool_calls"):
            calls = m["tool_calls"]
            if knows_calls:
                msg["tool_calls"] = calls
            else:
                msg["content"] = (content or "") + "".join(
                    format_tool_call(family, c["function"]["name"], c["function"].get("arguments") or "{}", k)
                    for k, c in enumerate(calls))
        if role == "tool":
            msg["tool_call_id"] = m.get("tool_call_id")
            if not knows_tool_role:
                msg = {"role": "user", "content": f"[result of tool call {m.get('tool_call_id') or ''}]\n{content or ''}"}
        if msg.get("content") is None and "tool_calls" not in msg:
            msg["content"] = ""
        out.append(msg)
    if tools and not knows_tools:
        section = tools_prompt(family, tools)
        if out[0]["role"] == "system":
            out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{section}"}
        else:
            out.insert(0, {"role": "system", "content": section})
    try:
        return tokenizer.encode_chat(out, tools=list(tools) if tools and knows_tools else None,
                                     add_generation_prompt=True)
    except Exception as exc:  # jinja2 TemplateError and friends: the template refused these messages
        raise BadRequest(f"the chat template could not render these messages: {exc}", "messages") from exc


class OutputAssembler:
    """Generated ids -> visible text pieces and tool calls, with stop strings applied.

    push(id) / finish() return a list of str (text to show) and ParsedToolCall items.
    `stopped` turns True once a stop string appeared (the text stops before it); the
    caller then cancels generation. Special tokens are dropped from the text, except
    those that spell a tool-call marker.
    """

    def __init__(self, tokenizer: ChatTokenizer, stop: Sequence[str] = (), parse_tools: bool = True):
        specials = {i: t.content for i, t in tokenizer.tokenizer.get_added_tokens_decoder().items() if t.special}
        self._skip = {i for i, text in specials.items() if not any(text in m or m in text for m in MARKERS)}
        self._decoder = StreamDecoder(lambda ids: tokenizer.decode(ids, skip_special_tokens=False))
        self._stop = [s for s in stop if s]
        self._held = ""  # text that may be the start of a stop string
        self._parser = ToolCallParser() if parse_tools else None
        self.stopped = False
        self.calls: list[ParsedToolCall] = []

    def push(self, token_id: int) -> list[str | ParsedToolCall]:
        if self.stopped or token_id in self._skip:
            return []
        return self._text(self._decoder.push(token_id), final=False)

    def finish(self) -> list[str | ParsedToolCall]:
        out = [] if self.stopped else self._text(self._decoder.flush(), final=True)
        if self._parser is not None:
            out += self._track(self._parser.finish())
        return out

    def _text(self, piece: str, final: bool) -> list[str | ParsedToolCall]:
        text = self._held + piece
        cut = min((i for s in self._stop if (i := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            text, self._held, self.stopped = text[:cut], "", True
        elif not final:
            keep = max((n for s in self._stop for n in range(len(s) - 1, 0, -1) if text.endswith(s[:n])), default=0)
            text, self._held = text[: len(text) - keep], text[len(text) - keep :]
        else:
            self._held = ""
        if not text:
            return []
        return self._track(self._parser.feed(text)) if self._parser is not None else [text]

    def _track(self, items: list[str | ParsedToolCall]) -> list[str | ParsedToolCall]:
        self.calls += [i for i in items if isinstance(i, ParsedToolCall)]
        return [i for i in items if not (isinstance(i, str) and not i)]


def tool_call_json(call: ParsedToolCall, index: int, call_id: str) -> dict[str, Any]:
    """The OpenAI `tool_calls` entry of a parsed call."""
    return {"index": index, "id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
