"""Tool-call parsing on exact strings in each family's format, whole and streamed piece by piece, and on
random texts made of their pieces (property tests)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_model.tool_calls import (FAMILIES, MARKERS, ParsedToolCall, ToolCallDelta, ToolCallParser, detect_family,
                                    format_tool_call, parse_tool_calls, tools_prompt)
from local_model.xml_calls import parameter_types

MULTILINE_ARGS = '{\n  "path": "src/app.py",\n  "content": "def f():\\n    return {\\"a\\": 1}\\n"\n}'

EXACT = {
    "deepseek_v3": (
        "Let me look.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>write_file\n```json\n"
        + MULTILINE_ARGS + "\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>read_file\n"
        '```json\n{"path": "a.txt"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
    ),
    "deepseek_v31": (
        "Let me look.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>write_file<｜tool▁sep｜>" + MULTILINE_ARGS
        + '<｜tool▁call▁end｜><｜tool▁call▁begin｜>read_file<｜tool▁sep｜>{"path": "a.txt"}<｜tool▁call▁end｜>'
        "<｜tool▁calls▁end｜>"
    ),
    "kimi_k2": (
        "Let me look.<|tool_calls_section_begin|><|tool_call_begin|>functions.write_file:0<|tool_call_argument_begin|>"
        + MULTILINE_ARGS + '<|tool_call_end|><|tool_call_begin|>functions.read_file:1<|tool_call_argument_begin|>'
        '{"path": "a.txt"}<|tool_call_end|><|tool_calls_section_end|>'
    ),
    "hermes": (
        'Let me look.<tool_call>\n{"name": "write_file", "arguments": ' + MULTILINE_ARGS + '}\n</tool_call>\n'
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n</tool_call>'
    ),
    "qwen3_coder": (
        "Let me look.\n<tool_call>\n<function=write_file>\n<parameter=path>\nsrc/app.py\n</parameter>\n"
        '<parameter=content>\ndef f():\n    return {"a": 1}\n\n</parameter>\n</function>\n</tool_call>\n'
        "<tool_call>\n<function=read_file>\n<parameter=path>\na.txt\n</parameter>\n</function>\n</tool_call>"
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_exact_strings_with_multiline_arguments(family):
    text, calls = parse_tool_calls(EXACT[family])
    assert text.strip() == "Let me look."
    assert [c.name for c in calls] == ["write_file", "read_file"]
    assert json.loads(calls[0].arguments) == {"path": "src/app.py", "content": 'def f():\n    return {"a": 1}\n'}
    assert json.loads(calls[1].arguments) == {"path": "a.txt"}
    if family == "kimi_k2":
        assert [c.id for c in calls] == ["functions.write_file:0", "functions.read_file:1"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("step", [1, 3, 7])
def test_streamed_in_small_pieces_gives_the_same(family, step):
    source = EXACT[family] + " done"
    parser = ToolCallParser()
    out = []
    for i in range(0, len(source), step):
        out += parser.feed(source[i : i + step])
    out += parser.finish()
    text = "".join(p for p in out if isinstance(p, str))
    calls = [p for p in out if isinstance(p, ParsedToolCall)]
    assert text.replace("\n", "") == "Let me look. done"
    assert [c.name for c in calls] == ["write_file", "read_file"]
    # no marker text ever leaks into the visible text
    assert "<" not in text and "｜" not in text


def test_a_call_is_released_as_soon_as_it_closes():
    parser = ToolCallParser()
    first_end = EXACT["deepseek_v31"].index("<｜tool▁call▁end｜>") + len("<｜tool▁call▁end｜>")
    out = parser.feed(EXACT["deepseek_v31"][:first_end])
    assert [p.name for p in out if isinstance(p, ParsedToolCall)] == ["write_file"]


def test_plain_text_passes_through_and_a_partial_marker_is_held():
    parser = ToolCallParser()
    assert parser.feed("a < b and <tool") == ["a < b and "]
    assert parser.feed("box>") == ["<toolbox>"]
    assert parser.finish() == []


def test_unterminated_and_malformed_calls_still_come_back():
    text, calls = parse_tool_calls('ok <tool_call>{"name": "run", "arguments": {"cmd": "ls"')
    assert text == "ok " and calls[0].name == "run"
    with pytest.raises(json.JSONDecodeError):
        json.loads(calls[0].arguments)  # malformed: the agent reports it to the model
    _, calls = parse_tool_calls("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>ls<｜tool▁sep｜>{}")
    assert calls == [ParsedToolCall("ls", "{}")]


@pytest.mark.parametrize("family", FAMILIES)
def test_format_round_trips(family):
    args = json.dumps({"q": "x\ny"}, indent=2)
    _, calls = parse_tool_calls(format_tool_call(family, "search", args))
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("search", {"q": "x\ny"})]


def test_detect_family():
    v3 = "{{'<｜tool▁call▁begin｜>' + 'function' + '<｜tool▁sep｜>' + tool['function']['name']}}"
    v31 = "{{'<｜tool▁call▁begin｜>' + tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments']}}"
    assert detect_family(v3) == "deepseek_v3"
    assert detect_family(v31) == "deepseek_v31"
    assert detect_family("{{ '<|tool_calls_section_begin|>' }}") == "kimi_k2"
    assert detect_family("<|im_start|>") == "hermes"
    assert detect_family(None, ["<|tool_calls_section_begin|>"]) == "kimi_k2"
    qwen3 = "{{- '<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
    coder = ("{{- '<tool_call>\\n<function=' + tool_call.name + '>\\n' }}"
             "{%- for k, v in tool_call.arguments|items %}{{- '<parameter=' + k + '>\\n' }}{% endfor %}")
    assert detect_family(qwen3) == "hermes" and detect_family(coder) == "qwen3_coder"


@pytest.mark.parametrize("family", FAMILIES)
def test_tools_prompt_names_every_tool_and_the_format(family):
    tools = [{"type": "function", "function": {"name": "read_file", "description": "Read a file.",
                                               "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
    prompt = tools_prompt(family, tools)
    assert "read_file" in prompt and "Read a file." in prompt and '"path"' in prompt
    assert format_tool_call(family, "NAME", '{"ARGUMENT": "VALUE"}') in prompt


def test_deeply_nested_arguments_come_back_as_text():
    deep = "[" * 1000 + "]" * 1000
    for family in FAMILIES:
        _, [call] = parse_tool_calls(format_tool_call(family, "run", deep))
        assert call.name == "run" and deep in call.arguments  # malformed for the agent to report, not a crash


XML_TOOLS = [{"type": "function", "function": {"name": "edit", "parameters": {"type": "object", "properties": {
    "path": {"type": "string"}, "line": {"type": "integer"}, "scale": {"type": ["number", "null"]},
    "dry_run": {"type": "boolean"}, "ranges": {"type": "array"}, "options": {"anyOf": [{"type": "object"},
                                                                                       {"type": "null"}]},
    "content": {"type": "string"}}}}}]


def test_qwen3_coder_values_are_typed_by_the_tools_schema():
    text = ("<tool_call>\n<function=edit>\n<parameter=path>\n42\n</parameter>\n<parameter=line>\n7\n</parameter>\n"
            "<parameter=scale>\n0.5\n</parameter>\n<parameter=dry_run>\nTrue\n</parameter>\n"
            "<parameter=ranges>\n[[1, 2], [5, 9]]\n</parameter>\n<parameter=options>\n{\"force\": true}\n</parameter>\n"
            '<parameter=content>\n{"not": "parsed"}\n  indented\n\n</parameter>\n<parameter=note>\n3\n</parameter>\n'
            "</function>\n</tool_call>")
    _, [call] = parse_tool_calls(text, parameter_types(XML_TOOLS))
    assert call.name == "edit"
    assert json.loads(call.arguments) == {"path": "42", "line": 7, "scale": 0.5, "dry_run": True,
                                          "ranges": [[1, 2], [5, 9]], "options": {"force": True},
                                          "content": '{"not": "parsed"}\n  indented\n', "note": "3"}
    # a value that does not fit its type stays text (the tool's own validation reports it)
    _, [call] = parse_tool_calls("<function=edit><parameter=line>seven</parameter></function>",
                                 parameter_types(XML_TOOLS))
    assert json.loads(call.arguments) == {"line": "seven"}
    # without the schema every value is text
    _, [call] = parse_tool_calls(text)
    assert json.loads(call.arguments)["line"] == "7"


def test_qwen3_coder_several_calls_with_and_without_the_wrapper():
    text = ("I will run two.\n<tool_call>\n<function=run>\n<parameter=cmd>\nls -la\n</parameter>\n</function>\n"
            "<function=run>\n<parameter=cmd>\npwd\n</parameter>\n</function>\n</tool_call>\n"
            "<function=read_file>\n<parameter=path>\nx.py\n</parameter>\n</function> then <function=ping>\n</function>")
    visible, calls = parse_tool_calls(text)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("run", {"cmd": "ls -la"}), ("run", {"cmd": "pwd"}), ("read_file", {"path": "x.py"}), ("ping", {})]
    assert visible.split() == ["I", "will", "run", "two.", "then"]
    # unterminated: the value runs to the end of what was written
    _, [call] = parse_tool_calls("<tool_call>\n<function=write>\n<parameter=text>\nline 1\nline 2\n")
    assert (call.name, json.loads(call.arguments)) == ("write", {"text": "line 1\nline 2"})


def _stream(source: str, cuts, types=None):
    """Feed `source` in pieces of the given sizes (cycled) to a delta parser; every item, in order."""
    parser, out, start, i = ToolCallParser(types, deltas=True), [], 0, 0
    while start < len(source):
        step = cuts[i % len(cuts)] if cuts else len(source)
        out += parser.feed(source[start : start + step])
        start, i = start + step, i + 1
    return out + parser.finish()


def _assert_deltas_lead_to_the_calls(items) -> dict[int, list[ToolCallDelta]]:
    """Each call's deltas: the first names it, and joined they begin the arguments of the call that closes it."""
    calls = [i for i in items if isinstance(i, ParsedToolCall)]
    deltas: dict[int, list[ToolCallDelta]] = {}
    for item in items:
        if isinstance(item, ToolCallDelta):
            deltas.setdefault(item.call, []).append(item)
            assert (item.name is not None) == (len(deltas[item.call]) == 1)
            assert item.call < len(calls)
    for index, pieces in deltas.items():
        assert pieces[0].name == calls[index].name
        assert calls[index].arguments.startswith("".join(d.arguments for d in pieces))
        position = items.index(pieces[-1])
        assert items.index(calls[index]) > position  # the call closes after its last delta
    return deltas


@pytest.mark.parametrize("step", [1, 2, 5])
def test_qwen3_coder_calls_stream_as_deltas(step):
    source = EXACT["qwen3_coder"] + " done"
    items = _stream(source, [step], parameter_types(XML_TOOLS))
    deltas = _assert_deltas_lead_to_the_calls(items)
    assert sorted(deltas) == [0, 1]
    calls = [i for i in items if isinstance(i, ParsedToolCall)]
    # every call's arguments arrived as deltas before the call closed; the multi-line content character by character
    for index, call in enumerate(calls):
        assert "".join(d.arguments for d in deltas[index]) in (call.arguments, call.arguments[:-1])
    assert len(deltas[0]) > 10
    assert parse_tool_calls(source)[1] == calls  # the deltas change nothing about the calls
    # a JSON envelope is not streamed: its call comes whole
    assert not any(isinstance(i, ToolCallDelta) for i in _stream(EXACT["hermes"], [step]))


# Pieces of every format, of JSON and of hostile JSON: random texts are made of them.
FRAGMENTS = list(MARKERS) + ['{"name": "f", "arguments": ', '{"name": 1}', "{", "}", "[", "]", '"', ",", "\n",
                             "<function=edit>", "<parameter=line>", "<parameter=path>", "<parameter=scale>", "</",
                             "</param", "\n</", "7", "true",
                             "```json\n", "```", "functions.f:0", "function", "[" * 1000, "1e400", '"\\ud800"', "NaN",
                             "9" * 5000, "<", "｜"]
TEXTS = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=12).map("".join)


@pytest.mark.fuzz
@given(TEXTS, st.lists(st.integers(1, 40), max_size=8))
def test_any_text_parses_to_text_and_calls_the_same_whole_or_streamed(text, cuts):
    visible, calls = parse_tool_calls(text)
    assert isinstance(visible, str)
    for call in calls:
        assert isinstance(call, ParsedToolCall) and isinstance(call.name, str) and isinstance(call.arguments, str)
        assert call.id is None or isinstance(call.id, str)
        (call.name + call.arguments).encode("utf-8")  # it can be sent back: no lone surrogate made from an escape
    parser, out, start = ToolCallParser(), [], 0
    for cut in cuts:
        out += parser.feed(text[start : start + cut])
        start += cut
    out += parser.feed(text[start:]) + parser.finish()
    assert ("".join(p for p in out if isinstance(p, str)), [p for p in out if isinstance(p, ParsedToolCall)]) == (
        visible, calls)


@pytest.mark.fuzz
@given(TEXTS, st.lists(st.integers(1, 40), max_size=8))
def test_any_text_streams_deltas_that_begin_its_calls(text, cuts):
    """With deltas on, the same text and calls come out, and every call's deltas begin its arguments."""
    types = parameter_types(XML_TOOLS)
    items = _stream(text, cuts, types)
    _assert_deltas_lead_to_the_calls(items)
    visible, calls = parse_tool_calls(text, types)
    assert "".join(i for i in items if isinstance(i, str)) == visible
    assert [i for i in items if isinstance(i, ParsedToolCall)] == calls
