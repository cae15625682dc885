"""The loop, the real SDKs and a scripted server: a stream cut off after deltas is retried
with the same budget as a 5xx (`max_retries`), and deeply nested tool arguments come back
to the model as a tool error instead of ending the run."""
from __future__ import annotations

import threading

import pytest

from agent.core.loop import Agent
from agent.models.registry import resolve_model
from tests.models.helpers import FAST
from tests.models.wire_servers import Reply, anthropic_turn, openai_turn
from tools.base import ToolContext
from tools.files import FILE_TOOLS
from tools.sandbox.local import LocalSandbox

DEEP = "[" * 1000 + "]" * 1000


def cut(frames: list[bytes]) -> Reply:
    """The reply dropped midway, after its first text delta reached the client."""
    first_text = next(i for i, f in enumerate(frames) if b"partial" in f)
    return Reply(frames=frames, cut_after=first_text + 1)


PROVIDERS = {
    "openai": (lambda url: resolve_model("openai:gpt-5", {**FAST, "base_url": url + "/v1"}),
               lambda text=(), calls=(): openai_turn(text=list(text), tool_calls=list(calls))),
    "anthropic": (lambda url: resolve_model("anthropic:claude-haiku-4-5", {**FAST, "base_url": url}),
                  lambda text=(), calls=(): anthropic_turn(text=list(text), tool_calls=list(calls))),
}


def run_loop(model, tmp_path):
    ctx = ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path), cancel=threading.Event())
    agent = Agent(model=model, tools=list(FILE_TOOLS), ctx=ctx, emit=lambda e: None,
                  system_prompt="test")
    return agent, agent.run("go")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_streams_get_the_retry_budget_of_a_5xx(serve, tmp_path, provider):
    make_model, turn = PROVIDERS[provider]
    partial = turn(text=["partial ", "answer", " that goes on"])
    retries = FAST["max_retries"]
    server = serve([cut(partial)] * retries + [Reply(frames=turn(text=["whole answer"]))])
    agent, out = run_loop(make_model(server.url), tmp_path)
    assert out.subtype == "success" and out.result == "whole answer"
    assert len(server.requests) == retries + 1
    assert [m.content for m in agent.messages if m.role == "assistant"] == ["whole answer"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_streams_past_the_budget_end_the_run(serve, tmp_path, provider):
    make_model, turn = PROVIDERS[provider]
    partial = turn(text=["partial ", "answer", " that goes on"])
    retries = FAST["max_retries"]
    server = serve([cut(partial)] * (retries + 2))
    _, out = run_loop(make_model(server.url), tmp_path)
    assert out.subtype == "error_model" and f"gave up after {retries + 1} attempts" in out.result
    assert len(server.requests) == retries + 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_deeply_nested_arguments_are_a_tool_error(serve, tmp_path, provider):
    make_model, turn = PROVIDERS[provider]
    server = serve([Reply(frames=turn(calls=[("c1", "write_file", [DEEP])])),
                    Reply(frames=turn(text=["gave up"]))])
    agent, out = run_loop(make_model(server.url), tmp_path)
    assert out.subtype == "success" and out.result == "gave up"
    [tool_result] = [m for m in agent.messages if m.role == "tool"]
    assert tool_result.is_error
    assert "nested 1000 levels deep (at most 100)" in tool_result.content
