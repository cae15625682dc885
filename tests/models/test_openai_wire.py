"""`openai:` and `openai-compat:` against a scripted Chat Completions server, via the real `openai` SDK."""
from __future__ import annotations

import time

import pytest

from agent.core.errors import BadInput, ModelError, StreamInterrupted
from agent.models.registry import resolve_model
from agent.core.types import Done, Message, ModelSettings, TextDelta, ToolCall, ToolCallDelta, Usage
from tests.models.helpers import FAST, READ_FILE, WRITE_FILE, collect
from tests.models.wire_servers import Reply, openai_error, openai_turn, sse

SETTINGS = ModelSettings(max_tokens=500)
HELLO = [Message("system", "Be brief."), Message("user", "hi")]


def gpt(server, **options):
    return resolve_model("openai:gpt-5", {**FAST, "base_url": server.url + "/v1", **options})


def compat(server, model="qwen3", **options):
    return resolve_model(f"openai-compat:{model}@{server.url}/v1", {**FAST, **options})


def test_text_turn_usage_with_cached_tokens_and_cost(serve):
    server = serve([Reply(frames=openai_turn(text=["Hi", " there"], prompt_tokens=3000,
                                             cached_tokens=1000, completion_tokens=400))])
    out = collect(gpt(server).stream(HELLO, [], SETTINGS))
    assert [e.text for e in out["all"] if isinstance(e, TextDelta)] == ["Hi", " there"]
    assert out["done"] == Done("end_turn")
    assert isinstance(out["all"][-2], Usage)
    [usage] = out["usage"]
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (2000, 1000, 400)
    # gpt-5: $1.25 in, $0.125 cached, $10 out per million
    assert usage.cost_usd == pytest.approx((2000 * 1.25 + 1000 * 0.125 + 400 * 10) / 1e6)
    req = server.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer test-key"
    assert req.json["stream"] is True and req.json["stream_options"] == {"include_usage": True}
    assert req.json["max_completion_tokens"] == 500 and "max_tokens" not in req.json
    assert req.json["messages"] == [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "hi"}]


def test_parallel_tool_calls_split_across_chunks(serve):
    server = serve([Reply(frames=openai_turn(interleave=True, tool_calls=[
        ("call_a", "write_file", ['{"path":', ' "a.txt", "con', 'tent": "A"}']),
        ("call_b", "read_file", ['{"path"', ': "b.txt"}'])]))])
    out = collect(gpt(server).stream(HELLO, [WRITE_FILE, READ_FILE], SETTINGS))
    assert out["calls"] == {0: ToolCall("call_a", "write_file", {"path": "a.txt", "content": "A"}),
                            1: ToolCall("call_b", "read_file", {"path": "b.txt"})}
    assert out["done"].stop_reason == "tool_use"
    assert out["deltas"][0] == ToolCallDelta(index=0, id="call_a", name="write_file")
    assert "".join(d.arguments_delta for d in out["deltas"] if d.index == 0) == \
        '{"path": "a.txt", "content": "A"}'
    tools = server.requests[0].json["tools"]
    assert tools[0] == {"type": "function", "function": {
        "name": "write_file", "description": "Write a file.", "parameters": dict(WRITE_FILE.parameters)}}


def test_malformed_arguments_become_an_arguments_error(serve):
    server = serve([Reply(frames=openai_turn(tool_calls=[("c1", "write_file", ['{"path": "a"', ', }'])]))])
    call = collect(gpt(server).stream(HELLO, [WRITE_FILE], SETTINGS))["calls"][0]
    assert call.name == "write_file" and call.arguments == {}
    assert call.raw_arguments == '{"path": "a", }' and "not valid JSON" in call.arguments_error


def test_history_with_tool_results_goes_out_as_chat_messages(serve):
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    history = [Message("system", "sys"), Message("user", "go"),
               Message("assistant", "", tool_calls=(ToolCall("c1", "read_file", {"path": "a"}),
                                                    ToolCall("c2", "read_file", {}, "bad json", "{x"))),
               Message("tool", "A", tool_call_id="c1", name="read_file"),
               Message("tool", "bad", tool_call_id="c2", name="read_file", is_error=True)]
    collect(gpt(server, reasoning_effort="low").stream(history, [READ_FILE], SETTINGS))
    req = server.requests[0].json
    assert req["reasoning_effort"] == "low"
    assert req["messages"][2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a"}'}},
        {"id": "c2", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}]}
    assert req["messages"][3:] == [{"role": "tool", "tool_call_id": "c1", "content": "A"},
                                   {"role": "tool", "tool_call_id": "c2", "content": "bad"}]


def test_429_with_retry_after_then_success(serve):
    server = serve([openai_error(429, "Rate limit reached", "rate_limit_exceeded", "requests",
                                 {"retry-after-ms": "300"}),
                    Reply(frames=openai_turn(text=["ok"]))])
    start = time.monotonic()
    assert collect(gpt(server).stream(HELLO, [], SETTINGS))["text"] == "ok"
    assert time.monotonic() - start >= 0.3 and len(server.requests) == 2


def test_500_then_success(serve):
    server = serve([openai_error(500, "internal", kind="server_error"), Reply(frames=openai_turn(text=["ok"]))])
    assert collect(gpt(server).stream(HELLO, [], SETTINGS))["text"] == "ok"
    assert len(server.requests) == 2


def test_auth_error_names_the_variable(serve):
    server = serve([openai_error(401, "Incorrect API key provided", "invalid_api_key")])
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        collect(gpt(server).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 1


def test_unknown_model_is_not_retried(serve):
    server = serve([openai_error(404, "The model `gpt-nope` does not exist", "model_not_found")])
    with pytest.raises(ModelError, match="does not know model 'gpt-5'"):
        collect(gpt(server).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 1


def test_context_length_error(serve):
    server = serve([openai_error(400, "This model's maximum context length is 128000 tokens.",
                                 "context_length_exceeded")])
    with pytest.raises(ModelError, match="context window"):
        collect(gpt(server).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 1


def test_stream_cut_mid_arguments_after_deltas_raises_stream_interrupted(serve):
    frames = openai_turn(text=["Let me write."], tool_calls=[("c1", "write_file", ['{"path": "a', '.txt"}'])])
    cut = next(i for i, f in enumerate(frames) if b".txt" in f)
    server = serve([Reply(frames=frames, cut_after=cut), Reply(frames=openai_turn(text=["x"]))])
    seen = []
    with pytest.raises(StreamInterrupted):
        for ev in gpt(server).stream(HELLO, [WRITE_FILE], SETTINGS):
            seen.append(ev)
    assert TextDelta("Let me write.") in seen
    assert not any(isinstance(e, (Usage, Done)) for e in seen) and len(server.requests) == 1


def test_stream_cut_before_any_delta_is_retried(serve):
    server = serve([Reply(frames=openai_turn(text=["lost"]), cut_after=1),
                    Reply(frames=openai_turn(text=["whole"]))])
    assert collect(gpt(server).stream(HELLO, [], SETTINGS))["text"] == "whole"
    assert len(server.requests) == 2


def test_slow_first_byte_times_out_and_retries(serve):
    server = serve([Reply(frames=openai_turn(text=["late"]), first_byte_delay=1.5),
                    Reply(frames=openai_turn(text=["fast"]))])
    start = time.monotonic()
    assert collect(gpt(server, timeout=0.3).stream(HELLO, [], SETTINGS))["text"] == "fast"
    assert time.monotonic() - start < 1.5


def test_closing_the_generator_closes_the_http_stream(serve):
    server = serve([Reply(frames=openai_turn(text=[f"w{i} " for i in range(200)]), frame_delay=0.02)])
    events = gpt(server).stream(HELLO, [], SETTINGS)
    next(e for e in events if isinstance(e, TextDelta))
    start = time.monotonic()
    events.close()
    assert time.monotonic() - start < 0.5
    assert server.disconnected.wait(2.0)


def test_missing_openai_key_is_bad_input():
    with pytest.raises(BadInput, match="OPENAI_API_KEY"):
        resolve_model("openai:gpt-5", {"base_url": "http://127.0.0.1:9/v1"})


def test_openai_key_and_base_url_from_environment(serve, monkeypatch):
    server = serve([Reply(frames=openai_turn(text=["env"]))])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    m = resolve_model("openai:gpt-4o", {})
    assert collect(m.stream(HELLO, [], SETTINGS))["text"] == "env"
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"
    assert m.context_window == 128_000


# ---- openai-compat -----------------------------------------------------------------

def test_compat_needs_no_key_and_never_sends_the_openai_key(serve, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-secret")
    server = serve([Reply(frames=openai_turn(text=["local"], usage=False))])
    m = compat(server, api_key=None)
    out = collect(m.stream(HELLO, [], SETTINGS))
    assert out["text"] == "local" and out["usage"] == [Usage()]
    assert "sk-real-secret" not in server.requests[0].headers.get("authorization", "")
    req = server.requests[0].json
    assert req["model"] == "qwen3" and req["max_tokens"] == 500
    assert m.name == f"openai-compat:qwen3@{server.url}/v1" and m.context_window == 128_000


def test_compat_spec_without_url_is_bad_input():
    with pytest.raises(BadInput, match="openai-compat:MODEL@URL"):
        resolve_model("openai-compat:qwen3", {})


def test_compat_native_tool_calls_and_reasoning_content(serve):
    server = serve([Reply(frames=openai_turn(reasoning=["hmm"], tool_calls=[
        ("c1", "read_file", ['{"path": "x"}'])]))])
    out = collect(compat(server).stream(HELLO, [READ_FILE], SETTINGS))
    assert out["thinking"] == "hmm"
    assert out["calls"][0] == ToolCall("c1", "read_file", {"path": "x"})


def test_a_providers_extra_body_goes_into_every_request(serve, tmp_path, monkeypatch):
    """`[providers.openai-compat] extra_body` in the user config: e.g. Qwen3 on vLLM without thinking."""
    from agent.config.load import load_config, model_options

    for var, folder in (("AMA_HOME", "ama"), ("XDG_CONFIG_HOME", "xdg"), ("HOME", "")):
        monkeypatch.setenv(var, str(tmp_path / folder))
    (tmp_path / "xdg" / "amanuensis").mkdir(parents=True)
    (tmp_path / "xdg" / "amanuensis" / "config.toml").write_text(
        '[providers.openai-compat]\nextra_body = { chat_template_kwargs = { enable_thinking = false }, top_k = 20 }\n')
    server = serve([Reply(frames=openai_turn(text=["ok"]))] * 2)
    options = model_options(load_config(None, trusted=False), "openai-compat:qwen3")
    collect(compat(server, **options).stream(HELLO, [], SETTINGS))
    body = server.requests[0].json
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["top_k"] == 20
    assert body["model"] == "qwen3" and body["stream"] is True  # the rest as always
    collect(compat(server).stream(HELLO, [], SETTINGS))  # a provider without one sends none
    assert "chat_template_kwargs" not in server.requests[1].json


@pytest.mark.parametrize("pieces", [
    ["I'll read it.\n<tool_", 'call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'],
    ["I'll read it.", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>read_file\n",
     '```json\n{"path": "a.py"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'],
])
def test_compat_text_tool_calls_become_tool_calls(serve, pieces):
    server = serve([Reply(frames=openai_turn(text=pieces))])
    out = collect(compat(server).stream(HELLO, [READ_FILE], SETTINGS))
    assert out["text"].strip() == "I'll read it."  # no markup reaches the user
    [call] = out["calls"].values()
    assert (call.name, dict(call.arguments)) == ("read_file", {"path": "a.py"})
    assert call.id and out["done"].stop_reason == "tool_use"


def test_compat_qwen3_coder_text_calls_are_typed_by_the_tools(serve):
    """Qwen3-Coder's XML calls, streamed in pieces: a file's content that is JSON stays text (the
    schema says string), and two calls come back as two."""
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\nconf.json\n</parameter>\n<parameter=content>\n"
            '{"debug": true}\n\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=read_file>\n'
            "<parameter=path>\nconf.json\n</parameter>\n</function>\n</tool_call>")
    server = serve([Reply(frames=openai_turn(text=[text[:30], text[30:90], text[90:]]))])
    out = collect(compat(server).stream(HELLO, [WRITE_FILE, READ_FILE], SETTINGS))
    calls = [out["calls"][i] for i in sorted(out["calls"])]
    assert [(c.name, dict(c.arguments)) for c in calls] == [
        ("write_file", {"path": "conf.json", "content": '{"debug": true}\n'}), ("read_file", {"path": "conf.json"})]
    assert out["text"] == "" and out["done"].stop_reason == "tool_use"


def test_compat_bare_json_tool_call_and_malformed_text_call(serve):
    server = serve([Reply(frames=openai_turn(text=['{"name": "read_file", ', '"arguments": {"path": "b"}}'])),
                    Reply(frames=openai_turn(text=['<tool_call>{"name": "read_file", "arguments": {"path": }}'
                                                   '</tool_call>']))])
    m = compat(server)
    first = collect(m.stream(HELLO, [READ_FILE], SETTINGS))
    assert first["text"] == "" and first["calls"][0].arguments == {"path": "b"}
    broken = collect(m.stream(HELLO, [READ_FILE], SETTINGS))["calls"][0]
    assert broken.name == "read_file" and broken.arguments == {} and broken.arguments_error


def test_compat_plain_json_answer_is_not_a_tool_call(serve):
    server = serve([Reply(frames=openai_turn(text=['{"answer": ', '42}']))])
    out = collect(compat(server).stream(HELLO, [], SETTINGS))
    assert out["text"] == '{"answer": 42}' and out["calls"] == {}
    assert out["done"].stop_reason == "end_turn"


def test_compat_error_in_stream_chunk_is_retried_before_deltas(serve):
    error_chunk = sse(None, {"error": {"message": "engine overloaded", "type": "server_error"}})
    server = serve([Reply(frames=[error_chunk]), Reply(frames=openai_turn(text=["ok"]))])
    assert collect(compat(server).stream(HELLO, [], SETTINGS))["text"] == "ok"
    assert len(server.requests) == 2


def test_connection_refused_is_retried_then_reported():
    import socket
    with socket.socket() as s:          # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = resolve_model(f"openai-compat:m@http://127.0.0.1:{port}/v1", {**FAST, "max_retries": 1})
    with pytest.raises(ModelError, match=r"could not reach .*127\.0\.0\.1.*gave up after 2 attempts"):
        collect(m.stream(HELLO, [], SETTINGS))
