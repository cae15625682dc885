"""Reasoning split from the answer (local_model/reasoning.py): the splitter on its own, fed whole and
one character at a time, and the server over a tiny dense Qwen3 checkpoint with a Qwen3-shaped
thinking template, through the real `openai` SDK: `reasoning_content` apart from `content`, whole
and streamed; a tool call drafted while thinking is not a call; `chat_template_kwargs`
(`enable_thinking: false`) renders the empty block; a template that opens the block itself."""

from __future__ import annotations

import json

import pytest
import torch

from local_model.reasoning import Reasoning, ReasoningSplitter, opens_in_prompt, thinks


def _split(text: str, inside: bool = False, step: int | None = None) -> tuple[str, str]:
    splitter = ReasoningSplitter(inside)
    pieces = []
    for i in range(0, len(text), step or len(text) or 1):
        pieces += splitter.feed(text[i : i + (step or len(text))])
    pieces += splitter.finish()
    reasoning = "".join(p.text for p in pieces if isinstance(p, Reasoning))
    return reasoning, "".join(p for p in pieces if isinstance(p, str))


@pytest.mark.parametrize("step", [None, 1, 3])
@pytest.mark.parametrize("text, inside, expected", [
    ("<think>\nplan it\n</think>\n\nThe answer.", False, ("\nplan it\n", "The answer.")),
    ("\n <think>a < b</thi</think>ok", False, ("a < b</thi", "ok")),
    ("plan it\n</think>\n\nThe answer.", True, ("plan it\n", "The answer.")),  # the prompt opened the block
    ("No reasoning here, and <think> later is text.", False, ("", "No reasoning here, and <think> later is text.")),
    ("<think>cut off mid-thought", False, ("cut off mid-thought", "")),  # never closed: all reasoning
    ("<thi", False, ("", "<thi")),  # a tag's prefix that never completes is the answer's text
    ("", False, ("", "")),
])
def test_splitter(text, inside, expected, step):
    assert _split(text, inside, step) == expected


def test_which_templates_think():
    assert thinks("{{ content.split('</think>')[-1] }}") and not thinks("{{ content }}") and not thinks(None)
    assert opens_in_prompt("<|im_start|>assistant\n<think>\n")
    assert not opens_in_prompt("<|im_start|>assistant\n<think>\n\n</think>\n\n")


# ---- served --------------------------------------------------------------------------------------

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")

from local_model import load_model, load_tokenizer  # noqa: E402
from tests.local_model.lm_testing import QWEN3_TEMPLATE, make_checkpoint, make_tokenizer  # noqa: E402
from tests.local_model.test_server import Scripted, serving  # noqa: E402

# Qwen3's thinking switch: the generation prompt gets an empty block when enable_thinking is false
THINKING_TEMPLATE = QWEN3_TEMPLATE.replace(
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}")
# DeepSeek-R1's way: the template opens the block, the model writes only its end
OPENING_TEMPLATE = QWEN3_TEMPLATE.replace(
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n' }}{% endif %}{# </think> #}")
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {
    "type": "object", "properties": {"path": {"type": "string"}}}}}]
DRAFT = '<tool_call>\n{"name": "read_file", "arguments": {"path": "draft.txt"}}\n</tool_call>'
CALL = '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n</tool_call>'


@pytest.fixture(scope="module")
def dense_qwen(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("served-qwen3"), "qwen3_dense", seed=3)[0]
    return load_model(path, dtype=torch.float32)


def _script(tokenizer, text):
    return tokenizer.encode(text) + [tokenizer.token_to_id("<|im_end|>")]


def test_reasoning_comes_apart_from_the_answer_and_its_draft_calls(dense_qwen, tmp_path):
    tok_dir = make_tokenizer(tmp_path, THINKING_TEMPLATE)
    tokenizer = load_tokenizer(tok_dir)
    text = f"<think>\nI could call {DRAFT} but first a.txt\n</think>\n\nReading a.txt.\n{CALL}"
    messages = [{"role": "user", "content": "show a.txt"}]
    with serving(Scripted(dense_qwen, _script(tokenizer, text)), tok_dir, max_len=1024) as (client, _, _):
        reply = client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=400)
        message = reply.choices[0].message
        assert message.reasoning_content == f"\nI could call {DRAFT} but first a.txt\n"
        assert message.content.strip() == "Reading a.txt." and "<think>" not in message.content
        assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
            ("read_file", {"path": "a.txt"})]  # the drafted call inside the reasoning is not one
        chunks = list(client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=400,
                                                     stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        streamed = [d.reasoning_content for d in deltas if getattr(d, "reasoning_content", None)]
        assert len(streamed) > 1 and "".join(streamed) == message.reasoning_content  # as deltas
        assert "".join(d.content or "" for d in deltas).strip() == "Reading a.txt."
        assert [tc.function.name for d in deltas for tc in (d.tool_calls or []) if tc.function.name] == ["read_file"]


def test_thinking_off_and_a_template_that_opens_the_block(dense_qwen, tmp_path):
    tok_dir = make_tokenizer(tmp_path / "off", THINKING_TEMPLATE)
    tokenizer = load_tokenizer(tok_dir)
    messages = [{"role": "user", "content": "hi"}]
    with serving(Scripted(dense_qwen, _script(tokenizer, "Hello there.")), tok_dir, max_len=512) as (client, _, url):
        reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=50,
                                               extra_body={"chat_template_kwargs": {"enable_thinking": False}})
        assert reply.choices[0].message.content == "Hello there."
        assert getattr(reply.choices[0].message, "reasoning_content", None) is None
        with pytest.raises(openai.BadRequestError, match="add_generation_prompt"):
            client.chat.completions.create(model="tiny", messages=messages, max_tokens=5,
                                           extra_body={"chat_template_kwargs": {"add_generation_prompt": False}})
    tok_dir = make_tokenizer(tmp_path / "opens", OPENING_TEMPLATE)
    tokenizer = load_tokenizer(tok_dir)
    script = _script(tokenizer, "the user greets\n</think>\n\nHello there.")
    with serving(Scripted(dense_qwen, script), tok_dir, max_len=512) as (client, _, _):
        message = client.chat.completions.create(model="tiny", messages=messages, max_tokens=50).choices[0].message
        assert (message.reasoning_content, message.content) == ("the user greets\n", "Hello there.")
