"""Hypothesis strategies for Chat Completions request bodies: mostly well-formed, any field
possibly replaced by arbitrary JSON, so that inputs reach every check from the schema to
the chat template. `resolves(body, param)` says whether an error's `param` names a place
in the body (the field itself, or where a missing one belongs)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


def field(valid: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` about nine times in ten, anything else the tenth (a body has many fields: most stay
    valid). Shrinks towards valid, so a failure shows the one field that matters."""
    return st.integers(1, 10).flatmap(lambda i: valid if i < 10 else ANY_JSON)


NAMES = st.sampled_from(["read_file", "run", "x"])
TEXT = st.text(max_size=20)
TOOL_CALL = st.fixed_dictionaries(
    {"function": field(st.fixed_dictionaries({"name": field(NAMES)}, optional={"arguments": field(TEXT)}))},
    optional={"id": field(TEXT), "type": field(st.just("function"))})
PARTS = st.lists(st.fixed_dictionaries({"type": field(st.just("text")), "text": field(TEXT)}), max_size=2)
MESSAGE = st.fixed_dictionaries(
    {"role": field(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))},
    optional={"content": field(TEXT | PARTS), "tool_calls": field(st.lists(TOOL_CALL, max_size=2)),
              "tool_call_id": field(TEXT)})
TOOL = st.fixed_dictionaries({"type": field(st.just("function")), "function": field(st.fixed_dictionaries(
    {"name": field(NAMES)}, optional={"description": field(TEXT), "parameters": field(st.just({"type": "object"}))}))})
TOOL_CHOICE = st.sampled_from(["none", "auto", "required"]) | st.fixed_dictionaries(
    {"type": field(st.just("function")), "function": field(st.fixed_dictionaries({"name": field(NAMES)}))})

BODIES = field(st.fixed_dictionaries({"messages": field(st.lists(MESSAGE, min_size=1, max_size=3))}, optional={
    "model": field(TEXT), "stream": field(st.booleans()),
    "stream_options": field(st.fixed_dictionaries({}, optional={"include_usage": field(st.booleans())})),
    "max_tokens": field(st.integers(-1, 2**70)), "max_completion_tokens": field(st.integers(-1, 40)),
    "temperature": field(st.floats(-1, 3)), "top_p": field(st.floats(-0.5, 1.5)),
    "stop": field(TEXT | st.lists(TEXT, max_size=5)), "seed": field(st.integers(-2**65, 2**65)),
    "n": field(st.integers(-1, 2)), "tools": field(st.lists(TOOL, max_size=2)), "tool_choice": field(TOOL_CHOICE),
}))


def resolves(body: Any, param: str | None) -> bool:
    """Whether every step of `param` but the last exists in `body` (None: the body as a whole)."""
    if param is None:
        return True
    steps = [int(i) if i else key for key, i in re.findall(r"(\w+)|\[(\d+)\]", param)]
    node = body
    for step in steps[:-1]:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return False
    return True
