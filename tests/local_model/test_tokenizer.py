"""The tokenizer and chat template against transformers' apply_chat_template; stop tokens."""

from __future__ import annotations

import jinja2
import pytest

from tests.local_model.lm_testing import BOS, CHATML_TEMPLATE, DEEPSEEK_TEMPLATE, EOS, make_tokenizer
from local_model import load_tokenizer

transformers = pytest.importorskip("transformers")

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "hello wörld 🙂, what is 2+2?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": "twö"}}}]},
    {"role": "tool", "content": "4"},
    {"role": "assistant", "content": "It is 4."},
    {"role": "user", "content": "thanks"},
]
TOOLS = [{"type": "function", "function": {"name": "add", "description": "Add <two> numbers & more",
                                           "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}}]


@pytest.mark.parametrize("template, as_file", [(DEEPSEEK_TEMPLATE, False), (CHATML_TEMPLATE, True)])
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_chat_template_equals_transformers(tmp_path, template, as_file, add_generation_prompt):
    path = make_tokenizer(tmp_path, template, template_file=as_file)
    ours = load_tokenizer(path)
    ref = transformers.AutoTokenizer.from_pretrained(path)
    messages = CONVERSATION if template is DEEPSEEK_TEMPLATE else [m for m in CONVERSATION if m.get("content")]
    tools = TOOLS if template is DEEPSEEK_TEMPLATE else None
    text = ours.render_chat(messages, tools=tools, add_generation_prompt=add_generation_prompt)
    assert text == ref.apply_chat_template(messages, tools=tools, tokenize=False,
                                           add_generation_prompt=add_generation_prompt)
    ids = ref.apply_chat_template(messages, tools=tools, tokenize=True, add_generation_prompt=add_generation_prompt)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert ours.encode_chat(messages, tools=tools, add_generation_prompt=add_generation_prompt) == list(ids)


def test_plain_encode_and_decode_match_transformers(tmp_path):
    path = make_tokenizer(tmp_path, CHATML_TEMPLATE)
    ours, ref = load_tokenizer(path), transformers.AutoTokenizer.from_pretrained(path)
    text = "the lazy dog says héllo 🙂"
    assert ours.encode(text, add_special_tokens=True) == ref.encode(text)
    assert ours.encode(text, add_special_tokens=True)[0] == ours.token_to_id(BOS)
    ids = ours.encode(text)
    assert ours.decode(ids) == ref.decode(ids, skip_special_tokens=True) == text


def test_stop_tokens_include_eos_and_end_of_turn(tmp_path):
    chatml = load_tokenizer(make_tokenizer(tmp_path / "chatml", CHATML_TEMPLATE))
    assert chatml.stop_token_ids == {chatml.token_to_id(EOS), chatml.token_to_id("<|im_end|>")}
    deepseek = load_tokenizer(make_tokenizer(tmp_path / "ds", DEEPSEEK_TEMPLATE))
    assert deepseek.stop_token_ids == {deepseek.token_to_id(EOS)}


def test_template_errors_surface(tmp_path):
    tok = load_tokenizer(make_tokenizer(tmp_path, DEEPSEEK_TEMPLATE))
    with pytest.raises(jinja2.TemplateError, match="unknown role narrator"):
        tok.render_chat([{"role": "narrator", "content": "x"}])
