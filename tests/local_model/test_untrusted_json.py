"""local_model.untrusted_json: bounded parsing, and proof that every JSON parse in local_model uses it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_model.untrusted_json import MAX_DEPTH, JSONRejected, loads, nesting_depth

PACKAGE = Path(__file__).resolve().parents[2] / "local_model"

# Files that parse JSON with json itself, each with why its input is trusted.
TRUSTED = {
    "untrusted_json.py": "the helper itself",
    "config.py": "config.json of the checkpoint being loaded",
    "tokenizer.py": "tokenizer_config.json of the checkpoint being loaded",
    "weights.py": "model.safetensors.index.json of the checkpoint being loaded",
}
PARSERS = {"load", "loads", "JSONDecoder", "raw_decode"}


def json_parses(path: Path) -> list[int]:
    """Lines of `path` that parse JSON with the json module (json.loads, from json import load, ...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "json" and {a.name for a in node.names} & PARSERS:
            lines.append(node.lineno)
        elif (isinstance(node, ast.Attribute) and node.attr in PARSERS and isinstance(node.value, ast.Name)
              and node.value.id == "json"):
            lines.append(node.lineno)
    return lines


def test_every_json_parse_in_local_model_goes_through_the_helper():
    found = {p.name: json_parses(p) for p in sorted(PACKAGE.rglob("*.py"))}
    untrusted = {name: lines for name, lines in found.items() if lines and name not in TRUSTED}
    assert not untrusted, f"parse untrusted JSON with local_model.untrusted_json.loads instead: {untrusted}"
    assert all(found.get(name) for name in TRUSTED), "an allow-listed file no longer parses JSON: drop it"


def test_the_scan_sees_each_way_of_calling_json(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text("import json\nfrom json import loads\njson.loads(x)\njson.load(f)\n"
                    "json.JSONDecoder().raw_decode(x)\njson.dumps(x)\n", encoding="utf-8")
    assert json_parses(path) == [2, 3, 4, 5]


@pytest.mark.parametrize("text, reason", [
    ("[" * 1000 + "]" * 1000, "nests 1000 levels"),
    ('{"a": ' * 1000 + "1" + "}" * 1000, "nests 1000 levels"),
    ("[" * 1000, "nests 1000 levels"),  # not JSON either, but it must not recurse to find that out
    ("1" * 5000, "5000 digits"),
    ("[1e400]", "out of range"),
    ("NaN", "NaN is not a JSON number"),
    ('["\\ud800"]', "lone UTF-16 surrogate"),
    (b"\xff{}", "not UTF-8"),
    ("{", "Expecting property name"),
    ("", "Expecting value"),
])
def test_what_is_refused_and_why(text, reason):
    with pytest.raises(JSONRejected, match=reason):
        loads(text)


def test_size_and_depth_bounds():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) == json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(JSONRejected, match="longer than 10 characters"):
        loads('"' + "x" * 10 + '"', max_size=10)
    assert loads('["[[[[", "\\"]]", {"k": "{{"}]', max_depth=2) == ["[[[[", '"]]', {"k": "{{"}]
    assert loads('"\\ud83d\\ude00 \\\\ud800"') == "\U0001F600 \\ud800"  # a pair, and an escaped backslash


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@pytest.mark.fuzz
@given(json_values)
def test_json_round_trips_and_depth_is_exact(value):
    text = json.dumps(value)
    assert loads(text) == value
    assert nesting_depth(text) == _depth(value)


@pytest.mark.fuzz
@given(st.text(alphabet='[]{}"\\,:01 ntrue' + "ab", max_size=300) | st.binary(max_size=100))
def test_any_text_parses_or_is_refused(text):
    try:
        loads(text)
    except JSONRejected:
        pass


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0
