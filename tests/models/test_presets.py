"""The provider presets (`gemini:`, `deepseek:`, `openrouter:`, `ollama:`) through the real
`openai` SDK, each against a loopback server streaming the way that provider does.

What is held: the preset's base URL variable (or config's base_url) is where requests go,
its key variable is what they carry, and no other key — OPENAI_API_KEY, another preset's
— is ever sent; every connection the process makes goes to the test's own server (the
conftest's guard refuses any other). Prices and context windows come from presets.json;
a model it does not list still runs, with its cost unknown.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config.load import load_config, model_options
from agent.core.errors import BadInput
from agent.core.types import Message, ModelSettings, TextDelta, ThinkingDelta
from agent.models import registry
from agent.models.presets import host_url, presets
from agent.models.pricing import unknown_price_note
from agent.models.registry import resolve_model
from tests.models.helpers import READ_FILE, collect
from tests.models.wire_servers import Reply, openai_turn, sse

ROOT = Path(__file__).resolve().parents[2]
HELLO = [Message("system", "Be brief."), Message("user", "read a.txt")]
SETTINGS = ModelSettings(max_tokens=300)
SECRETS = {"GEMINI_API_KEY": "gm-secret-1", "DEEPSEEK_API_KEY": "ds-secret-2",
           "OPENROUTER_API_KEY": "or-secret-3", "OPENAI_API_KEY": "sk-openai-secret-4",
           "OPENAI_COMPAT_API_KEY": "compat-secret-5", "ANTHROPIC_API_KEY": "ant-secret-6"}
URL_VARS = ("GEMINI_BASE_URL", "DEEPSEEK_BASE_URL", "OPENROUTER_BASE_URL", "OLLAMA_HOST")


def chunk(delta: dict | None, model: str, finish: str | None = None, usage: dict | None = None,
          **extra) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [] if delta is None else [choice], **extra}
    if usage is not None:
        body["usage"] = usage
    return sse(None, body)


def call(call_id: str, index: int | None = 0) -> dict:
    """A tool call in one piece, as these providers stream it (Gemini sends no index)."""
    tc = {"id": call_id, "type": "function",
          "function": {"name": "read_file", "arguments": json.dumps({"path": "a.txt"})}}
    return tc if index is None else {"index": index, **tc}


# Each provider's stream of one turn: thinking (where it has any), text, one tool call,
# usage (prompt 3000 of which 1000 cached, completion 400), the way that provider sends it.
def gemini_frames(model: str) -> list[bytes]:
    # Google's compat endpoint: no `index` on tool calls, the finish reason and the usage
    # in the same last chunk.
    return [chunk({"role": "assistant", "content": "Reading it."}, model),
            chunk({"role": "assistant", "tool_calls": [call("function-call-1", None)]}, model,
                  "tool_calls", {"prompt_tokens": 3000, "completion_tokens": 400,
                                 "total_tokens": 3400,
                                 "prompt_tokens_details": {"cached_tokens": 1000}}),
            sse(None, "[DONE]")]


def deepseek_frames(model: str) -> list[bytes]:
    # deepseek-reasoner: `reasoning_content` deltas; cache hits reported twice over.
    usage = {"prompt_tokens": 3000, "completion_tokens": 400, "total_tokens": 3400,
             "prompt_cache_hit_tokens": 1000, "prompt_cache_miss_tokens": 2000,
             "prompt_tokens_details": {"cached_tokens": 1000}}
    return [chunk({"role": "assistant", "content": None, "reasoning_content": ""}, model),
            chunk({"content": None, "reasoning_content": "The user wants a.txt."}, model),
            chunk({"content": "Reading it."}, model),
            chunk({"tool_calls": [call("call_0_ds")]}, model),
            chunk({"content": ""}, model, "tool_calls", usage),
            sse(None, "[DONE]")]


def openrouter_frames(model: str) -> list[bytes]:
    # OpenRouter: SSE comments while it routes, `reasoning` deltas, usage with its cost.
    return [b": OPENROUTER PROCESSING\n\n",
            chunk({"role": "assistant", "content": "", "reasoning": "The user wants a.txt."},
                  model, provider="Anthropic"),
            chunk({"role": "assistant", "content": "Reading it."}, model, provider="Anthropic"),
            chunk({"role": "assistant", "content": None, "tool_calls": [call("toolu_or")]}, model),
            chunk({"role": "assistant", "content": ""}, model, "tool_calls"),
            chunk({"role": "assistant", "content": ""}, model, None, {
                "prompt_tokens": 3000, "completion_tokens": 400, "total_tokens": 3400,
                "cost": 0.0123, "prompt_tokens_details": {"cached_tokens": 1000}}),
            sse(None, "[DONE]")]


def ollama_frames(model: str) -> list[bytes]:
    # Ollama's /v1: `reasoning` deltas, the whole call in one chunk, usage in a chunk of its own.
    return [chunk({"role": "assistant", "content": "", "reasoning": "The user wants a.txt."},
                  model, system_fingerprint="fp_ollama"),
            chunk({"role": "assistant", "content": "Reading it."}, model),
            chunk({"role": "assistant", "content": "", "tool_calls": [call("call_ol")]}, model),
            chunk({"role": "assistant", "content": ""}, model, "tool_calls"),
            chunk(None, model, None, {"prompt_tokens": 3000, "completion_tokens": 400,
                                      "total_tokens": 3400}),
            sse(None, "[DONE]")]


# preset -> (model, frames, how to point it at `url`, the path requests take, its key,
#            whether it streams thinking, cached tokens it reports)
CASES = {
    "gemini": ("gemini-2.5-flash", gemini_frames, lambda url: url + "/v1beta/openai/",
               "/v1beta/openai/chat/completions", "gm-secret-1", False, 1000),
    "deepseek": ("deepseek-reasoner", deepseek_frames, lambda url: url,
                 "/chat/completions", "ds-secret-2", True, 1000),
    "openrouter": ("anthropic/claude-sonnet-4.5", openrouter_frames, lambda url: url + "/api/v1",
                   "/api/v1/chat/completions", "or-secret-3", True, 1000),
    "ollama": ("qwen3:8b", ollama_frames, lambda url: url.removeprefix("http://"),
               "/v1/chat/completions", None, True, 0),
}


@pytest.fixture
def keys(monkeypatch):
    """Every provider's key set, each a distinct secret; no base URL variable set."""
    for var, value in SECRETS.items():
        monkeypatch.setenv(var, value)
    for var in URL_VARS:
        monkeypatch.delenv(var, raising=False)
    return SECRETS


@pytest.fixture
def connections(monkeypatch):
    """Every address this process connects a socket to, while the test runs."""
    seen: list[tuple] = []
    guarded = socket.socket.connect   # the conftest's loopback guard

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(address[:2])
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.mark.parametrize("name", CASES)
def test_preset_against_its_wire_format(name, keys, connections, serve, monkeypatch):
    model_name, frames, point, path, key, thinks, cached = CASES[name]
    server = serve([Reply(frames=frames(model_name))])
    preset = presets()[name]
    monkeypatch.setenv(preset.base_url_var, point(server.url))
    model = resolve_model(f"{name}:{model_name}", {"max_retries": 0})
    assert str(model.client.base_url).startswith(server.url)

    out = collect(model.stream(HELLO, [READ_FILE], SETTINGS))

    assert "".join(e.text for e in out["all"] if isinstance(e, TextDelta)) == "Reading it."
    thought = "".join(e.text for e in out["all"] if isinstance(e, ThinkingDelta))
    assert thought == ("The user wants a.txt." if thinks else "")
    [tool_call] = out["calls"].values()
    assert (tool_call.name, dict(tool_call.arguments)) == ("read_file", {"path": "a.txt"})
    assert out["done"].stop_reason == "tool_use"
    [usage] = out["usage"]
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == \
        (3000 - cached, cached, 400)
    price = model.price
    assert usage.cost_usd == pytest.approx(((3000 - cached) * price.input + cached * price.cache_read
                                            + 400 * price.output) / 1e6)
    # The request: one, to the server the variable named, with this preset's key only.
    [request] = server.requests
    assert request.path == path
    assert request.headers["authorization"] == f"Bearer {key or 'no-key'}"
    sent = json.dumps([request.headers, request.json])
    assert [v for v in SECRETS.values() if v in sent and v != key] == []
    assert request.json["model"] == model_name and request.json["max_tokens"] == 300
    host, port = server.url.removeprefix("http://").split(":")
    assert connections and set(connections) == {(host, int(port))}
    if name == "openrouter":
        assert request.headers["x-title"] == "amanuensis"


def test_the_defaults_are_the_providers_endpoints(keys):
    expected = {"gemini": "https://generativelanguage.googleapis.com/v1beta/openai/",
                "deepseek": "https://api.deepseek.com", "openrouter": "https://openrouter.ai/api/v1",
                "ollama": "http://127.0.0.1:11434/v1"}
    for name, url in expected.items():
        model = resolve_model(f"{name}:some-model", {})
        assert str(model.client.base_url).rstrip("/") == url.rstrip("/"), name
        assert model.client.api_key == (SECRETS.get(f"{name.upper()}_API_KEY") or "no-key")


@pytest.mark.parametrize("name,var", [("gemini", "GEMINI_API_KEY"), ("deepseek", "DEEPSEEK_API_KEY"),
                                      ("openrouter", "OPENROUTER_API_KEY")])
def test_a_missing_key_names_its_variable(name, var, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")   # never a stand-in
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(BadInput) as err:
        resolve_model(f"{name}:m", {})
    assert f"set {var}" in err.value.message and f"[providers.{name}]" in err.value.message


def test_config_base_url_and_key_variable_win(serve, monkeypatch, tmp_path, keys):
    """[providers.gemini] base_url and api_key_env in the user config, through model_options."""
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9/never-used")
    monkeypatch.setenv("WORK_GEMINI_KEY", "work-secret")
    config = tmp_path / "xdg" / "amanuensis" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[providers.gemini]\nbase_url = "{server.url}/gem/"\n'
                      f'api_key_env = "WORK_GEMINI_KEY"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    cfg = load_config(None, trusted=False)
    model = resolve_model("gemini:gemini-2.5-pro", model_options(cfg, "gemini:gemini-2.5-pro"))
    collect(model.stream(HELLO, [], SETTINGS))
    [request] = server.requests
    assert request.path == "/gem/chat/completions"
    assert request.headers["authorization"] == "Bearer work-secret"


def test_an_unknown_model_of_a_known_provider_runs_with_its_cost_unknown(serve, keys, monkeypatch):
    server = serve([Reply(frames=openai_turn(text=["hi"], prompt_tokens=10**6))])
    monkeypatch.setenv("DEEPSEEK_BASE_URL", server.url)
    model = resolve_model("deepseek:deepseek-v9", {})
    assert model.price is None and model.context_window == presets()["deepseek"].default_context_window
    out = collect(model.stream(HELLO, [], SETTINGS))
    assert out["usage"][0].input_tokens == 10**6 and out["usage"][0].cost_usd == 0
    assert server.requests[0].json["model"] == "deepseek-v9"
    note = unknown_price_note("deepseek:deepseek-v9", "deepseek-v9")
    assert "deepseek:deepseek-v9" in note and '[prices."deepseek-v9"]' in note
    # config's [prices] gives it one; a local server's models cost nothing, listed or not
    priced = resolve_model("deepseek:deepseek-v9", {"prices": {"deepseek-v9": {"input": 1, "output": 2}}})
    assert (priced.price.input, priced.price.output) == (1.0, 2.0)
    assert resolve_model("ollama:anything:7b", {}).price.output == 0.0


@pytest.mark.parametrize("given,url", [
    ("127.0.0.1", "http://127.0.0.1:11434"), ("gpu-box", "http://gpu-box:11434"),
    ("0.0.0.0:8080", "http://0.0.0.0:8080"), ("http://gpu-box", "http://gpu-box:80"),
    ("https://ollama.example.com/", "https://ollama.example.com:443"),
    ("[::1]:9999", "http://[::1]:9999"), ("http://h:1234/proxy/", "http://h:1234/proxy")])
def test_ollama_host_is_read_as_ollama_reads_it(given, url, monkeypatch):
    assert host_url(given, 11434) == url
    monkeypatch.setenv("OLLAMA_HOST", given)
    # (the SDK's URL leaves a scheme's default port out)
    shown = url.removesuffix(":80") if url.startswith("http:") else url.removesuffix(":443")
    assert str(resolve_model("ollama:qwen3", {}).client.base_url) == shown + "/v1/"


@pytest.mark.parametrize("bad", ["ftp://h", "h:port", "http://"])
def test_a_bad_ollama_host_is_bad_input(bad):
    with pytest.raises(BadInput, match="OLLAMA_HOST"):
        host_url(bad, 11434)


def test_the_registry_offers_every_preset_and_only_those():
    assert set(registry.PRESETS) == set(presets())
    for name, p in presets().items():
        assert registry.PROVIDERS[name] == f"agent.models.presets:{name}"
        for model, entry in p.models.items():
            assert {"input", "output", "context_window"} <= set(entry), (name, model)


def test_ama_p_with_a_preset_end_to_end(serve, tmp_path):
    """`ama -p` with `--config providers.gemini.base_url=...`: the run succeeds, its key
    is the one sent, and an unknown model's cost is said to be unknown."""
    server = serve([Reply(frames=openai_turn(text=["Nothing to change."]))])
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "GEMINI_", "AMA_")) and "proxy" not in k.lower()}
    env.update(AMA_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               GEMINI_API_KEY="gm-secret-e2e", OPENAI_API_KEY="sk-not-this-one")
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "-p", "look at a.txt", "--model", "gemini:gemini-9-ultra",
         "--config", f"providers.gemini.base_url={server.url}/v1beta/openai/", "--max-cost", "1",
         "--sandbox", "local", "--output-format", "json", "--cwd", str(repo)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["result"] == "Nothing to change." and result["total_cost_usd"] == 0
    assert "no price is known for gemini:gemini-9-ultra" in proc.stderr
    [request] = server.requests
    assert request.path == "/v1beta/openai/chat/completions"
    assert request.headers["authorization"] == "Bearer gm-secret-e2e"
