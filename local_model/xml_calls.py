"""Qwen3-Coder's XML tool-call form: its calls as JSON arguments, whole or as a growing prefix.

    <tool_call>
    <function=write_file>
    <parameter=path>
    src/app.py
    </parameter>
    <parameter=content>
    def f():
        return 1
    </parameter>
    </function>
    </tool_call>

A function's body ends at its first `</function>` (or where the text ends); a parameter's
value at its first `</parameter>` (or where the function body ends), with the one newline
after `<parameter=NAME>` and the one before the closing tag dropped, as Qwen3-Coder's chat
template writes them. Values are typed by the tool's JSON schema, as vLLM's qwen3_coder
parser does: a string parameter (and one the schema does not describe) keeps the text
as it is; integer, number, boolean, object and array parameters are parsed, and keep the
text when it does not parse. A function with no parameters passes the text of its body on
(malformed arguments, for the agent to report), or `{}` when it is empty.

`xml_calls(body, types, complete=False)` gives, for the text seen so far, what is certain
whatever comes next: each started call's name and a prefix of its final arguments. The
streaming parser sends the growth of that prefix as deltas; `complete=True` gives the final
arguments, which always begin with every prefix streamed before. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import untrusted_json

FUNCTION_OPEN, FUNCTION_CLOSE = "<function=", "</function>"
PARAM_OPEN, PARAM_CLOSE = "<parameter=", "</parameter>"
# Text a value may end with that could still turn out to be (the start of) its closing tag.
_CLOSERS = ("\n" + PARAM_CLOSE, "\n" + FUNCTION_CLOSE, "\n</tool_call>")
_STRING_TYPES = frozenset({"string", "str", "text", "varchar", "char", "enum"})
_INTEGER_TYPES = frozenset({"integer", "int", "uint", "long", "short", "unsigned"})
_NUMBER_TYPES = frozenset({"number", "float", "double", "num"})
_BOOLEAN_TYPES = frozenset({"boolean", "bool", "binary"})

Types = Mapping[str, Mapping[str, str]]  # function name -> parameter name -> JSON-schema type


@dataclass(frozen=True)
class XmlCall:
    """One <function=NAME> block: its name and its arguments (a prefix of them while `closed` is False)."""

    name: str
    arguments: str
    closed: bool


def parameter_types(tools: Sequence[Mapping[str, Any]] | None) -> dict[str, dict[str, str]]:
    """{function name: {parameter: type}} from OpenAI `tools` entries; parameters without a usable
    type are left out (their values stay text)."""
    out: dict[str, dict[str, str]] = {}
    for tool in tools or ():
        function = tool.get("function", tool)
        properties = (function.get("parameters") or {}).get("properties") or {}
        if not isinstance(function.get("name"), str) or not isinstance(properties, Mapping):
            continue
        out[function["name"]] = {p: t for p, schema in properties.items() if (t := _schema_type(schema))}
    return out


def _schema_type(schema: Any) -> str | None:
    """A property's type: `type` (the first non-null one of a list), else that of the first anyOf/oneOf branch."""
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), None)
    if isinstance(kind, str):
        return kind.strip().lower()
    if "enum" in schema:
        return "string"
    for branch in schema.get("anyOf") or schema.get("oneOf") or ():
        if isinstance(branch, Mapping) and branch.get("type") not in (None, "null"):
            return _schema_type(branch)
    return None


def convert(raw: str, kind: str | None) -> Any:
    """A parameter's value from its text, by the schema type `kind` (None: not described: text)."""
    if kind is None or kind in _STRING_TYPES:
        return raw
    text = raw.strip()
    if text.lower() in ("null", "none"):
        return None
    if kind in _BOOLEAN_TYPES:
        return {"true": True, "false": False}.get(text.lower(), raw)
    try:
        value = untrusted_json.loads(text)
    except untrusted_json.JSONRejected:
        return raw
    if kind in _INTEGER_TYPES:
        return value if isinstance(value, int) and not isinstance(value, bool) else raw
    if kind in _NUMBER_TYPES:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return value if ok else raw
    return value  # object, array or a type we do not know: whatever JSON it is


def xml_calls(body: str, types: Types | None = None, complete: bool = False) -> list[XmlCall]:
    """The calls in `body` (text holding <function=...> blocks). Without `complete`, text may
    still follow: a call whose name is not finished is left out and the last call's arguments
    are the part no continuation can change."""
    calls, pos = [], 0
    while (start := body.find(FUNCTION_OPEN, pos)) >= 0:
        name_end = body.find(">", start)
        if name_end < 0:
            if complete:  # a name that never closed: keep what shows, no arguments
                calls.append(XmlCall(body[start + len(FUNCTION_OPEN):].strip(), "{}", True))
            break
        name = body[start + len(FUNCTION_OPEN) : name_end].strip()
        close = body.find(FUNCTION_CLOSE, name_end)
        closed = complete or close >= 0
        inner = body[name_end + 1 : close if close >= 0 else len(body)]
        kinds = (types or {}).get(name, {})
        calls.append(XmlCall(name, _arguments(inner, kinds, closed), closed))
        if close < 0:
            break
        pos = close + len(FUNCTION_CLOSE)
    return calls


def _arguments(inner: str, kinds: Mapping[str, str], closed: bool) -> str:
    """JSON text of one function body's parameters; a safe prefix of it unless `closed`."""
    pieces: list[str] = []
    pos = 0
    while (start := inner.find(PARAM_OPEN, pos)) >= 0:
        name_end = inner.find(">", start)
        if name_end < 0:
            break  # the name is still coming (closed: a broken tag, ignored)
        name = inner[start + len(PARAM_OPEN) : name_end].strip()
        close = inner.find(PARAM_CLOSE, name_end)
        value = inner[name_end + 1 : close if close >= 0 else len(inner)]
        head = ("{" if not pieces else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        kind = kinds.get(name)
        if close >= 0 or closed:
            pieces.append(head + json.dumps(convert(_trim(value), kind), ensure_ascii=False))
        else:  # the value is still being written
            if kind is None or kind in _STRING_TYPES:
                head += '"' + json.dumps(_settled(value), ensure_ascii=False)[1:-1]
            pieces.append(head)
            return "".join(pieces)
        if close < 0:
            break
        pos = close + len(PARAM_CLOSE)
    if pieces:
        return "".join(pieces) + ("}" if closed else "")
    if not closed:
        return ""
    return inner.strip() or "{}"


def _trim(value: str) -> str:
    """Drop the newline the template writes after the opening tag and the one before the closing tag."""
    if value.startswith("\n"):
        value = value[1:]
    return value[:-1] if value.endswith("\n") else value


def _settled(value: str) -> str:
    """The part of an unfinished value that stays whatever follows: without the leading newline
    (once there is text to tell) and without a tail that may be the start of a closing tag."""
    value = value[1:] if value.startswith("\n") else value
    for n in range(min(len(value), max(map(len, _CLOSERS))), 0, -1):
        tail = value[-n:]
        if any(c.startswith(tail) or c[1:].startswith(tail) for c in _CLOSERS):
            return value[:-n]
    return value


def format_call(name: str, arguments: str) -> str:
    """One call written as Qwen3-Coder writes it: strings as they are, other values as JSON;
    arguments that are not a JSON object go in as the function body's text."""
    try:
        obj = untrusted_json.loads(arguments)
    except untrusted_json.JSONRejected:
        obj = None
    if not isinstance(obj, dict):
        return f"<tool_call>\n{FUNCTION_OPEN}{name}>\n{arguments}\n{FUNCTION_CLOSE}\n</tool_call>"
    params = "".join(f"{PARAM_OPEN}{k}>\n{v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}\n"
                     f"{PARAM_CLOSE}\n" for k, v in obj.items())
    return f"<tool_call>\n{FUNCTION_OPEN}{name}>\n{params}{FUNCTION_CLOSE}\n</tool_call>"
