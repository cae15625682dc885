"""tools/json_safe.py: JSON from others, bounded in depth and size; one error type."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from tools import json_safe
from tools.json_safe import MAX_DEPTH, JSONTextError, nesting_depth

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@pytest.mark.parametrize("text, why", [
    ("[" * 1000 + "]" * 1000, "nested 1000 levels deep (at most 100)"),
    ('{"a": ' * 1000 + "1" + "}" * 1000, "nested 1000 levels deep"),
    ("[" * 5000, "nested 5000 levels deep"),              # cut off: still never recurses
    ("1" * 5000, "not JSON we accept"),                    # past int's 4,300 digits
    ('{"path": "a", }', "not valid JSON (Expecting property name"),
])
def test_refusals_say_why(text, why):
    with pytest.raises(JSONTextError) as info:
        json_safe.loads(text)
    assert why in str(info.value)


def test_size_is_bounded():
    with pytest.raises(JSONTextError, match=r"12 characters long \(at most 10\)"):
        json_safe.loads('"' + "x" * 10 + '"', max_chars=10)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"content": "[" * 5000 + '\\"{' * 100})
    assert json_safe.loads(text) == json.loads(text) and nesting_depth(text) == 1


def test_as_deep_as_allowed_parses():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert nesting_depth(text) == MAX_DEPTH and json_safe.loads(text) == json.loads(text)


@pytest.mark.fuzz
@given(JSON_VALUES)
def test_any_json_round_trips_and_its_depth_is_measured(value):
    text = json.dumps(value)
    assert nesting_depth(text) == depth_of(value)
    assert json_safe.loads(text) == value


@pytest.mark.fuzz
@given(st.text(alphabet=st.sampled_from('[]{}"\\,:1 ax') | st.characters(), max_size=300)
       | st.integers(0, 3000).map(lambda n: "[" * n + "]" * n))
def test_any_text_parses_as_json_does_or_raises_only_the_documented_error(text):
    try:
        value = json_safe.loads(text)
    except JSONTextError as e:
        assert str(e)
        return
    assert json.dumps(value) == json.dumps(json.loads(text))
