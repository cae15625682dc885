"""`openai:MODEL` — GPT models through the `openai` SDK, Chat Completions streaming.

create(rest, options) -> ChatCompletionsModel. Options: api_key, base_url, max_retries,
retry_base_delay, retry_max_delay, timeout, prices, context_window, reasoning_effort,
images (whether the model takes images; default: yes, unless its name is one of
TEXT_ONLY's). The key and endpoint otherwise come from OPENAI_API_KEY and OPENAI_BASE_URL.

Chat Completions rather than Responses: one wire format, one parser and one set of
wire tests serve both `openai:` and every OpenAI-compatible server; it streams
parallel function calls, takes `reasoning_effort`, and reports cached tokens. What
it lacks (reasoning summaries, server-side state) the loop does not use. Tool results'
images, which its tool messages cannot hold, go in a user message after them.
"""
from __future__ import annotations

import os

import openai

from agent.core.errors import BadInput
from agent.models.chat_completions import ChatCompletionsModel
from agent.models.http_errors import ProviderHints
from agent.models.pricing import context_window_for, price_for
from agent.models.retry import RetryPolicy, client_timeout

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Models that take no images (the API refuses an image_url part): "gpt-4" and names
# starting with these, fine-tuned ones ("ft:gpt-3.5-turbo:...") included.
TEXT_ONLY = ("gpt-3.5", "gpt-4-0", "gpt-4-32k", "o1-mini", "o1-preview", "o3-mini")


def create(rest: str, options: dict) -> ChatCompletionsModel:
    """Build the model for `openai:REST`. Raises BadInput when no key is set."""
    api_key = options.get("api_key") or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise BadInput("no OpenAI API key: set OPENAI_API_KEY (or api_key in your "
                       "user config)")
    base_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    read, connect = client_timeout(options)
    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                           timeout=openai.Timeout(read, connect=connect))
    name = f"openai:{rest}"
    return ChatCompletionsModel(
        name=name, model=rest, client=client,
        hints=ProviderHints("OpenAI", rest, "OPENAI_API_KEY", base_url),
        price=price_for(rest, options.get("prices"), spec=name),
        context_window=context_window_for(rest, options, 128_000, spec=name),
        policy=RetryPolicy.from_options(options),
        # Reasoning models refuse `max_tokens`; every current model takes this one.
        token_param="max_completion_tokens",
        reasoning_effort=options.get("reasoning_effort"),
        images=takes_images(rest, options), extra_body=options.get("extra_body"))


def takes_images(model: str, options: dict) -> bool:
    """Whether tool results' images go to `model`: the `images` option, else by its name."""
    if options.get("images") is not None:
        return bool(options["images"])
    name = model.removeprefix("ft:").lower()
    return name != "gpt-4" and not name.startswith(TEXT_ONLY)
