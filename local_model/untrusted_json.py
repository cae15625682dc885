"""JSON from outside (request bodies, the arguments a model writes), parsed within bounds.

Python's json recurses once per bracket, so about a thousand nested brackets raise
RecursionError, and it turns some valid-looking text into values that cannot be written
back: integers past 4300 digits raise a bare ValueError, `1e400` becomes inf, `NaN` is
accepted, and a lone surrogate escape (`"\\ud800"`) makes a string no UTF-8 encoder takes.
`loads` refuses all of these with one error. Every parse of untrusted text in local_model
goes through it (tests/local_model/test_untrusted_json.py holds that); a checkpoint's own
files (config.json and friends) are trusted and read with json directly.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 100  # nested arrays and objects; far below the ~1000 where json recurses out
MAX_SIZE = 32 * 2**20  # characters of text (bytes, for bytes): a long chat with its tools fits

# A JSON string literal; brackets outside these are structure.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[][{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_DIGITS = 4300  # Python's own limit on converting digits to int (sys.get_int_max_str_digits)


class JSONRejected(ValueError):
    """Text that is not JSON, or JSON past the bounds; the message says which."""


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_size: int = MAX_SIZE) -> Any:
    """Parse `text` (bytes must be UTF-8) as JSON; raises JSONRejected, never anything else."""
    if len(text) > max_size:
        raise JSONRejected(f"it is longer than {max_size} {'bytes' if isinstance(text, bytes) else 'characters'}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONRejected(f"it is not UTF-8 (byte {exc.start})") from None
    if (depth := nesting_depth(text)) > max_depth:
        raise JSONRejected(f"it nests {depth} levels deep; at most {max_depth} are accepted")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_short_int)
    except ValueError as exc:  # a JSONDecodeError, or one of the three hooks
        raise JSONRejected(str(exc)) from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JSONRejected("a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text")
    return value


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting in `text`, strings left out. Exact for JSON; for other text
    never less than what json.loads would reach before it gives up."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _short_int(literal: str) -> int:
    if len(literal.lstrip("-")) > _INT_DIGITS:
        raise ValueError(f"an integer has {len(literal.lstrip('-'))} digits; at most {_INT_DIGITS} are accepted")
    return int(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal[:40]} is out of range")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
