"""`openai-compat:MODEL@BASE_URL` — any server that speaks Chat Completions.

vLLM, SGLang, Ollama, llama.cpp's server, LM Studio and `ama serve`. The key is
optional: `options["api_key"]`, else OPENAI_COMPAT_API_KEY, else a placeholder. We
never send OPENAI_API_KEY here, so a real OpenAI key cannot leak to another server.
Tool calls the model writes as text (`<tool_call>...`, DeepSeek markers, bare JSON)
are recognised when the server does not parse them itself. Tool results' images stay
the notes in their text unless `options["images"]` (the config key `images`) says the
model takes them: many of these servers serve text-only models.

create(rest, options) -> ChatCompletionsModel. Options: api_key, base_url (when the
spec has no @URL), max_retries, retry_base_delay, retry_max_delay, timeout, prices,
context_window, reasoning_effort, images.
"""
from __future__ import annotations

import os
import re

import openai

from agent.core.errors import BadInput
from agent.models.chat_completions import ChatCompletionsModel
from agent.models.http_errors import ProviderHints
from agent.models.pricing import context_window_for, price_for
from agent.models.retry import RetryPolicy, client_timeout

KEY_VAR = "OPENAI_COMPAT_API_KEY"
_SPEC = re.compile(r"^(?P<model>.+?)@(?P<url>https?://\S+)$")


def create(rest: str, options: dict) -> ChatCompletionsModel:
    """Build the model for `openai-compat:REST`. Raises BadInput for a spec without a URL."""
    m = _SPEC.match(rest)
    model, base_url = (m["model"], m["url"]) if m else (rest, options.get("base_url"))
    if not base_url:
        raise BadInput(f"openai-compat needs the server's URL: write "
                       f"openai-compat:MODEL@URL, e.g. openai-compat:{model.split('@')[0] or 'qwen3'}"
                       f"@http://127.0.0.1:8000/v1")
    api_key = options.get("api_key") or os.environ.get(KEY_VAR) or "no-key"
    read, connect = client_timeout(options)
    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                           timeout=openai.Timeout(read, connect=connect))
    name = f"openai-compat:{rest}"
    return ChatCompletionsModel(
        name=name, model=model, client=client,
        hints=ProviderHints(f"the server at {base_url}", model, KEY_VAR, base_url),
        price=price_for(model, options.get("prices"), spec=name),
        context_window=context_window_for(model, options, 128_000, spec=name),
        policy=RetryPolicy.from_options(options),
        token_param="max_tokens",   # the one parameter every compatible server knows
        reasoning_effort=options.get("reasoning_effort"),
        text_tool_calls=True, images=bool(options.get("images")), extra_body=options.get("extra_body"))
