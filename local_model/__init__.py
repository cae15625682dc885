"""local_model: a from-scratch inference engine for MoE checkpoints: the DeepSeek-V2/V3 family
(Multi-head Latent Attention) and Qwen3-MoE (grouped-query attention).

    from local_model import load_model, load_tokenizer, generate, SamplingParams
    model = load_model("/path/to/checkpoint", device="cuda", dtype=torch.bfloat16)
    logits = model.forward(input_ids)          # [batch, seq, vocab]

It imports nothing from the rest of amanuensis.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .allocator import retain_freed_memory
from .cache import KVCache, LatentCache
from .config import ConfigError, ModelConfig
from .generate import generate
from .kernels import KernelPolicy
from .model import DeepseekModel
from .sampling import SamplingParams
from .tokenizer import ChatTokenizer, load_tokenizer
from .weights import CheckpointError, load_weights

__all__ = [
    "ChatTokenizer", "CheckpointError", "ConfigError", "DeepseekModel", "KVCache", "KernelPolicy", "LatentCache",
    "ModelConfig",
    "SamplingParams", "default_dtype", "generate", "load_model", "load_tokenizer",
]


def default_dtype(device: torch.device | str) -> torch.dtype:
    """float32 on CPU (fast kernels everywhere), bfloat16 on accelerators."""
    return torch.float32 if torch.device(device).type == "cpu" else torch.bfloat16


def load_model(path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype | str | None = None, *,
               kernels: KernelPolicy | None = None) -> DeepseekModel:
    """Load the checkpoint in folder `path` (config.json + safetensors) onto `device`.

    dtype: a torch dtype or its name ("bfloat16", "float32", ...); default per `default_dtype`.
    kernels: the model's kernel policy (default: a fresh one with every kernel on).
    Raises ConfigError / CheckpointError naming what does not fit.
    """
    if isinstance(dtype, str):
        name, dtype = dtype, getattr(torch, dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {name!r} (try 'bfloat16' or 'float32')")
    dtype = dtype or default_dtype(device)
    config = ModelConfig.from_file(path)
    retain_freed_memory()
    with torch.device("meta"):
        model = DeepseekModel(config, kernels)
    load_weights(model, path, device, dtype)
    return model.eval()
