"""Tool calls that a model wrote as text, for servers that do not parse them.

Families understood (pure functions; nothing here does I/O):

- Hermes / Qwen:   `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (several
                   allowed), and Qwen3-Coder's `<tool_call><function=NAME>
                   <parameter=KEY>VALUE</parameter></function></tool_call>` (several
                   functions, multi-line values; also without the `<tool_call>` wrapper,
                   which the model sometimes drops). Given the tools' schemas
                   (`parameter_types`), a value is typed by its parameter's: a string
                   parameter, or one the schema does not name, keeps its text (a file's
                   content that happens to be JSON stays text); others are read as JSON.
                   Without them, a value that reads as JSON is taken as JSON.
- DeepSeek:        `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
                   ```json {...}```<｜tool▁call▁end｜><｜tool▁calls▁end｜>` (V2.5/V3) and
                   `...<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>...` (V3.1).
- Bare JSON:       the whole message is `{"name": ..., "arguments": {...}}` (or
                   `"parameters"`), or a list of such objects, optionally in a fence
                   whose first line is ```json or ``` alone.

`TextCallFilter` applies them to a stream: it passes ordinary text through as it
arrives and holds back what may be a tool call until the turn ends.

Nothing here raises on any text: JSON is read with tools/json_safe.py, and a call whose
JSON is broken, too deep or too long keeps its text as `raw_arguments`, which
`tool_args.make_tool_call` turns into a tool error for the model.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools import json_safe

HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"
FUNCTION_OPEN = "<function="
DS_CALLS_BEGIN, DS_CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
DS_CALL_BEGIN, DS_CALL_END, DS_SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
START_MARKERS = (HERMES_OPEN, DS_CALLS_BEGIN, DS_CALL_BEGIN, FUNCTION_OPEN)

_HERMES = re.compile(re.escape(HERMES_OPEN) + r"(.*?)(?:" + re.escape(HERMES_CLOSE) + r"|\Z)", re.S)
_DS_CALL = re.compile(re.escape(DS_CALL_BEGIN) + r"(.*?)" + re.escape(DS_SEP) + r"(.*?)(?:"
                      + re.escape(DS_CALL_END) + r"|" + re.escape(DS_CALLS_END) + r"|\Z)", re.S)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.S)
_JSON_FENCE = re.compile(r"^```(?:json|JSON)?[ \t]*\n(.*?)\n?```\s*$", re.S)
_JSON_FENCE_HEADS = ("```", "```json", "```JSON")
_QWEN_FUNCTION = re.compile(r"<function=([^>\s]+)>(.*?)(?:</function>|\Z)", re.S)
_QWEN_PARAM = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)\n?(?:</parameter>|\Z)", re.S)
_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_BARE_FUNCTION = re.compile(r"<function=[^>\s]+>.*?</function>", re.S)  # only complete ones outside a wrapper
_TEXT_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})

Types = Mapping[str, Mapping[str, str]]  # tool name -> parameter -> its JSON-schema type


def parameter_types(tools: Any) -> dict[str, dict[str, str]]:
    """{tool name: {parameter: type}} from Chat Completions `tools` entries (or bare functions);
    a parameter without a plain type (or the first non-null one of a list / anyOf) is left out."""
    out: dict[str, dict[str, str]] = {}
    for tool in tools or ():
        function = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            continue
        properties = (function.get("parameters") or {}).get("properties")
        if isinstance(properties, Mapping):
            out[function["name"]] = {k: t for k, v in properties.items() if (t := _schema_type(v))}
    return out


def _schema_type(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), None)
    if isinstance(kind, str):
        return kind.lower()
    if "enum" in schema:
        return "string"
    branches = [b for b in schema.get("anyOf") or schema.get("oneOf") or () if isinstance(b, Mapping)]
    return next((t for b in branches if b.get("type") != "null" and (t := _schema_type(b))), None)


@dataclass(frozen=True)
class TextToolCall:
    """One call found in text: the tool name and its arguments as JSON text.

    `raw_arguments` may be malformed; `tool_args.make_tool_call` reports that to the model.
    """

    name: str
    raw_arguments: str


def parse_text_tool_calls(text: str, types: Types | None = None) -> tuple[str, list[TextToolCall]]:
    """Split `text` into (the text meant for the user, the tool calls written in it).

    types: the tools' parameter types (`parameter_types`), for Qwen3-Coder's values.
    Returns (text, []) when no family matches.
    """
    if DS_CALL_BEGIN in text:
        return _parse_deepseek(text)
    if HERMES_OPEN in text:
        calls = [call for m in _HERMES.finditer(text) for call in _parse_hermes_body(m.group(1), types)]
        return _HERMES.sub("", text).strip(), calls
    if FUNCTION_OPEN in text:
        calls = [call for m in _BARE_FUNCTION.finditer(text) for call in _qwen_functions(m.group(0), types)]
        if calls:
            return _BARE_FUNCTION.sub("", text).strip(), calls
    calls = _parse_bare_json(text)
    return ("", calls) if calls else (text, [])


def _unfence(text: str) -> str:
    m = _FENCE.match(text.strip())
    return m.group(1).strip() if m else text.strip()


def _from_object(obj: Any) -> TextToolCall | None:
    """A call from `{"name": ..., "arguments"|"parameters": ...}`, else None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    if "arguments" in obj:
        args = obj["arguments"]
    elif "parameters" in obj:
        args = obj["parameters"]
    else:
        return None
    # Some models send the arguments as a JSON string; pass it on for parsing.
    raw = args if isinstance(args, str) else json.dumps(args)
    return TextToolCall(obj["name"], raw)


def _parse_hermes_body(body: str, types: Types | None = None) -> list[TextToolCall]:
    body = _unfence(body)
    if body.startswith(FUNCTION_OPEN) and _QWEN_FUNCTION.search(body):
        return _qwen_functions(body, types)
    try:
        call = _from_object(json_safe.loads(body))
    except json_safe.JSONTextError:
        call = None
    if call is not None:
        return [call]
    # Broken envelope: keep what name we can see and hand the text on as the arguments,
    # so the model is told its JSON did not parse.
    name = _NAME.search(body)
    return [TextToolCall(name.group(1) if name else "invalid_tool_call", body)]


def _qwen_functions(body: str, types: Types | None) -> list[TextToolCall]:
    """Every `<function=NAME>...</function>` in `body`, its parameters typed by `types[NAME]`."""
    calls = []
    for name, inner in _QWEN_FUNCTION.findall(body):
        kinds = (types or {}).get(name)
        params = {key: _qwen_value(value, None if kinds is None else kinds.get(key, "string"))
                  for key, value in _QWEN_PARAM.findall(inner)}
        calls.append(TextToolCall(name, json.dumps(params)))
    return calls


def _qwen_value(value: str, kind: str | None) -> Any:
    """A parameter's value: its text for a string parameter, else JSON where it reads as JSON.
    kind None: no schema to go by."""
    if kind in _TEXT_TYPES:
        return value
    try:
        return json_safe.loads(value)
    except json_safe.JSONTextError:
        return value


def _parse_deepseek(text: str) -> tuple[str, list[TextToolCall]]:
    start = text.find(DS_CALLS_BEGIN)
    if start < 0:
        start = text.find(DS_CALL_BEGIN)
    visible = text[:start]
    end = text.find(DS_CALLS_END, start)
    if end >= 0:
        visible += text[end + len(DS_CALLS_END):]
    calls = []
    for left, right in _DS_CALL.findall(text[start:]):
        left, right = left.strip(), right.strip()
        if left == "function":          # V2.5 / V3: NAME on the first line, then a fenced block
            name, _, rest = right.partition("\n")
            calls.append(TextToolCall(name.strip(), _unfence(rest)))
        else:                           # V3.1: NAME<sep>ARGS
            calls.append(TextToolCall(left, _unfence(right)))
    return (visible.strip(), calls) if calls else (text, [])


def _parse_bare_json(text: str) -> list[TextToolCall]:
    m = _JSON_FENCE.match(text.strip())
    body = m.group(1).strip() if m else text.strip()
    if not body.startswith(("{", "[")):
        return []
    try:
        value = json_safe.loads(body)
    except json_safe.JSONTextError:
        return []
    items = value if isinstance(value, list) else [value]
    calls = [_from_object(item) for item in items]
    return calls if calls and all(c is not None for c in calls) else []  # type: ignore[misc]


class TextCallFilter:
    """Streams text through while holding back anything that may be a text tool call.

    feed(delta) returns the text that is safe to show now; finish() returns the
    rest to show and the calls found. Text is held when a start marker appears,
    while a marker may be starting at the end of what arrived, and while the whole
    message so far could be a bare JSON call (it begins with `{`, `[` or a fence).
    """

    def __init__(self, types: Types | None = None) -> None:
        self._types = types
        self._held = ""
        self._shown_any = False
        self._capturing = False

    def feed(self, delta: str) -> str:
        pending = self._held + delta
        if self._capturing:
            self._held = pending
            return ""
        if not self._shown_any and _may_be_bare_json(pending):
            self._held = pending  # all of it: the whole message may be one JSON call (markers in it or not)
            return ""
        hits = [i for i in (pending.find(m) for m in START_MARKERS) if i >= 0]
        if hits:
            cut = min(hits)
            self._held, self._capturing = pending[cut:], True
            return self._show(pending[:cut])
        keep = _marker_prefix_len(pending)
        self._held = pending[len(pending) - keep:] if keep else ""
        return self._show(pending[:len(pending) - keep])

    def finish(self) -> tuple[str, list[TextToolCall]]:
        held, self._held = self._held, ""
        visible, calls = parse_text_tool_calls(held, self._types)
        if not calls:
            return held, []
        return visible, calls

    def _show(self, text: str) -> str:
        if text:
            self._shown_any = True
        return text


def _may_be_bare_json(text: str) -> bool:
    """Could `text` still turn out to be the start of a bare JSON call (`_parse_bare_json`)?"""
    s = text.lstrip()
    if not s or s.startswith(("{", "[")):
        return True
    head, newline, _ = s.partition("\n")
    head = head.rstrip(" \t")
    if newline:
        return head in _JSON_FENCE_HEADS
    return any(fence.startswith(head) for fence in _JSON_FENCE_HEADS[1:])


def _marker_prefix_len(text: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of a start marker."""
    best = 0
    for marker in START_MARKERS:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
