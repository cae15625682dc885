"""A model with random weights straight from a config, without a checkpoint on disk.

For benchmarks at real dimensions (DeepSeek-V2-Lite is 16B parameters: writing and reading
a random checkpoint of that size would cost more time than the measurement). Weights are
drawn at O(1)-activation scales, so the numbers flowing through are realistic; the routers
stay float32 as in a loaded model.
"""

from __future__ import annotations

import torch

from .allocator import retain_freed_memory
from .config import ModelConfig
from .layers import rope_inv_freq
from .model import DeepseekModel


def random_model(config: ModelConfig, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 seed: int = 0) -> DeepseekModel:
    """A DeepseekModel on `device` in `dtype` (routers float32) with seeded random weights."""
    retain_freed_memory()
    with torch.device("meta"):
        model = DeepseekModel(config)
    generator = torch.Generator(device=device).manual_seed(seed)
    # parameter by parameter, straight in the target dtype: never the whole model in float32
    for module_name, module in model.named_modules():
        for name, param in list(module.named_parameters(recurse=False)):
            full = f"{module_name}.{name}" if module_name else name
            target = torch.float32 if full.endswith(("gate.weight", "e_score_correction_bias")) else dtype
            data = torch.empty(param.shape, device=device, dtype=torch.float32)
            if full.endswith("e_score_correction_bias"):
                data.normal_(0.0, 0.1, generator=generator)
            elif param.dim() == 1:  # norm weights
                data.normal_(1.0, 0.1, generator=generator)
            elif full.startswith("embed_tokens"):
                data.normal_(0.0, 1.0, generator=generator)
            else:
                data.normal_(0.0, param.shape[-1] ** -0.5, generator=generator)
            module._parameters[name] = torch.nn.Parameter(data.to(target), requires_grad=False)
            del data
    if config.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    model.rotary.inv_freq = rope_inv_freq(config).to(device)
    return model.eval()
