"""`anthropic:` against a scripted Messages API server, through the real `anthropic` SDK."""
from __future__ import annotations

import json
import time

import pytest

from agent.core.errors import BadInput, ModelError, StreamInterrupted
from agent.models.registry import resolve_model
from agent.core.types import (Done, Message, ModelSettings, Reasoning, TextDelta, ToolCall, ToolCallDelta,
                         Usage)
from tests.models.helpers import FAST, READ_FILE, WRITE_FILE, collect
from tests.models.wire_servers import Reply, anthropic_error, anthropic_turn

SETTINGS = ModelSettings(max_tokens=1000)
HELLO = [Message("system", "You are terse."), Message("user", "hi")]


def model(server, **options):
    return resolve_model("anthropic:claude-haiku-4-5", {**FAST, "base_url": server.url, **options})


def test_text_turn_streams_deltas_usage_and_cost(serve):
    server = serve([Reply(frames=anthropic_turn(text=["Hel", "lo"], input_tokens=1000,
                                                output_tokens=2000, cache_read=4000, cache_write=500))])
    out = collect(model(server).stream(HELLO, [], SETTINGS))
    assert [e.text for e in out["all"] if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert out["done"] == Done("end_turn")
    assert isinstance(out["all"][-1], Done) and isinstance(out["all"][-2], Usage)
    [usage] = out["usage"]
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
            usage.cache_write_tokens) == (1000, 2000, 4000, 500)
    # claude-haiku-4-5: $1 in, $5 out, $0.10 cache read, $1.25 cache write per million
    assert usage.cost_usd == pytest.approx((1000 * 1 + 2000 * 5 + 4000 * 0.1 + 500 * 1.25) / 1e6)
    req = server.requests[0]
    assert req.path == "/v1/messages"
    # this SDK generation sends the key as a bearer token
    assert req.headers["authorization"] == "Bearer test-key"
    assert req.json["stream"] is True and req.json["max_tokens"] == 1000
    assert req.json["system"] == [{"type": "text", "text": "You are terse.",
                                   "cache_control": {"type": "ephemeral"}}]
    assert req.json["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]


def test_several_tool_calls_in_one_turn(serve):
    server = serve([Reply(frames=anthropic_turn(text=["Writing."], tool_calls=[
        ("toolu_1", "write_file", ['{"path": "a.txt", ', '"content": "A"}']),
        ("toolu_2", "read_file", ['{"pa', 'th": "b.txt"}'])]))])
    out = collect(model(server).stream(HELLO, [WRITE_FILE, READ_FILE], SETTINGS))
    assert out["calls"] == {
        0: ToolCall("toolu_1", "write_file", {"path": "a.txt", "content": "A"}),
        1: ToolCall("toolu_2", "read_file", {"path": "b.txt"})}
    assert out["done"].stop_reason == "tool_use"
    assert out["deltas"][0] == ToolCallDelta(index=0, id="toolu_1", name="write_file")
    assert "".join(d.arguments_delta for d in out["deltas"] if d.index == 1) == '{"path": "b.txt"}'
    tools = server.requests[0].json["tools"]
    assert [t["name"] for t in tools] == ["write_file", "read_file"]
    assert tools[0]["input_schema"]["required"] == ["path", "content"]
    assert "cache_control" not in tools[0] and tools[-1]["cache_control"] == {"type": "ephemeral"}


def test_malformed_arguments_become_an_arguments_error(serve):
    server = serve([Reply(frames=anthropic_turn(tool_calls=[("toolu_1", "write_file", ['{"path": '])]))])
    call = collect(model(server).stream(HELLO, [WRITE_FILE], SETTINGS))["calls"][0]
    assert call.arguments == {} and call.raw_arguments == '{"path": '
    assert "not valid JSON" in call.arguments_error


def test_conversation_with_tool_results_and_thinking_round_trip(serve):
    server = serve([Reply(frames=anthropic_turn(text=["done"]))])
    history = [
        Message("system", "sys"),
        Message("user", "make files"),
        Message("assistant", "ok", reasoning=(Reasoning("let me think", "sig-1"),
                                              Reasoning("opaque", None, redacted=True)),
                tool_calls=(ToolCall("t1", "write_file", {"path": "a"}),
                            ToolCall("t2", "write_file", {"path": "b"}))),
        Message("tool", "wrote a", tool_call_id="t1", name="write_file"),
        Message("tool", "no such dir", tool_call_id="t2", name="write_file", is_error=True),
        Message("user", "thanks"),
    ]
    collect(model(server).stream(history, [WRITE_FILE], SETTINGS))
    msgs = server.requests[0].json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    # cache breakpoints on the last two user messages; with system and tools, the API's limit of four
    assert json.dumps(server.requests[0].json).count("cache_control") == 4
    assert msgs[0]["content"] == [{"type": "text", "text": "make files",
                                   "cache_control": {"type": "ephemeral"}}]
    assert msgs[1]["content"] == [
        {"type": "thinking", "thinking": "let me think", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "t1", "name": "write_file", "input": {"path": "a"}},
        {"type": "tool_use", "id": "t2", "name": "write_file", "input": {"path": "b"}}]
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "wrote a"},
        {"type": "tool_result", "tool_use_id": "t2", "content": "no such dir", "is_error": True},
        {"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}}]


def test_thinking_streams_and_comes_back_signed(serve):
    server = serve([Reply(frames=anthropic_turn(thinking=["Let me ", "see."], signature="sig-xyz",
                                                redacted="enc", text=["42"]))])
    m = model(server, thinking_budget=2048)
    out = collect(m.stream(HELLO, [], ModelSettings(max_tokens=1000)))
    assert out["thinking"] == "Let me see." and out["text"] == "42"
    assert out["done"].reasoning == (Reasoning("enc", None, redacted=True),
                                     Reasoning("Let me see.", "sig-xyz"))
    req = server.requests[0].json
    assert req["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert req["max_tokens"] > 2048


def test_429_with_retry_after_is_honoured(serve):
    server = serve([anthropic_error(429, "rate_limit_error", "slow down", {"retry-after": "0.3"}),
                    Reply(frames=anthropic_turn(text=["ok"]))])
    start = time.monotonic()
    out = collect(model(server).stream(HELLO, [], SETTINGS))
    assert out["text"] == "ok" and len(server.requests) == 2
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("status,kind", [(500, "api_error"), (529, "overloaded_error"),
                                         (503, "api_error")])
def test_server_errors_are_retried(serve, status, kind):
    server = serve([anthropic_error(status, kind, "boom"), Reply(frames=anthropic_turn(text=["ok"]))])
    assert collect(model(server).stream(HELLO, [], SETTINGS))["text"] == "ok"
    assert len(server.requests) == 2


def test_retries_run_out(serve):
    server = serve([anthropic_error(500, "api_error", "boom")] * 3)
    with pytest.raises(ModelError, match="gave up after 3 attempts"):
        collect(model(server, max_retries=2).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 3


def test_auth_error_is_not_retried_and_names_the_variable(serve):
    server = serve([anthropic_error(401, "authentication_error", "invalid x-api-key")])
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY") as info:
        collect(model(server).stream(HELLO, [], SETTINGS))
    assert not isinstance(info.value, StreamInterrupted)
    assert len(server.requests) == 1


def test_unknown_model_is_not_retried(serve):
    server = serve([anthropic_error(404, "not_found_error", "model: claude-nope")])
    with pytest.raises(ModelError, match="--model"):
        collect(model(server).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 1


def test_context_length_error_says_what_to_do(serve):
    server = serve([anthropic_error(400, "invalid_request_error",
                                    "prompt is too long: 210000 tokens > 200000 maximum")])
    with pytest.raises(ModelError, match="context window.*compact"):
        collect(model(server).stream(HELLO, [], SETTINGS))
    assert len(server.requests) == 1


def test_cut_before_any_delta_is_retried_from_the_request(serve):
    # message_start + ping arrive, then the connection drops mid-frame: nothing was yielded yet.
    server = serve([Reply(frames=anthropic_turn(text=["never"]), cut_after=2),
                    Reply(frames=anthropic_turn(text=["whole"]))])
    out = collect(model(server).stream(HELLO, [], SETTINGS))
    assert out["text"] == "whole" and len(server.requests) == 2


def test_cut_mid_json_after_deltas_raises_stream_interrupted(serve):
    frames = anthropic_turn(text=["partial"], tool_calls=[("t1", "write_file", ['{"path": "a', '.txt"}'])])
    cut = next(i for i, f in enumerate(frames) if b'.txt' in f)
    server = serve([Reply(frames=frames, cut_after=cut), Reply(frames=anthropic_turn(text=["x"]))])
    seen = []
    with pytest.raises(StreamInterrupted):
        for ev in model(server).stream(HELLO, [WRITE_FILE], SETTINGS):
            seen.append(ev)
    assert TextDelta("partial") in seen
    assert not any(isinstance(e, (Usage, Done)) for e in seen)
    assert len(server.requests) == 1


def test_stream_that_ends_without_message_stop_is_not_complete(serve):
    frames = anthropic_turn(text=["ok"])
    server = serve([Reply(frames=frames[:3]), Reply(frames=frames)])
    out = collect(model(server).stream(HELLO, [], SETTINGS))
    assert out["text"] == "ok" and len(server.requests) == 2


def test_error_event_mid_stream_before_deltas_is_retried(serve):
    from tests.models.wire_servers import sse
    overloaded = sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    server = serve([Reply(frames=anthropic_turn(text=["x"])[:2] + [overloaded]),
                    Reply(frames=anthropic_turn(text=["ok"]))])
    assert collect(model(server).stream(HELLO, [], SETTINGS))["text"] == "ok"


def test_slow_first_byte_times_out_and_retries(serve):
    server = serve([Reply(frames=anthropic_turn(text=["late"]), first_byte_delay=1.5),
                    Reply(frames=anthropic_turn(text=["fast"]))])
    start = time.monotonic()
    out = collect(model(server, timeout=0.3).stream(HELLO, [], SETTINGS))
    assert out["text"] == "fast" and len(server.requests) == 2
    assert time.monotonic() - start < 1.5


def test_closing_the_generator_closes_the_http_stream(serve):
    frames = anthropic_turn(text=[f"w{i} " for i in range(200)])
    server = serve([Reply(frames=frames, frame_delay=0.02)])
    events = model(server).stream(HELLO, [], SETTINGS)
    for ev in events:
        if isinstance(ev, TextDelta):
            break
    start = time.monotonic()
    events.close()
    assert time.monotonic() - start < 0.5
    assert server.disconnected.wait(2.0), "server kept streaming to a closed client"


def test_missing_key_is_bad_input_before_any_network():
    with pytest.raises(BadInput, match="ANTHROPIC_API_KEY"):
        resolve_model("anthropic:claude-sonnet-4-5", {"base_url": "http://127.0.0.1:9"})


def test_key_and_base_url_from_environment(serve, monkeypatch):
    server = serve([Reply(frames=anthropic_turn(text=["env"]))])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    m = resolve_model("anthropic:claude-haiku-4-5", {"retry_base_delay": 0.01})
    assert collect(m.stream(HELLO, [], SETTINGS))["text"] == "env"
    assert server.requests[0].headers["authorization"] == "Bearer from-env"
    assert m.name == "anthropic:claude-haiku-4-5" and m.context_window == 200_000


def test_cost_from_table_override_or_zero_for_unknown_models(serve):
    server = serve([Reply(frames=anthropic_turn(text=["a"], input_tokens=1_000_000, output_tokens=0))] * 3)
    priced = collect(model(server).stream(HELLO, [], SETTINGS))
    assert priced["usage"][0].cost_usd == pytest.approx(1.0)
    unknown = resolve_model("anthropic:claude-custom", {**FAST, "base_url": server.url})
    assert collect(unknown.stream(HELLO, [], SETTINGS))["usage"][0].cost_usd == 0.0
    custom = resolve_model("anthropic:claude-custom", {**FAST, "base_url": server.url,
                                                       "prices": {"claude-custom": {"input": 7, "output": 1}}})
    assert collect(custom.stream(HELLO, [], SETTINGS))["usage"][0].cost_usd == pytest.approx(7.0)
