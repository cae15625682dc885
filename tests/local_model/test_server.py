"""The OpenAI-compatible server, driven by the real `openai` SDK over loopback HTTP.

A tiny random checkpoint and a tokenizer built here; float64 so that batched and one-at-a-time
greedy runs pick the same tokens. Tool-call round trips use a model that emits a scripted
token sequence (a random model never writes a tool call), through the real tokenizer, parser
and HTTP stack. Malformed requests, one per field and as random bodies, get OpenAI-shaped 400s.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import torch
from hypothesis import given, settings

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")

from local_model import load_model, load_tokenizer  # noqa: E402
from local_model.engine import Engine, EngineConfig  # noqa: E402
from local_model.server import create_app, start_in_thread  # noqa: E402
from local_model.tool_calls import FAMILIES, detect_family, format_tool_call  # noqa: E402
from tests.local_model.lm_testing import (  # noqa: E402
    CHATML_TEMPLATE, DEEPSEEK_TEMPLATE, make_checkpoint, make_tokenizer, wait_until)
from tests.local_model.request_bodies import BODIES, resolves  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "read_file", "description": "Read a file.",
                                           "parameters": {"type": "object", "properties": {
                                               "path": {"type": "string"},
                                               "lines": {"type": "array", "items": {"type": "integer"}}},
                                               "required": ["path"]}}}]
ARGS = '{\n  "path": "src/main.py",\n  "lines": [1, 2]\n}'


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("served"), "v2_lite", seed=5)[0]
    make_tokenizer(path, DEEPSEEK_TEMPLATE)
    return path


@pytest.fixture(scope="module")
def model(checkpoint):
    return load_model(checkpoint, dtype=torch.float64)


@contextlib.contextmanager
def serving(model, tokenizer_path, **config):
    tokenizer = load_tokenizer(tokenizer_path)
    engine = Engine(model, EngineConfig(**{"max_batch": 4, "max_len": 256, **config})).start()
    app = create_app(engine, tokenizer, "tiny", detect_family(tokenizer.chat_template))
    server, url = start_in_thread(app)
    try:
        yield openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=60), engine, url
    finally:
        server.should_exit = True
        engine.stop()


@pytest.fixture(scope="module")
def served(model, checkpoint):
    with serving(model, checkpoint) as s:
        yield s


def _ask(client, text, **kw):
    return client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": text}],
                                          **{"temperature": 0, "max_tokens": 10, **kw})


def _stream(client, text, **kw):
    chunks = list(_ask(client, text, stream=True, **kw))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    return content, finish, chunks


def test_models(served):
    client, _, _ = served
    assert [m.id for m in client.models.list().data] == ["tiny"]


def test_streamed_equals_non_streamed_and_usage_is_reported(served):
    client, _, _ = served
    full = _ask(client, "hello world")
    content, finish, chunks = _stream(client, "hello world")
    assert content == (full.choices[0].message.content or "")
    assert finish == [full.choices[0].finish_reason]
    assert full.usage.prompt_tokens > 3 and 1 <= full.usage.completion_tokens <= 10
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens  # usage on the final chunk
    _, _, chunks = _stream(client, "hello world", stream_options={"include_usage": True})
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == full.usage.total_tokens


def test_concurrent_requests_equal_one_at_a_time(served):
    client, _, _ = served
    prompts = ["the quick brown fox", "def add(a, b)", "hello", "tiny corpus for a tiny tokenizer", "lazy dog"]
    alone = [_ask(client, p, max_tokens=12).choices[0].message.content for p in prompts]
    with ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(lambda p: _ask(client, p, max_tokens=12).choices[0].message.content, prompts,
                                 timeout=60))
    assert together == alone


def test_stop_string_and_seeded_sampling(served):
    client, _, _ = served
    text = _ask(client, "the quick brown fox", max_tokens=30).choices[0].message.content
    assert len(text) > 6
    stop = text[3:6]
    cut = _ask(client, "the quick brown fox", max_tokens=30, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    a = _ask(client, "hello", temperature=1.0, top_p=0.9, seed=3, max_tokens=15).choices[0].message.content
    b = _ask(client, "hello", temperature=1.0, top_p=0.9, seed=3, max_tokens=15).choices[0].message.content
    assert a == b


USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize("body, param", [
    ({"temperature": 5}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"n": 2}, "n"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "5"}, "max_tokens"),
    ({"stop": 7}, "stop"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"seed": 2**64}, "seed"),
    ({"seed": -2**63 - 1}, "seed"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": "read_file"}}, "tool_choice.function"),
    ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name"),
    ({"messages": []}, "messages"),
    ({"messages": USER}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0].type"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]}]},
     "messages[1].tool_calls[0].function"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": {"id": "c1", "function": {"name": "read_file"}}}]},
     "messages[1].tool_calls"),
    ({"messages": [USER, {"role": "assistant", "tool_calls": [{"function": {"name": "run", "arguments": {}}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
])
def test_bad_requests_get_openai_shaped_400s(served, body, param):
    client, _, _ = served
    request = {"model": "tiny", "messages": [USER], **body}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**request)
    assert_openai_error(err.value.body, param)
    assert param in err.value.body["message"]


CHAT = b'{"messages": [{"role": "user", "content": "hi"}]'


@pytest.mark.parametrize("body, reason", [
    pytest.param(b"[" * 1000 + b"]" * 1000, "nests 1000 levels", id="1000 brackets"),
    pytest.param(CHAT + b', "metadata": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001, "nests 1001 levels",
                 id="1000 objects in an unread field"),
    pytest.param(b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "lone UTF-16 surrogate",
                 id="lone surrogate"),
    pytest.param(CHAT + b', "seed": ' + b"9" * 5000 + b"}", "5000 digits", id="5000-digit seed"),
    pytest.param(CHAT + b', "temperature": 1e400}', "out of range", id="1e400"),
    pytest.param(b'{"messages": [{"role": "user", "content": "\xff"}]}', "not UTF-8", id="not UTF-8"),
    pytest.param(b'{"messages": ', "not accepted as JSON", id="cut off"),
    pytest.param(b'[{"role": "user", "content": "hi"}]', "Input should be an object", id="an array"),
])
def test_bodies_no_sdk_would_send_get_400s_too(served, body, reason):
    status, reply = post(served[2], body)
    assert status == 400
    assert_openai_error(reply["error"], None)
    assert reason in reply["error"]["message"]


@pytest.mark.fuzz
@settings(max_examples=12)  # each one may generate: a handful, the in-process test takes the many
@given(body=BODIES)
def test_random_bodies_get_a_completion_or_an_openai_shaped_400(served, body):
    status, reply = post(served[2], json.dumps(body).encode())
    assert status in (200, 400), reply
    if status == 400:
        assert_openai_error(reply["error"], reply["error"]["param"])
        assert resolves(body, reply["error"]["param"])
    elif body.get("stream"):
        assert reply.endswith("data: [DONE]\n\n")
    else:
        assert reply["choices"][0]["message"]["role"] == "assistant"


def post(url: str, body: bytes) -> tuple[int, Any]:
    """POST raw bytes to the chat endpoint with the standard library's client (the SDK would not send
    some of these bodies); (status, parsed JSON, or the event-stream text)."""
    request = urllib.request.Request(f"{url}/chat/completions", data=body, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(request, timeout=60) as reply:
            status, kind, data = reply.status, reply.headers.get_content_type(), reply.read().decode()
    except urllib.error.HTTPError as err:
        status, kind, data = err.code, err.headers.get_content_type(), err.read().decode()
    return status, json.loads(data) if kind == "application/json" else data


def assert_openai_error(error: dict, param: str | None) -> None:
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert isinstance(error["message"], str) and error["message"]


def test_a_body_past_the_size_limit_is_refused_without_being_read_whole(served):
    import socket
    from urllib.parse import urlsplit

    from local_model.untrusted_json import MAX_SIZE

    host_port = urlsplit(served[2])
    # a declared length past the limit: refused at once, before a byte of the body is sent
    with socket.create_connection((host_port.hostname, host_port.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000000\r\n\r\n")
        reply = b""
        while b"}}" not in reply and (data := sock.recv(65536)):  # the headers, then the JSON error
            reply += data
    assert reply.startswith(b"HTTP/1.1 400") and f"longer than {MAX_SIZE} bytes".encode() in reply
    # one sent chunked (no length): read up to just past the limit, then refused the same way
    import http.client

    def chunks():
        yield CHAT + b', "metadata": {"pad": "'
        for _ in range(MAX_SIZE // 2**20):
            yield b"x" * 2**20
        yield b'"}}'
    conn = http.client.HTTPConnection(host_port.hostname, host_port.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=chunks(), headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    reply = conn.getresponse()
    assert reply.status == 400 and f"longer than {MAX_SIZE} bytes" in json.loads(reply.read())["error"]["message"]
    conn.close()


def test_too_long_prompt_and_unknown_path(served):
    client, _, url = served
    with pytest.raises(openai.BadRequestError) as err:
        _ask(client, "hello world " * 200)
    assert err.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.NotFoundError):
        client.get("/nope", cast_to=object)


class Slow(torch.nn.Module):
    """The real model, 20 ms slower per forward: long enough to see a disconnect free its slot."""

    def __init__(self, model):
        super().__init__()
        self.inner = model

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def forward(self, *args, **kw):
        time.sleep(0.02)
        return self.inner(*args, **kw)


def test_client_disconnect_mid_stream_frees_the_slot(model, checkpoint):
    with serving(Slow(model), checkpoint, max_batch=1) as (client, engine, _):
        stream = _ask(client, "hello", stream=True, max_tokens=200, temperature=1.0)
        for i, _chunk in enumerate(stream):
            if i == 3:
                break
        stream.close()  # would otherwise generate for ~4 more seconds
        assert wait_until(lambda: engine.active == 0, timeout=2)
        assert _ask(client, "hi", max_tokens=2).choices[0].finish_reason == "length"  # the one slot is free


class Scripted(Slow):
    """The real model whose last-position logits are forced to spell `script`, token by token."""

    def __init__(self, model, script):
        super().__init__(model)
        self.script, self.prompt_len = script, {}

    def forward(self, ids, cache, seq_lens=None, **kw):
        before = cache.lengths
        logits = self.inner(ids, cache, seq_lens, **kw).clone()
        for b, n in enumerate(before):
            row = cache._first + b
            if n == 0:
                self.prompt_len[row] = cache.lengths[b]
            k = min(cache.lengths[b] - self.prompt_len[row], len(self.script) - 1)
            logits[b, -1] = -1e9
            logits[b, -1, self.script[k]] = 1e9
        return logits


# every format through both templates (Qwen3-Coder's XML form through one: test_server_qwen.py serves it too)
@pytest.mark.parametrize("template, family", [(t, f) for f in FAMILIES for t in ("deepseek", "chatml")
                                              if (t, f) != ("deepseek", "qwen3_coder")])
def test_tool_call_round_trip(model, checkpoint, tmp_path, family, template):
    tok_dir = make_tokenizer(tmp_path, DEEPSEEK_TEMPLATE if template == "deepseek" else CHATML_TEMPLATE)
    tokenizer = load_tokenizer(tok_dir)
    text = "Reading." + format_tool_call(family, "read_file", ARGS)
    script = tokenizer.encode(text) + [tokenizer.token_to_id("<｜end▁of▁sentence｜>")]
    with serving(Scripted(model, script), tok_dir, max_len=1024) as (client, _, _):
        messages = [{"role": "user", "content": "show me main.py"}]
        reply = client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=600)
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content == "Reading."
        [call] = choice.message.tool_calls
        assert call.function.name == "read_file" and json.loads(call.function.arguments) == json.loads(ARGS)

        chunks = list(client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, max_tokens=600,
                                                     stream=True))
        deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        assert {d.index for d in deltas} == {0}
        first, *rest = deltas  # the first delta names the call; the others only add to its arguments
        assert (first.function.name, first.type) == ("read_file", "function") and first.id
        assert all(d.function.name is None and d.id is None for d in rest)
        assert json.loads("".join(d.function.arguments or "" for d in deltas)) == json.loads(ARGS)
        assert len(deltas) > 2 if family == "qwen3_coder" else len(deltas) == 1  # XML streams as it is written
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Reading."

        # the call and its result go back in; the server renders them into the next prompt
        history = messages + [
            {"role": "assistant", "content": choice.message.content,
             "tool_calls": [{"id": call.id, "type": "function",
                             "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
            {"role": "tool", "tool_call_id": call.id, "content": "print('hi')"}]
        again = client.chat.completions.create(model="tiny", messages=history, tools=TOOLS, max_tokens=600)
        assert again.choices[0].message.tool_calls[0].function.name == "read_file"
        # tool_choice "none": tools are neither offered nor parsed; the markers come back as text
        plain = client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS, tool_choice="none",
                                               max_tokens=600)
        assert plain.choices[0].message.tool_calls is None and "read_file" in plain.choices[0].message.content


@pytest.mark.parametrize("template", ["deepseek", "chatml"])
def test_tools_are_rendered_into_the_prompt(tmp_path, template):
    from local_model.chat import build_prompt

    tok_dir = make_tokenizer(tmp_path, DEEPSEEK_TEMPLATE if template == "deepseek" else CHATML_TEMPLATE)
    tokenizer = load_tokenizer(tok_dir)
    family = detect_family(tokenizer.chat_template)
    prompt = tokenizer.decode(build_prompt(tokenizer, family, [{"role": "user", "content": "hi"}], TOOLS),
                              skip_special_tokens=False)
    assert '"read_file"' in prompt or "### read_file" in prompt
    assert "Read a file." in prompt
    if template == "chatml":  # the template knows no tools: our family section in the system message
        assert prompt.startswith("<|im_start|>system\n") and "<tool_call>" in prompt


def test_a_chat_that_renders_to_nothing_is_a_bad_request(tmp_path):
    from local_model.chat import prepare_chat
    from local_model.request import BadRequest

    tokenizer = load_tokenizer(make_tokenizer(tmp_path, "{% for m in messages %}{{ m['content'] }}{% endfor %}"))
    with pytest.raises(BadRequest, match="empty prompt") as err:
        prepare_chat(tokenizer, "deepseek_v3", b'{"messages": [{"role": "user", "content": ""}]}')
    assert err.value.param == "messages"
    assert prepare_chat(tokenizer, "deepseek_v3", b'{"messages": [{"role": "user", "content": "hi"}]}').prompt
