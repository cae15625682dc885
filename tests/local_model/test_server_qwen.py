"""The server over a tiny Qwen3-MoE checkpoint with Qwen3- and Qwen3-Coder-shaped chat templates,
driven by the real `openai` SDK: plain chat batched as one-at-a-time, and tool calls in both
formats (JSON in <tool_call>, and the XML form with multi-line values and several calls) back
as structured `tool_calls`, whole and streamed as deltas, then rendered into the next prompt."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")

from local_model import load_model, load_tokenizer  # noqa: E402
from local_model.chat import build_prompt  # noqa: E402
from local_model.request import BadRequest  # noqa: E402
from local_model.tool_calls import detect_family, format_tool_call  # noqa: E402
from tests.local_model.lm_testing import QWEN3_CODER_TEMPLATE, QWEN3_TEMPLATE, make_checkpoint, make_tokenizer  # noqa: E402
from tests.local_model.test_server import Scripted, serving  # noqa: E402

TOOLS = [
    {"type": "function", "function": {"name": "write_file", "description": "Write a file.", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "read_file", "description": "Read a file.", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}, "lines": {"type": "array"}}}}},
]
# a value over several lines that looks like JSON and holds a '<': it must come back as the same text
CONTENT = 'def f(a, b):\n    """{"not": "json args"}"""\n    return a < b\n'
CALLS = [("write_file", {"path": "src/f.py", "content": CONTENT}), ("read_file", {"path": "a.txt", "lines": [1, 5]})]
TEMPLATES = {"qwen3": (QWEN3_TEMPLATE, "hermes"), "qwen3_coder": (QWEN3_CODER_TEMPLATE, "qwen3_coder")}


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("served-qwen"), "qwen3_moe", seed=5)[0]
    return path, load_model(path, dtype=torch.float64)


def test_plain_chat_batched_equals_one_at_a_time(qwen):
    path, model = qwen
    make_tokenizer(path, QWEN3_TEMPLATE)
    with serving(model, path) as (client, _, _):
        def ask(text):
            reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": text}],
                                                   temperature=0, max_tokens=10)
            return reply.choices[0].message.content
        prompts = ["the quick brown fox", "def add(a, b)", "hello", "lazy dog"]
        alone = [ask(p) for p in prompts]
        with ThreadPoolExecutor(len(prompts)) as pool:
            assert list(pool.map(ask, prompts, timeout=60)) == alone
        streamed = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hello"}],
                                                  temperature=0, max_tokens=10, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == alone[2]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_tool_calls_in_qwen_formats(qwen, tmp_path, template):
    _, model = qwen
    source, family = TEMPLATES[template]
    tok_dir = make_tokenizer(tmp_path, source)
    tokenizer = load_tokenizer(tok_dir)
    assert detect_family(tokenizer.chat_template) == family
    assert tokenizer.token_to_id("<|im_end|>") in tokenizer.stop_token_ids  # the end of an assistant turn
    text = "I will write it, then look.\n" + "\n".join(format_tool_call(family, name, json.dumps(args))
                                                        for name, args in CALLS)
    script = tokenizer.encode(text) + [tokenizer.token_to_id("<|im_end|>")]
    messages = [{"role": "user", "content": "write f.py and show a.txt"}]
    with serving(Scripted(model, script), tok_dir, max_len=2048) as (client, _, _):
        reply = client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=1500)
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content.strip() == "I will write it, then look."
        got = [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls]
        assert got == CALLS
        assert len({c.id for c in choice.message.tool_calls}) == 2

        chunks = list(client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=1500,
                                                     stream=True))
        deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        by_call: dict[int, list] = {}
        for d in deltas:
            by_call.setdefault(d.index, []).append(d)
        assert sorted(by_call) == [0, 1]
        for index, (name, args) in enumerate(CALLS):
            first, *rest = by_call[index]
            assert first.function.name == name and first.id and all(d.function.name is None for d in rest)
            assert json.loads("".join(d.function.arguments or "" for d in by_call[index])) == args
        if family == "qwen3_coder":  # the XML form streams while it is written: the content line by line at least
            assert len(by_call[0]) > CONTENT.count("\n")
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
            "tool_calls"]

        # the calls (arguments as JSON text, as clients send them) and their results go back in
        history = messages + [
            {"role": "assistant", "content": choice.message.content,
             "tool_calls": [{"id": c.id, "type": "function",
                             "function": {"name": c.function.name, "arguments": c.function.arguments}}
                            for c in choice.message.tool_calls]},
            *({"role": "tool", "tool_call_id": c.id, "content": "ok"} for c in choice.message.tool_calls)]
        again = client.chat.completions.create(model="tiny", messages=history, tools=TOOLS, max_tokens=1500)
        assert [c.function.name for c in again.choices[0].message.tool_calls] == ["write_file", "read_file"]
    prompt = tokenizer.decode(build_prompt(tokenizer, family, history, TOOLS), skip_special_tokens=False)
    assert prompt.count("<tool_response>\nok\n</tool_response>") == 2
    if family == "qwen3_coder":
        assert f"<parameter=content>\n{CONTENT}\n</parameter>" in prompt and "<parameter=lines>\n[1, 5]\n" in prompt
    else:
        assert '{"name": "read_file", "arguments": {"path": "a.txt", "lines": [1, 5]}}' in prompt


def test_arguments_a_template_cannot_walk_are_a_bad_request(tmp_path):
    tokenizer = load_tokenizer(make_tokenizer(tmp_path, QWEN3_CODER_TEMPLATE))
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                     "function": {"name": "read_file", "arguments": "[1, 2]"}}]}]
    with pytest.raises(BadRequest, match="JSON object") as err:
        build_prompt(tokenizer, "qwen3_coder", history, TOOLS)
    assert err.value.param == "messages[1].tool_calls[0].function.arguments"
    history[1]["tool_calls"][0]["function"]["arguments"] = ""  # no arguments at all: an empty mapping
    assert "<function=read_file>\n</function>" in tokenizer.decode(build_prompt(tokenizer, "qwen3_coder", history,
                                                                                TOOLS), skip_special_tokens=False)
