"""Tool calls in the text a model writes, and tool definitions in the prompt it reads.

Formats (the exact text each family's model emits):

* deepseek_v3 (V2.5, V3, R1):
    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
    ```json
    {"arg": 1}
    ```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
* deepseek_v31 (V3.1, V3.2):
    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{"arg": 1}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
* kimi_k2:
    <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{"arg": 1}<|tool_call_end|><|tool_calls_section_end|>
* hermes (Qwen3 and most others):
    <tool_call>
    {"name": "NAME", "arguments": {"arg": 1}}
    </tool_call>
* qwen3_coder (Qwen3-Coder's XML form, one <tool_call> per call; also taken without the
  <tool_call> wrapper, which the model sometimes drops; see xml_calls.py for the value rules):
    <tool_call>
    <function=NAME>
    <parameter=arg>
    1
    </parameter>
    </function>
    </tool_call>

The parser understands all five whatever the checkpoint (a model fine-tuned on one format
sometimes drifts to another); the family only decides how tools are described in the
prompt when the chat template does not do it itself. Given the request's tools, XML values
are typed by their schemas. Pure functions and a small streaming state machine: nothing
here does I/O or imports torch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import untrusted_json
from .xml_calls import FUNCTION_CLOSE, FUNCTION_OPEN, PARAM_CLOSE, PARAM_OPEN, Types, format_call, xml_calls

FAMILIES = ("deepseek_v3", "deepseek_v31", "kimi_k2", "hermes", "qwen3_coder")

DS_CALLS_BEGIN, DS_CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
DS_CALL_BEGIN, DS_CALL_END, DS_SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
KIMI_SECTION_BEGIN, KIMI_SECTION_END = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
KIMI_CALL_BEGIN, KIMI_ARG_BEGIN, KIMI_CALL_END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"

# A section opens with one of these and closes with the paired marker.
SECTIONS = {DS_CALLS_BEGIN: DS_CALLS_END, DS_CALL_BEGIN: DS_CALLS_END, KIMI_SECTION_BEGIN: KIMI_SECTION_END,
            KIMI_CALL_BEGIN: KIMI_SECTION_END, HERMES_OPEN: HERMES_CLOSE, FUNCTION_OPEN: FUNCTION_CLOSE}
# Every marker a parser needs to see: special tokens carrying these must not be skipped when decoding.
MARKERS = (DS_CALLS_BEGIN, DS_CALLS_END, DS_CALL_BEGIN, DS_CALL_END, DS_SEP, KIMI_SECTION_BEGIN, KIMI_SECTION_END,
           KIMI_CALL_BEGIN, KIMI_ARG_BEGIN, KIMI_CALL_END, HERMES_OPEN, HERMES_CLOSE, FUNCTION_OPEN, FUNCTION_CLOSE,
           PARAM_OPEN, PARAM_CLOSE)

_FENCE = re.compile(r"^```[a-zA-Z]*[ \t]*\n?(.*?)\n?```\s*$", re.S)
_DS_CALL = re.compile(re.escape(DS_CALL_BEGIN) + r"(.*?)" + re.escape(DS_SEP) + r"(.*?)" + re.escape(DS_CALL_END), re.S)
_KIMI_CALL = re.compile(re.escape(KIMI_CALL_BEGIN) + r"\s*(.*?)\s*" + re.escape(KIMI_ARG_BEGIN) + r"(.*?)"
                        + re.escape(KIMI_CALL_END), re.S)
_HERMES = re.compile(re.escape(HERMES_OPEN) + r"(.*?)" + re.escape(HERMES_CLOSE), re.S)
_KIMI_ID = re.compile(r"^(?:functions\.)?(?P<name>.+?)(?::(?P<index>\d+))?$")


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a call still being written (streaming parsers made with `deltas=True`; only the
    XML form streams this way). `call` counts the calls of the stream from 0; the first delta
    of a call carries its `name`, and the arguments of all its deltas, joined, begin its final
    arguments: the ParsedToolCall that comes when the call closes holds what is left."""

    call: int
    name: str | None
    arguments: str


@dataclass(frozen=True)
class ParsedToolCall:
    """One call: the tool name and its arguments as JSON text (possibly malformed: the caller
    passes it on, and the agent tells the model). `id` is the model's own id where the format
    has one (Kimi-K2's `functions.NAME:0`), else None."""

    name: str
    arguments: str
    id: str | None = None


# ---- whole texts -------------------------------------------------------------------------

def parse_tool_calls(text: str, types: Types | None = None) -> tuple[str, list[ParsedToolCall]]:
    """Split a complete message into (visible text, tool calls). No markers: (text, []).

    types: parameter types per tool (xml_calls.parameter_types(tools)), for XML values.
    """
    parser = ToolCallParser(types)
    pieces = parser.feed(text) + parser.finish()
    visible = "".join(p for p in pieces if isinstance(p, str))
    return visible, [p for p in pieces if isinstance(p, ParsedToolCall)]


def parse_section(section: str, types: Types | None = None) -> list[ParsedToolCall]:
    """The calls in one section, from its opening marker to (and including) its closing one."""
    if section.startswith(FUNCTION_OPEN):
        return [ParsedToolCall(c.name, c.arguments) for c in xml_calls(section, types, complete=True)]
    if section.startswith(HERMES_OPEN):
        return [call for m in _HERMES.finditer(section) for call in _hermes_calls(m.group(1), types)]
    if section.startswith((KIMI_SECTION_BEGIN, KIMI_CALL_BEGIN)):
        calls = []
        for ref, args in _KIMI_CALL.findall(section):
            m = _KIMI_ID.match(ref.strip())
            calls.append(ParsedToolCall(m["name"] if m else ref.strip(), args.strip(), ref.strip() or None))
        return calls
    calls = []
    for left, right in _DS_CALL.findall(section):
        left = left.strip()
        if left == "function":  # V3: NAME on the first line, the arguments in a ```json fence
            name, _, rest = right.partition("\n")
            calls.append(ParsedToolCall(name.strip(), _unfence(rest)))
        else:  # V3.1: NAME<sep>ARGUMENTS
            calls.append(ParsedToolCall(left, _unfence(right)))
    return calls


def _unfence(text: str) -> str:
    m = _FENCE.match(text.strip())
    return m.group(1).strip() if m else text.strip()


def _hermes_calls(body: str, types: Types | None) -> list[ParsedToolCall]:
    """The calls of one <tool_call> body: Qwen3-Coder's XML functions, or one JSON envelope."""
    if body.lstrip().startswith(FUNCTION_OPEN):
        return [ParsedToolCall(c.name, c.arguments) for c in xml_calls(body, types, complete=True)]
    return [_hermes_call(body)]


def _hermes_call(body: str) -> ParsedToolCall:
    body = _unfence(body)
    try:
        obj = untrusted_json.loads(body)
    except untrusted_json.JSONRejected:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        args = obj.get("arguments", obj.get("parameters", {}))
        return ParsedToolCall(obj["name"], args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))
    # a broken envelope: keep the name if it shows, pass the text on as (malformed) arguments
    name = re.search(r'"name"\s*:\s*"([^"]+)"', body)
    return ParsedToolCall(name.group(1) if name else "invalid_tool_call", body)


# ---- streams -----------------------------------------------------------------------------

class ToolCallParser:
    """Streaming: feed text pieces, get back visible text (str) and completed calls in order.

    Visible text is released as soon as it cannot be the start of a marker; a call is
    released as soon as its closing marker arrives (a DeepSeek or Kimi section may hold
    several calls: each comes out when its own end marker does). `finish()` flushes what
    is left: an unterminated section is parsed as far as it goes.

    types: parameter types per tool, for XML values (see parse_tool_calls). deltas: also
    release XML calls while they are written, as ToolCallDelta items (the name once it is
    complete, then their arguments as they grow); each still ends with its ParsedToolCall.
    """

    def __init__(self, types: Types | None = None, deltas: bool = False) -> None:
        self._types, self._deltas = types, deltas
        self._buf = ""
        self._open: str | None = None  # the marker that opened the current section
        self._emitted = 0  # calls of the current section already released
        self._released = 0  # calls released before the current section
        self._streamed: list[str] = []  # per call of the current section: the arguments sent as deltas

    def feed(self, text: str) -> list[str | ParsedToolCall | ToolCallDelta]:
        self._buf += text
        out: list[str | ParsedToolCall | ToolCallDelta] = []
        while True:
            if self._open is None:
                hits = [(i, m) for m in SECTIONS if (i := self._buf.find(m)) >= 0]
                if not hits:
                    keep = partial_marker_len(self._buf)
                    if len(self._buf) > keep:
                        out.append(self._buf[: len(self._buf) - keep])
                        self._buf = self._buf[len(self._buf) - keep :]
                    return out
                start, marker = min(hits)
                if start:
                    out.append(self._buf[:start])
                self._buf, self._open, self._emitted, self._streamed = self._buf[start:], marker, 0, []
            end = self._section_end()
            if end is None and self._open == FUNCTION_OPEN:
                calls = []  # one call, released when it closes (the XML parser would take it as it stands)
            else:
                calls = parse_section(self._buf if end is None else self._buf[:end], self._types)
            if end is None and self._deltas:
                out.extend(self._grown())
            out.extend(self._release(calls))
            if end is None:
                return out
            self._buf, self._open = self._buf[end:], None
            self._released += self._emitted

    def _section_end(self) -> int | None:
        """Where the open section ends in the buffer (after its closing marker), or None while it is open."""
        i = self._buf.find(SECTIONS[self._open])
        return None if i < 0 else i + len(SECTIONS[self._open])

    def _release(self, calls: list[ParsedToolCall]) -> list[ParsedToolCall]:
        """The calls of the current section not released yet."""
        new = calls[self._emitted :]
        self._emitted = len(calls)
        return new

    def _grown(self) -> list[ToolCallDelta]:
        """Deltas for the XML calls of the open section: what their certain part gained since the last feed."""
        if self._open == FUNCTION_OPEN:
            body = self._buf
        elif self._open == HERMES_OPEN and self._buf[len(HERMES_OPEN):].lstrip().startswith(FUNCTION_OPEN):
            body = self._buf[len(HERMES_OPEN):]
        else:
            return []
        out = []
        for i, call in enumerate(xml_calls(body, self._types)):
            index = self._released + i
            if i == len(self._streamed):
                self._streamed.append(call.arguments)
                out.append(ToolCallDelta(index, call.name, call.arguments))
            elif len(call.arguments) > len(self._streamed[i]):
                out.append(ToolCallDelta(index, None, call.arguments[len(self._streamed[i]):]))
                self._streamed[i] = call.arguments
        return out

    def finish(self) -> list[str | ParsedToolCall]:
        """Everything still held: partial-marker text, or an unterminated section's calls."""
        buf, self._buf = self._buf, ""
        if self._open is None:
            return [buf] if buf else []
        if self._open == HERMES_OPEN:
            calls = parse_section(buf + HERMES_CLOSE, self._types)
        elif self._open == FUNCTION_OPEN:
            calls = parse_section(buf, self._types)
        elif self._open in (KIMI_SECTION_BEGIN, KIMI_CALL_BEGIN):
            calls = parse_section(buf + (KIMI_CALL_END if buf.count(KIMI_CALL_BEGIN) > buf.count(KIMI_CALL_END) else ""))
        else:
            calls = parse_section(buf + (DS_CALL_END if buf.count(DS_CALL_BEGIN) > buf.count(DS_CALL_END) else ""))
        self._open = None
        return list(self._release(calls))


def partial_marker_len(text: str, markers: Sequence[str] = SECTIONS) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `markers` (by
    default the section markers): what a stream holds back until the next piece settles it."""
    for n in range(min(len(text), max(map(len, markers), default=1) - 1), 0, -1):
        tail = text[-n:]
        if any(m.startswith(tail) for m in markers):
            return n
    return 0


# ---- prompts -----------------------------------------------------------------------------

def detect_family(chat_template: str | None, vocabulary: Sequence[str] = ()) -> str:
    """The tool-call family of a checkpoint, from its chat template and special tokens."""
    text = (chat_template or "") + "\n".join(vocabulary)
    if KIMI_SECTION_BEGIN in text:
        return "kimi_k2"
    if DS_CALL_BEGIN in text or DS_CALLS_BEGIN in text:
        # V3's template writes 'function' + '<｜tool▁sep｜>' before the name; V3.1's writes the name first
        return "deepseek_v3" if re.search(r"function['\"]?\s*\+?\s*['\"]?" + re.escape(DS_SEP), text) else "deepseek_v31"
    if FUNCTION_OPEN in text and PARAM_OPEN in text:  # Qwen3-Coder's template shows and writes the XML form
        return "qwen3_coder"
    return "hermes"


def format_tool_call(family: str, name: str, arguments: str, index: int = 0) -> str:
    """One call written exactly as `family`'s model writes it (a whole section)."""
    if family == "deepseek_v3":
        return (f"{DS_CALLS_BEGIN}{DS_CALL_BEGIN}function{DS_SEP}{name}\n```json\n{arguments}\n```"
                f"{DS_CALL_END}{DS_CALLS_END}")
    if family == "deepseek_v31":
        return f"{DS_CALLS_BEGIN}{DS_CALL_BEGIN}{name}{DS_SEP}{arguments}{DS_CALL_END}{DS_CALLS_END}"
    if family == "kimi_k2":
        return (f"{KIMI_SECTION_BEGIN}{KIMI_CALL_BEGIN}functions.{name}:{index}{KIMI_ARG_BEGIN}{arguments}"
                f"{KIMI_CALL_END}{KIMI_SECTION_END}")
    if family == "hermes":
        return f'{HERMES_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {arguments}}}\n{HERMES_CLOSE}'
    if family == "qwen3_coder":
        return format_call(name, arguments)
    raise ValueError(f"unknown tool-call family {family!r}; expected one of {FAMILIES}")


def tools_prompt(family: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """A system-prompt section that describes `tools` (OpenAI `tools` entries) and how to call
    them, for chat templates that do not render tools themselves. Mirrors the wording of the
    family's own templates (DeepSeek-V3.1's "## Tools", Kimi-K2's and Hermes' JSON lists)."""
    functions = [t.get("function", t) for t in tools]
    example = format_tool_call(family, "NAME", '{"ARGUMENT": "VALUE"}')
    if family in ("deepseek_v3", "deepseek_v31"):
        lines = ["## Tools", "You have access to the following tools:"]
        for f in functions:
            lines += ["", f"### {f['name']}", f"Description: {f.get('description', '')}", "",
                      f"Parameters: {json.dumps(f.get('parameters', {}), ensure_ascii=False)}"]
        lines += ["", "IMPORTANT: ALWAYS adhere to this exact format for tool use:", example,
                  "Where NAME is the tool's name and the arguments are a JSON object."]
        return "\n".join(lines)
    listing = "\n".join(json.dumps({"type": "function", "function": f}, ensure_ascii=False) for f in functions)
    if family == "kimi_k2":
        return f"# Tools\nYou can call these functions:\n{listing}\n\nTo call one, write exactly:\n{example}"
    if family == "qwen3_coder":
        return ("# Tools\n\nYou have access to the following functions:\n\n"
                f"<tools>\n{listing}\n</tools>\n\nIf you choose to call a function ONLY reply in the following "
                f"format with NO suffix:\n\n{example}\n\nA value may span several lines; every call is its own "
                "<tool_call></tool_call> block.")
    return ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            f"You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{listing}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            f"<tool_call></tool_call> XML tags:\n{example}")
