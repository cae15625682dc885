"""Between OpenAI-style chat requests and token ids: the prompt in, the message out.

No HTTP and no torch here: `prepare_chat` validates a request body (request.py) and
`build_prompt` renders its messages and tools with the checkpoint's chat template;
`OutputAssembler` turns generated ids into visible text, reasoning (reasoning.py) and tool
calls, applying stop strings, as they arrive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .generate import StreamDecoder
from .reasoning import CLOSE, OPEN, Reasoning, ReasoningSplitter, opens_in_prompt, thinks
from .request import BadRequest, ChatRequest, NamedToolChoice, parse_chat_request
from .tokenizer import ChatTokenizer
from .tool_calls import (MARKERS, ParsedToolCall, ToolCallDelta, ToolCallParser, format_tool_call,
                         partial_marker_len, tools_prompt)
from . import untrusted_json
from .xml_calls import Types, parameter_types

# A template that walks a call's arguments as a mapping (Qwen3-Coder's `tool_call.arguments|items`)
# gets them parsed: OpenAI clients send them as a JSON string.
_ARGUMENTS_AS_MAPPING = re.compile(r"arguments\s*\|\s*(?:items|dictsort)|arguments\.items\(\)")


@dataclass(frozen=True)
class PreparedChat:
    """A request ready for the engine: validated, its prompt rendered."""

    request: ChatRequest
    prompt: list[int]
    parse_tools: bool  # tools are offered, so tool calls in the output are parsed
    types: Types  # the offered tools' parameter types (for XML tool-call values)
    # a reasoning model's output is split (reasoning.py): None when the template has no reasoning
    # block, else whether the prompt already opened one
    reasoning: bool | None = None


# Template variables a request's chat_template_kwargs cannot set: the server sets them.
_RESERVED_TEMPLATE_VARS = frozenset({"messages", "tools", "documents", "add_generation_prompt", "template_name",
                                     "bos_token", "eos_token"})


def prepare_chat(tokenizer: ChatTokenizer, family: str, body: bytes | str) -> PreparedChat:
    """Everything the server does with a request body before the engine sees it; raises BadRequest."""
    request = parse_chat_request(body)
    tools = select_tools([t.model_dump(exclude_none=True) for t in request.tools or []], request.tool_choice)
    variables = dict(request.chat_template_kwargs or {})
    if reserved := sorted(_RESERVED_TEMPLATE_VARS & variables.keys()):
        raise BadRequest(f"chat_template_kwargs cannot set {reserved}: the server sets them", "chat_template_kwargs")
    prompt = build_prompt(tokenizer, family, [m.model_dump(exclude_none=True) for m in request.messages], tools,
                          variables)
    if not prompt:
        raise BadRequest("the chat template rendered these messages as an empty prompt; there is nothing to "
                         "continue", "messages")
    reasoning = None
    if thinks(tokenizer.template_source(tools=tools)):
        reasoning = opens_in_prompt(tokenizer.decode(prompt[-8:], skip_special_tokens=False))
    return PreparedChat(request, prompt, tools is not None, parameter_types(tools), reasoning)


def select_tools(tools: Sequence[Mapping], tool_choice: str | NamedToolChoice | None) -> list[Mapping] | None:
    """The tools to offer the model given `tool_choice` ("none" | "auto" | "required" | a named function).

    "required" and a named function are honoured by what the prompt offers (only that tool);
    decoding is not constrained, so a model may still answer in plain text.
    """
    if not tools or tool_choice == "none":
        return None
    if not isinstance(tool_choice, NamedToolChoice):  # None, "auto", "required"
        return list(tools)
    chosen = [t for t in tools if t["function"]["name"] == tool_choice.function.name]
    if not chosen:
        raise BadRequest(f"tool_choice names function {tool_choice.function.name!r}, which is not in tools",
                         "tool_choice")
    return chosen


def build_prompt(tokenizer: ChatTokenizer, family: str, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping] | None, variables: Mapping[str, Any] | None = None) -> list[int]:
    """Token ids of the chat, tools described the way the checkpoint expects. `messages` and
    `tools` are shaped as request.ChatRequest holds them (as dicts); the template's own
    refusal of them is a BadRequest.

    A template that reads `tools` renders them itself; otherwise the family's tool section
    (tool_calls.tools_prompt) joins the system message. Likewise earlier assistant tool
    calls and tool results are handed to a template that knows them, and written out as
    the family's text otherwise. `variables` go to the template as they are (enable_thinking…).
    """
    source = tokenizer.template_source(tools=tools) if tokenizer.chat_template is not None else None
    if source is None:
        raise BadRequest("this checkpoint has no chat template; it cannot serve chat completions")
    knows_tools, knows_calls = "tools" in source, "tool_calls" in source
    knows_tool_role = "'tool'" in source or '"tool"' in source
    mapping_arguments = bool(_ARGUMENTS_AS_MAPPING.search(source))
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = m["role"]
        content = _text(m.get("content"))
        msg: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
        if role == "assistant" and m.get("tool_calls"):
            calls = m["tool_calls"]
            if knows_calls:
                msg["tool_calls"] = [_arguments_as_mapping(c, f"messages[{i}].tool_calls[{k}].function.arguments")
                                     for k, c in enumerate(calls)] if mapping_arguments else calls
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
                                     add_generation_prompt=True, **(variables or {}))
    except Exception as exc:  # jinja2 TemplateError and friends: the template refused these messages
        raise BadRequest(f"the chat template could not render these messages: {exc}", "messages") from exc


def _arguments_as_mapping(call: Mapping[str, Any], param: str) -> Mapping[str, Any]:
    """`call` with its function's arguments parsed from JSON text to a mapping (empty text: {})."""
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return call
    try:
        parsed = untrusted_json.loads(arguments) if arguments.strip() else {}
    except untrusted_json.JSONRejected as exc:
        raise BadRequest(f"the chat template needs the arguments as a JSON object, but {exc}", param) from None
    if not isinstance(parsed, dict):
        raise BadRequest(f"the chat template needs the arguments as a JSON object, not {type(parsed).__name__}",
                         param)
    return {**call, "function": {**function, "arguments": parsed}}


class OutputAssembler:
    """Generated ids -> visible text pieces, reasoning and tool calls, with stop strings applied.

    push(id) / finish() return a list of str (text to show), Reasoning (with `reasoning` not
    None: the model's `<think>` block, None meaning the template has none and True that the
    prompt opened it), ParsedToolCall and (with `deltas`) ToolCallDelta items (see
    tool_calls.ToolCallParser; types: the offered tools' parameter types); tool calls are
    parsed in the answer only. `stopped` turns True once a stop string appeared (the text
    stops before it); the caller then cancels generation. Special tokens are dropped from
    the text, except those that spell a tool-call marker or a reasoning tag.
    """

    def __init__(self, tokenizer: ChatTokenizer, stop: Sequence[str] = (), parse_tools: bool = True,
                 types: Types | None = None, deltas: bool = False, reasoning: bool | None = None):
        specials = {i: t.content for i, t in tokenizer.tokenizer.get_added_tokens_decoder().items() if t.special}
        kept = (*MARKERS, OPEN, CLOSE)
        self._skip = {i for i, text in specials.items() if not any(text in m or m in text for m in kept)}
        self._decoder = StreamDecoder(lambda ids: tokenizer.decode(ids, skip_special_tokens=False))
        self._stop = [s for s in stop if s]
        self._held = ""  # text that may be the start of a stop string
        self._splitter = ReasoningSplitter(inside=reasoning) if reasoning is not None else None
        self._parser = ToolCallParser(types, deltas) if parse_tools else None
        self.stopped = False
        self.calls: list[ParsedToolCall] = []

    def push(self, token_id: int) -> list[str | ParsedToolCall | ToolCallDelta]:
        if self.stopped or token_id in self._skip:
            return []
        return self._text(self._decoder.push(token_id), final=False)

    def finish(self) -> list[str | Reasoning | ParsedToolCall | ToolCallDelta]:
        out = [] if self.stopped else self._text(self._decoder.flush(), final=True)
        if self._splitter is not None:
            out += self._answer(self._splitter.finish())
        if self._parser is not None:
            out += self._track(self._parser.finish())
        return out

    def _text(self, piece: str, final: bool) -> list[str | ParsedToolCall | ToolCallDelta]:
        text = self._held + piece
        cut = min((i for s in self._stop if (i := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            text, self._held, self.stopped = text[:cut], "", True
        elif not final:
            keep = partial_marker_len(text, self._stop)
            text, self._held = text[: len(text) - keep], text[len(text) - keep :]
        else:
            self._held = ""
        if not text:
            return []
        return self._answer(self._splitter.feed(text) if self._splitter is not None else [text])

    def _answer(self, pieces: list[str | Reasoning]) -> list[str | Reasoning | ParsedToolCall | ToolCallDelta]:
        """Reasoning as it is; the answer's text through the tool-call parser."""
        out: list = []
        for piece in pieces:
            if isinstance(piece, str) and self._parser is not None:
                out += self._track(self._parser.feed(piece))
            else:
                out.append(piece)
        return out

    def _track(self, items: list) -> list[str | ParsedToolCall | ToolCallDelta]:
        self.calls += [i for i in items if isinstance(i, ParsedToolCall)]
        return [i for i in items if not (isinstance(i, str) and not i)]


def _text(content: str | list[Mapping[str, str]] | None) -> str | None:
    """Message content: a string, None, or a list of {"type": "text", "text": ...} parts, joined."""
    return "".join(part["text"] for part in content) if isinstance(content, list) else content


def tool_call_json(call: ParsedToolCall, index: int, call_id: str) -> dict[str, Any]:
    """The OpenAI `tool_calls` entry of a parsed call."""
    return {"index": index, "id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
