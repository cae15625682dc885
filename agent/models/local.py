"""`local:PATH` — a DeepSeek-V2/V3-family or Qwen3(-MoE) checkpoint run by `local_model`, in this process.

The engine and its OpenAI-compatible server start inside this process, on a loopback
port of their own, and the turn speaks Chat Completions to it through the same code as
`openai-compat:` (streaming, tool calls, usage, retries). One engine serves every
request of the session, batching them when several run at once (e.g. --attempts).

create(rest, options) -> ChatCompletionsModel. Settings, from options or the environment:
    device     AMA_LOCAL_DEVICE     default: cuda when available, else cpu
    dtype      AMA_LOCAL_DTYPE      default: float32 on cpu, bfloat16 elsewhere
    max_len    AMA_LOCAL_MAX_LEN    tokens per sequence, prompt + completion (default 8192)
    max_batch  AMA_LOCAL_MAX_BATCH  sequences decoded together (default 4)
    quantize   AMA_LOCAL_QUANTIZE   weight-only quantization at load: int8 or int4 (default: none)
The context window the agent plans with is max_len.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.core.errors import BadInput
from agent.models import openai_compat
from agent.models.chat_completions import ChatCompletionsModel

QUANTIZE_MODES = ("int8", "int4")  # local_model.quant.MODES (checked here before anything loads)


def _setting(options: dict, key: str, default: Any = None) -> Any:
    return options.get(key) or os.environ.get(f"AMA_LOCAL_{key.upper()}") or default


def create(rest: str, options: dict) -> ChatCompletionsModel:
    """Load the checkpoint in folder `rest` and serve it on loopback. Raises BadInput for a bad path."""
    path = Path(rest).expanduser()
    if not (path / "config.json").is_file():
        raise BadInput(f"local:{rest}: no config.json in {path}; point local: at a checkpoint folder "
                       f"(config.json, *.safetensors, tokenizer.json), e.g. a download of "
                       f"deepseek-ai/DeepSeek-V2-Lite-Chat")
    if not (path / "tokenizer.json").is_file():
        raise BadInput(f"local:{rest}: no tokenizer.json in {path}; the local engine needs the fast tokenizer file")
    try:
        import torch

        from local_model.server import load_app, start_in_thread
    except ImportError as e:
        raise BadInput(f"local: needs torch, safetensors, tokenizers, fastapi and uvicorn ({e}); "
                       f"pip install 'amanuensis[local]'") from e
    device = _setting(options, "device", "cuda" if torch.cuda.is_available() else "cpu")
    max_len = int(_setting(options, "max_len", 8192))
    quantize = _setting(options, "quantize") or None
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise BadInput(f"local:{rest}: quantize {quantize!r} (AMA_LOCAL_QUANTIZE) is not a mode; "
                       f"use one of {', '.join(QUANTIZE_MODES)}, or leave it unset for the checkpoint's weights")
    try:
        app, _engine = load_app(path, device=device, dtype=_setting(options, "dtype"), max_len=max_len,
                                max_batch=int(_setting(options, "max_batch", 4)), served_name=path.name,
                                quantize=quantize)
    except (ValueError, OSError) as e:  # Config/Checkpoint/QuantizeError, an unknown dtype, unreadable files
        raise BadInput(f"local:{rest}: {e}") from e
    _server, url = start_in_thread(app)
    model = openai_compat.create(f"{path.name}@{url}", {**options, "context_window": max_len, "api_key": "local",
                                                                "images": False})  # the engine reads text only
    model.name = f"local:{rest}"
    model.local_engine = _engine  # the engine serving it (its model, its settings)
    return model


def serve(argv: list[str]) -> int:
    """`ama serve ARGS`: the engine's OpenAI-compatible server (`python -m local_model
    serve ARGS`). Returns its exit code."""
    from local_model.__main__ import main
    return main(["serve", *argv])
