"""JSON text that someone else wrote — a model, a server, a file we were handed —
parsed so that no input can do worse than fail with `JSONTextError`.

Python's `json.loads` recurses once per `[` or `{` and raises `RecursionError` at about
a thousand of them, and turns an integer of more than 4,300 digits into a `ValueError`
that is not a `JSONDecodeError`. `loads` measures the nesting first (strings skipped,
no recursion), refuses text past `MAX_DEPTH` or `MAX_CHARS`, and reports every failure
as one error whose message a model or a user can act on.

Every parse of untrusted JSON text in agent/ and tools/ goes through here;
tests/architecture/test_json_parsing.py holds that.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 100            # brackets open at once; real tool arguments stay under ten
MAX_CHARS = 10_000_000     # characters; far past any model's output for one call

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONTextError(ValueError):
    """The text is not JSON we accept. `str(error)` says why, for whoever wrote it:
    "not valid JSON (Expecting value at line 1 column 9)", "nested 1000 levels deep
    (at most 100)", "10000001 characters long (at most 10000000)"."""


def loads(text: str, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Any:
    """`json.loads(text)`, bounded. Raises JSONTextError, nothing else."""
    if len(text) > max_chars:
        raise JSONTextError(f"{len(text)} characters long (at most {max_chars})")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JSONTextError(f"nested {depth} levels deep (at most {max_depth})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise JSONTextError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except (ValueError, RecursionError) as e:   # a 4,300-digit integer; a stack already deep
        raise JSONTextError(f"not JSON we accept ({e})") from None


def nesting_depth(text: str) -> int:
    """How many brackets are open at once at the deepest point of `text`, brackets
    inside strings not counted. Never less than the depth `json.loads` would reach."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
