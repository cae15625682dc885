"""Request validation in-process: what each malformed field is told, and random bodies through
everything the server does before the engine (schema, tool choice, chat template)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from local_model import load_tokenizer
from local_model.chat import prepare_chat
from local_model.request import BadRequest, parse_chat_request
from local_model.tool_calls import detect_family
from tests.local_model.lm_testing import DEEPSEEK_TEMPLATE, make_tokenizer
from tests.local_model.request_bodies import BODIES, resolves

USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize("body, param, expected", [
    ({"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
     "messages[1].tool_calls[0].function", "this field is required"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": {"id": "c"}}]}, "messages[1].tool_calls",
     "Input should be an array"),
    ({"messages": [USER], "tool_choice": {"type": "function", "function": "read_file"}}, "tool_choice.function",
     "Input should be an object"),
    ({"messages": [USER], "tool_choice": 3}, "tool_choice", "'none', 'auto', 'required', null or {"),
    ({"messages": [USER], "seed": 2**64}, "seed", "must fit in 64 bits"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "a string, null or an array of text"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0].type", "'text'"),
    ({"messages": [USER], "stop": ["a"] * 5}, "stop", "at most 4 items"),
    ({"messages": [USER], "max_tokens": "5"}, "max_tokens", "a valid integer"),
    ([USER], None, "the request body: Input should be an object"),
])
def test_each_error_names_the_field_and_what_it_should_be(body, param, expected):
    with pytest.raises(BadRequest) as err:
        parse_chat_request(json.dumps(body))
    assert err.value.param == param
    assert str(err.value).startswith(f"{param}: " if param else "the request body")
    assert expected in str(err.value)


def test_the_edge_cases_that_are_accepted():
    req = parse_chat_request(json.dumps({"messages": [USER], "seed": 2**64 - 1, "stop": "x", "tool_choice": None,
                                         "logprobs": False, "frequency_penalty": 0}))  # unread fields are ignored
    assert req.seed == 2**64 - 1 and req.stops == ["x"]
    assert parse_chat_request(json.dumps({"messages": [USER], "seed": -2**63})).seed == -2**63


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_tokenizer(make_tokenizer(tmp_path_factory.mktemp("tok"), DEEPSEEK_TEMPLATE))


@pytest.mark.fuzz
@given(body=BODIES)
def test_random_bodies_are_prepared_or_refused_with_the_field_named(tokenizer, body):
    family = detect_family(tokenizer.chat_template)
    try:
        prepared = prepare_chat(tokenizer, family, json.dumps(body))
    except BadRequest as exc:
        assert str(exc) and resolves(body, exc.param), (exc.param, str(exc))
        return
    assert prepared.prompt and all(isinstance(i, int) for i in prepared.prompt)
    assert isinstance(body, dict) and body["messages"]
