"""local_model: a from-scratch inference engine for MoE checkpoints: the DeepSeek-V2/V3 family
(Multi-head Latent Attention) and Qwen3-MoE (grouped-query attention).

    from local_model import load_model, load_tokenizer, generate, SamplingParams
    model = load_model("/path/to/checkpoint", device="cuda", dtype=torch.bfloat16)
    logits = model.forward(input_ids)          # [batch, seq, vocab]
    small = load_model("/path/to/checkpoint", quantize="int4")   # weight-only int8 / int4 (quant.py)

It imports nothing from the rest of amanuensis.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .allocator import release_freed_memory, retain_freed_memory
from .cache import KVCache, LatentCache
from .config import ConfigError, ModelConfig
from .generate import generate
from .kernels import KernelPolicy
from .model import DeepseekModel
from .quant import MODES as QUANTIZE_MODES, QuantizeError, check_mode
from .sampling import SamplingParams
from .tokenizer import ChatTokenizer, load_tokenizer
from .weights import CheckpointError, load_weights

__all__ = [
    "ChatTokenizer", "CheckpointError", "ConfigError", "DeepseekModel", "KVCache", "KernelPolicy", "LatentCache",
    "ModelConfig", "QUANTIZE_MODES", "QuantizeError", "SamplingParams", "default_dtype", "generate",
    "load_model", "load_tokenizer",
]


def default_dtype(device: torch.device | str) -> torch.dtype:
    """float32 on CPU (fast kernels everywhere), bfloat16 on accelerators."""
    return torch.float32 if torch.device(device).type == "cpu" else torch.bfloat16


def load_model(path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype | str | None = None, *,
               kernels: KernelPolicy | None = None, quantize: str | None = None) -> DeepseekModel:
    """Load the checkpoint in folder `path` (config.json + safetensors) onto `device`.

    dtype: a torch dtype or its name ("bfloat16", "float32", ...); default per `default_dtype`.
        With `quantize` it is the dtype of the activations and of the weights left unquantized.
    kernels: the model's kernel policy (default: a fresh one with every kernel on).
    quantize: None, "int8" (per output channel) or "int4" (groups of 128): weight-only
        quantization of the linears and experts as they load (local_model/quant.py).
    Raises ConfigError / CheckpointError / QuantizeError naming what does not fit.
    """
    if isinstance(dtype, str):
        name, dtype = dtype, getattr(torch, dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {name!r} (try 'bfloat16' or 'float32')")
    dtype = dtype or default_dtype(device)
    config = ModelConfig.from_file(path)
    quantize = check_mode(quantize, device, dtype)
    retain_freed_memory()
    with torch.device("meta"):
        model = DeepseekModel(config, kernels)
    load_weights(model, path, device, dtype, quantize)
    if quantize:
        release_freed_memory()  # the float temporaries of quantizing are not needed again
    return model.eval()
