"""Provider presets: `gemini:MODEL`, `deepseek:MODEL`, `openrouter:MODEL`, `ollama:MODEL`.

Each is an OpenAI-compatible endpoint with its defaults kept as data in `presets.json`:
the base URL, the variable that holds the key, context windows and prices. The model
speaks Chat Completions through the `openai` SDK (`chat_completions.py`), as
`openai-compat:` does.

    base URL   options["base_url"] (config: [providers.NAME] base_url), else the
               preset's variable (GEMINI_BASE_URL, DEEPSEEK_BASE_URL, OPENROUTER_BASE_URL;
               OLLAMA_HOST, a host to which /v1 is added), else the preset's URL
    key        options["api_key"] (config: [providers.NAME] api_key_env), else the
               preset's variable (GEMINI_API_KEY, ...); none needed for ollama

Each preset's key is read from its own variable and sent only to its own base URL;
no other variable (OPENAI_API_KEY included) is ever sent to it. A model the preset's
table does not list still runs: its context window is the preset's default and its
cost is unknown (`price` None, counted as 0), except on a free (local) provider.

create(provider, rest, options) -> ChatCompletionsModel. Options as `openai-compat:`'s:
api_key, base_url, max_retries, retry_base_delay, retry_max_delay, timeout, prices,
context_window, reasoning_effort, images.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

import openai

from agent.core.errors import BadInput
from agent.models.chat_completions import ChatCompletionsModel
from agent.models.http_errors import ProviderHints
from agent.models.pricing import Price, context_window_for, price_for
from agent.models.retry import RetryPolicy, client_timeout

OLLAMA_PORT = 11434


@dataclass(frozen=True)
class Preset:
    """One provider preset (an entry of presets.json's `providers`).

    name, label:    the spec prefix (`gemini`) and the provider's name in messages
    base_url:       the endpoint (for a `host_var` preset, a host: /v1 is added)
    base_url_var:   the environment variable that overrides it
    host_var:       the variable holds a host the way the provider's own CLI reads it
                    (OLLAMA_HOST: `[scheme://]host[:port]`), not an API URL
    key_var:        the variable that holds the key; None when no key is needed
    key_help:       where to get a key
    headers:        extra HTTP headers every request carries
    images:         whether tool results' images go to its models (the `images` option
                    overrides)
    text_tool_calls: recognise tool calls the model writes as text (local servers)
    free:           every model costs 0 (a local server)
    default_context_window: the window of a model its table does not list
    models:         model -> price and context window, the shape of prices.json
    """
    name: str
    label: str
    base_url: str
    base_url_var: str
    key_var: str | None
    default_context_window: int
    key_help: str = ""
    host_var: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    images: bool = False
    text_tool_calls: bool = False
    free: bool = False
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@cache
def presets() -> Mapping[str, Preset]:
    """Every preset, by name, from presets.json."""
    text = resources.files("agent.models").joinpath("presets.json").read_text(encoding="utf-8")
    return MappingProxyType({name: Preset(name=name, **entry)
                             for name, entry in json.loads(text)["providers"].items()})


def create(provider: str, rest: str, options: dict[str, Any]) -> ChatCompletionsModel:
    """Build the model for `PROVIDER:REST`. BadInput when the preset's key is not set."""
    p = presets()[provider]
    url = base_url(p, options)
    api_key = options.get("api_key") or (os.environ.get(p.key_var) if p.key_var else None)
    if p.key_var and not api_key:
        raise BadInput(f"no {p.label} API key: set {p.key_var}"
                       f"{f' ({p.key_help})' if p.key_help else ''}, or name the variable "
                       f"that holds it with api_key_env under [providers.{p.name}] in your "
                       f"user config")
    read, connect = client_timeout(options)
    client = openai.OpenAI(api_key=api_key or "no-key", base_url=url, max_retries=0,
                           default_headers=dict(p.headers),
                           timeout=openai.Timeout(read, connect=connect))
    name = f"{provider}:{rest}"
    key_var = p.key_var or f"api_key_env under [providers.{p.name}]"
    images = p.images if options.get("images") is None else bool(options["images"])
    return ChatCompletionsModel(
        name=name, model=rest, client=client,
        hints=ProviderHints(p.label, rest, key_var, url),
        price=preset_price(p, rest, options.get("prices")),
        context_window=context_window_for(rest, options, p.default_context_window, spec=name,
                                          table=p.models),
        policy=RetryPolicy.from_options(options),
        token_param="max_tokens",   # what every one of these endpoints takes
        reasoning_effort=options.get("reasoning_effort"),
        text_tool_calls=p.text_tool_calls, images=images, extra_body=options.get("extra_body"))


def base_url(p: Preset, options: Mapping[str, Any]) -> str:
    """`p`'s base URL: config's, else its variable's, else its own (see the module doc)."""
    if options.get("base_url"):
        return str(options["base_url"])
    given = os.environ.get(p.base_url_var, "").strip()
    if p.host_var:
        return host_url(given or p.base_url, OLLAMA_PORT) + "/v1"
    return given or p.base_url


def host_url(host: str, default_port: int) -> str:
    """`[scheme://]host[:port][/path]` as a URL, read as Ollama reads OLLAMA_HOST: no
    scheme is http on `default_port`; http:// without a port is 80, https:// 443.
    BadInput for a value that is no host."""
    scheme, sep, _ = host.partition("://")
    parts = urlsplit(host if sep else f"http://{host}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or (sep and scheme not in ("http", "https")):
        raise BadInput(f"OLLAMA_HOST={host!r} is not a host; write it as HOST[:PORT] or "
                       f"http://HOST:PORT, e.g. 127.0.0.1:{default_port}")
    if port is None:
        port = default_port if not sep else (443 if parts.scheme == "https" else 80)
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{hostname}:{port}{parts.path.rstrip('/')}"


def preset_price(p: Preset, model: str, overrides: Mapping[str, Any] | None) -> Price | None:
    """`model`'s price on `p`: config's [prices], else the preset's table; on a free
    provider 0 when neither has one; otherwise None (unknown)."""
    price = price_for(model, overrides, spec=f"{p.name}:{model}", table=p.models)
    if price is None and p.free:
        return Price(0.0, 0.0, 0.0, 0.0)
    return price


# The registry's factories (agent/models/registry.py): one a preset.
def gemini(rest: str, options: dict[str, Any]) -> ChatCompletionsModel:
    return create("gemini", rest, options)


def deepseek(rest: str, options: dict[str, Any]) -> ChatCompletionsModel:
    return create("deepseek", rest, options)


def openrouter(rest: str, options: dict[str, Any]) -> ChatCompletionsModel:
    return create("openrouter", rest, options)


def ollama(rest: str, options: dict[str, Any]) -> ChatCompletionsModel:
    return create("ollama", rest, options)
