"""Parsers for tool calls written as text, and the streaming filter that holds them back."""
from __future__ import annotations

import json

import pytest

from agent.models.text_tool_calls import TextCallFilter, TextToolCall, parameter_types, parse_text_tool_calls

DS = ("<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>",
      "<｜tool▁calls▁end｜>")


def args(call: TextToolCall):
    return json.loads(call.raw_arguments)


def test_hermes_several_calls_and_surrounding_text():
    text = ('Reading both.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n</tool_call>\n'
            '<tool_call>{"name": "grep", "arguments": "{\\"pattern\\": \\"x\\"}"}</tool_call>')
    visible, calls = parse_text_tool_calls(text)
    assert visible == "Reading both."
    assert [(c.name, args(c)) for c in calls] == [("read_file", {"path": "a"}), ("grep", {"pattern": "x"})]


def test_hermes_unclosed_at_end_and_parameters_key():
    _, [call] = parse_text_tool_calls('<tool_call>{"name": "shell", "parameters": {"command": "ls"}}')
    assert (call.name, args(call)) == ("shell", {"command": "ls"})


def test_hermes_broken_json_keeps_name_and_raw_text():
    _, [call] = parse_text_tool_calls('<tool_call>{"name": "write_file", "arguments": {"path": "a",}}</tool_call>')
    assert call.name == "write_file"
    with pytest.raises(json.JSONDecodeError):
        json.loads(call.raw_arguments)


def test_qwen3_coder_xml_form():
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\na.py\n</parameter>\n"
            "<parameter=content>\nprint(1)\n</parameter>\n</function>\n</tool_call>")
    _, [call] = parse_text_tool_calls(text)
    assert (call.name, args(call)) == ("write_file", {"path": "a.py", "content": "print(1)"})


def test_qwen3_coder_values_follow_the_tools_schema():
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\n2024\n</parameter>\n"
            '<parameter=content>\n{\n  "a": [1, 2]\n}\n\n</parameter>\n<parameter=mode>\n644\n</parameter>\n'
            "<parameter=retries>\n3\n</parameter>\n</function>\n</tool_call>")
    types = parameter_types([{"type": "function", "function": {"name": "write_file", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"},
                                         "retries": {"type": ["integer", "null"]}}}}}])
    _, [call] = parse_text_tool_calls(text, types)
    # a file whose content is JSON stays text; a parameter the schema does not name too
    assert args(call) == {"path": "2024", "content": '{\n  "a": [1, 2]\n}\n', "mode": "644", "retries": 3}
    _, [untyped] = parse_text_tool_calls(text)  # no schema to go by: what reads as JSON is JSON
    assert args(untyped)["content"] == {"a": [1, 2]} and args(untyped)["retries"] == 3


def test_qwen3_coder_several_functions_and_no_wrapper():
    text = ("Two.\n<tool_call>\n<function=read_file>\n<parameter=path>\na\n</parameter>\n</function>\n"
            "<function=read_file>\n<parameter=path>\nb\n</parameter>\n</function>\n</tool_call>")
    visible, calls = parse_text_tool_calls(text)
    assert visible == "Two." and [args(c) for c in calls] == [{"path": "a"}, {"path": "b"}]
    bare = "Reading.\n<function=read_file>\n<parameter=path>\nline one\nline two\n</parameter>\n</function>"
    visible, [call] = parse_text_tool_calls(bare)
    assert visible == "Reading." and args(call) == {"path": "line one\nline two"}
    shown, rest, [streamed] = feed_all(["Reading.\n<func", bare[len("Reading.\n<func"):]])
    assert "".join(shown) + rest == "Reading.\n" and streamed == call
    assert parse_text_tool_calls("see <function=x> in the docs") == ("see <function=x> in the docs", [])


def test_deepseek_v3_fenced_form_two_calls():
    b, cb, sep, ce, e = DS
    text = (f"Let me look.{b}{cb}function{sep}read_file\n```json\n{{\"path\": \"a\"}}\n```{ce}"
            f"{cb}function{sep}list_files\n```json\n{{}}\n```{ce}{e}")
    visible, calls = parse_text_tool_calls(text)
    assert visible == "Let me look."
    assert [(c.name, args(c)) for c in calls] == [("read_file", {"path": "a"}), ("list_files", {})]


def test_deepseek_v31_form():
    b, cb, sep, ce, e = DS
    _, [call] = parse_text_tool_calls(f'{b}{cb}grep{sep}{{"pattern": "TODO"}}{ce}{e}')
    assert (call.name, args(call)) == ("grep", {"pattern": "TODO"})


@pytest.mark.parametrize("text", [
    '{"name": "read_file", "arguments": {"path": "a"}}',
    '```json\n{"name": "read_file", "arguments": {"path": "a"}}\n```',
    '  [{"name": "read_file", "arguments": {"path": "a"}}]  ',
])
def test_bare_json(text):
    visible, [call] = parse_text_tool_calls(text)
    assert visible == "" and (call.name, args(call)) == ("read_file", {"path": "a"})


@pytest.mark.parametrize("text", ['{"answer": 42}', "plain words", '{"name": "x"}', "{not json"])
def test_no_tool_call(text):
    assert parse_text_tool_calls(text) == (text, [])


def feed_all(pieces):
    f = TextCallFilter()
    shown = [f.feed(p) for p in pieces]
    rest, calls = f.finish()
    return shown, rest, calls


def test_filter_passes_plain_text_through_as_it_arrives():
    shown, rest, calls = feed_all(["Hello ", "world", "!"])
    assert shown == ["Hello ", "world", "!"] and rest == "" and calls == []


def test_filter_holds_a_marker_split_across_deltas():
    shown, rest, [call] = feed_all(["Sure. <to", "ol_call>{\"name\": \"ls\", ", "\"arguments\": {}}</tool_call>"])
    assert "".join(shown) == "Sure. " and rest == "" and call.name == "ls"


def test_filter_releases_a_false_marker_prefix():
    shown, rest, calls = feed_all(["a <to", "y> b"])
    assert "".join(shown) + rest == "a <toy> b" and calls == []


def test_filter_holds_leading_json_until_the_end():
    shown, rest, calls = feed_all(['{"answer"', ": 1}"])
    assert shown == ["", ""] and rest == '{"answer": 1}' and calls == []
