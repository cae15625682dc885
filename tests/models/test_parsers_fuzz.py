"""Properties of the parsers that read model output: the text tool-call parsers (streamed
and whole text agree; nothing raises) and tool-argument parsing (JSON objects come back
as they were; anything else is an `arguments_error`, never an exception)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from agent.models.text_tool_calls import (DS_CALL_BEGIN, DS_CALL_END, DS_CALLS_BEGIN, DS_CALLS_END,
                                          DS_SEP, HERMES_CLOSE, HERMES_OPEN, TextCallFilter,
                                          parse_text_tool_calls)
from agent.models.tool_args import make_tool_call, parse_arguments
from tests.tools.test_json_safe import JSON_VALUES

DEEP = "[" * 1000 + "]" * 1000
CALL = '{"name": "read_file", "arguments": {"path": "a.py"}}'
PIECES = [HERMES_OPEN, HERMES_CLOSE, DS_CALLS_BEGIN, DS_CALL_BEGIN, DS_SEP, DS_CALL_END, DS_CALLS_END,
          "function", "read_file\n", CALL, '{"name": "x", "arguments": ' + DEEP + "}", DEEP,
          '{"path": "a"}', '{"path": ', "```json\n", "```\n", "```", "```python\n", "\n", " ",
          "<function=write_file>", "<parameter=path>", "</parameter>", "</function>", "[", "{",
          '"', "\\", "<", "<tool_", "<｜tool▁", "1" * 5000, "Sure. "]
TEXTS = st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=12).map("".join)


def stream(text: str, cuts: list[int]):
    """Feed `text` to a TextCallFilter in pieces cut at `cuts`; (visible text, calls)."""
    f = TextCallFilter()
    bounds = [0, *sorted(c % (len(text) + 1) for c in cuts), len(text)]
    shown = "".join(f.feed(text[a:b]) for a, b in zip(bounds, bounds[1:]))
    rest, calls = f.finish()
    return shown + rest, calls


def no_space(text: str) -> str:
    return "".join(text.split())


@pytest.mark.fuzz
@given(TEXTS, st.lists(st.integers(0, 10_000), max_size=8))
def test_streamed_and_whole_text_agree(text, cuts):
    visible, calls = parse_text_tool_calls(text)
    streamed, streamed_calls = stream(text, cuts)
    assert streamed_calls == calls
    # The same text reaches the user; the whole-text parser trims the space around calls.
    assert no_space(streamed) == no_space(visible)
    if not calls:
        assert streamed == text


@pytest.mark.fuzz
@given(TEXTS | st.text())
def test_no_text_makes_the_parsers_raise(text):
    _, calls = parse_text_tool_calls(text)
    for found in calls:
        call = make_tool_call("c1", found.name, found.raw_arguments)
        assert isinstance(call.arguments, dict)
        assert call.arguments_error is None or call.arguments_error.startswith("the arguments ")


@pytest.mark.fuzz
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_json_objects_come_back_as_sent(obj):
    assert parse_arguments(json.dumps(obj)) == (obj, None)


@pytest.mark.fuzz
@given(st.text() | st.sampled_from(PIECES) | st.integers(0, 3000).map(lambda n: "{" * n))
def test_any_argument_text_is_an_object_or_an_error(raw):
    arguments, error = parse_arguments(raw)
    assert (error is None and isinstance(arguments, dict)) or (arguments == {} and error)


@pytest.mark.parametrize("text", [
    f"{HERMES_OPEN}{{\"name\": \"write_file\", \"arguments\": {DEEP}}}{HERMES_CLOSE}",
    f"{DS_CALLS_BEGIN}{DS_CALL_BEGIN}write_file{DS_SEP}{DEEP}{DS_CALL_END}{DS_CALLS_END}",
    f"{HERMES_OPEN}<function=write_file><parameter=path>{DEEP}</parameter></function>{HERMES_CLOSE}",
])
def test_deeply_nested_text_calls_become_argument_errors(text):
    _, [found] = parse_text_tool_calls(text)
    call = make_tool_call("c1", found.name, found.raw_arguments)
    assert call.name == "write_file"
    assert call.arguments_error is None or "nested" in call.arguments_error
    if call.arguments_error is None:          # the Qwen form keeps an unreadable value as text
        assert call.arguments == {"path": DEEP}


def test_a_deep_bare_json_message_is_text():
    assert parse_text_tool_calls(DEEP) == (DEEP, [])


@pytest.mark.parametrize("raw, why", [
    (DEEP, "the arguments are nested 1000 levels deep (at most 100)"),
    ('{"n": ' + "9" * 5000 + "}", "the arguments are not JSON we accept"),
])
def test_deep_or_huge_tool_arguments_are_an_error_for_the_model(raw, why):
    call = make_tool_call("c1", "write_file", raw)
    assert call.arguments == {} and why in call.arguments_error and call.raw_arguments == raw


@pytest.mark.parametrize("text, has_call", [
    ("```json\n" + CALL + "\n```", True),
    ("```\n" + CALL + "\n```", True),
    ("```python\n" + CALL + "\n```", False),     # a code block, not a call
])
def test_fenced_bare_json_streams_as_it_parses(text, has_call):
    whole = parse_text_tool_calls(text)
    assert bool(whole[1]) == has_call
    assert all(stream(text, [cut]) == whole for cut in range(len(text)))
