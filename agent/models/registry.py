"""Map a model string to a provider, importing the provider's SDK only when chosen.

    anthropic:claude-sonnet-4-5
    openai:gpt-5.2
    openai-compat:MODEL@http://127.0.0.1:8000/v1
    gemini:gemini-2.5-pro  deepseek:deepseek-chat  openrouter:VENDOR/MODEL  ollama:qwen3:8b
                                   (presets: OpenAI-compatible endpoints with their defaults,
                                    agent/models/presets.json)
    local:/path/to/checkpoint
    script:path/to/session.jsonl   (several attempts: script:a.jsonl,b.jsonl)
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

from agent.core.errors import BadInput
from agent.core.types import Model

# scheme -> "module:factory"; the factory takes (rest_of_spec, options) and returns a Model.
PROVIDERS: dict[str, str] = {
    "script": "agent.models.script:create",
    "anthropic": "agent.models.anthropic:create",
    "openai": "agent.models.openai:create",
    "openai-compat": "agent.models.openai_compat:create",
    "local": "agent.models.local:create",
}
# The provider presets (agent/models/presets.py; their data in presets.json).
PRESETS = ("gemini", "deepseek", "openrouter", "ollama")
PROVIDERS.update({name: f"agent.models.presets:{name}" for name in PRESETS})


def split_spec(spec: str) -> tuple[str, str]:
    if ":" not in spec:
        raise BadInput(f"model {spec!r} has no provider; write it as PROVIDER:MODEL, "
                       f"e.g. anthropic:claude-sonnet-4-5 (providers: {', '.join(PROVIDERS)})")
    scheme, rest = spec.split(":", 1)
    if scheme not in PROVIDERS:
        raise BadInput(f"unknown model provider {scheme!r} in {spec!r}; "
                       f"known providers: {', '.join(PROVIDERS)}")
    if not rest:
        raise BadInput(f"model {spec!r} names no model after {scheme!r}:")
    return scheme, rest


def resolve_model(spec: str, options: Mapping[str, Any] | None = None) -> Model:
    """Build the Model for `spec`. Raises BadInput for a malformed spec or missing key."""
    scheme, rest = split_spec(spec)
    module_name, factory = PROVIDERS[scheme].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise BadInput(f"provider {scheme!r} is not available: {e}. "
                       f"Install its extra (pip install 'amanuensis[local]' for local:)") from e
    return getattr(module, factory)(rest, dict(options or {}))
