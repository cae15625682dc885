"""Reading HF-format checkpoints into a `DeepseekModel`.

* One `model.safetensors`, or shards listed by `model.safetensors.index.json` (or, lacking
  an index, every `*.safetensors` in the folder).
* HF parameter names (`model.layers.3.self_attn.kv_b_proj.weight`, ...).
* Experts stored per expert (`mlp.experts.7.gate_proj.weight`, the original layout and what
  transformers writes) or fused (`mlp.experts.gate_up_proj` [E, 2I, D], `down_proj` [E, D, I],
  transformers 5's in-memory layout): both end up stacked.
* DeepSeek-V3's multi-token-prediction layer (`model.layers.{num_hidden_layers}.*`) is skipped.
* FP8 e4m3 weights with `weight_scale_inv` blocks are dequantized on load.

Files are memory-mapped (safetensors does this for CPU tensors) and read one tensor at a
time straight into the parameter it becomes; a tensor already in the target dtype on CPU
is used in place, without a copy. Nothing holds a second copy of the model.

With `quantize` (local_model/quant.py) the weights it covers are quantized as they are read,
expert by expert, and nothing keeps the mapped files: every other tensor is copied out of
them. Whenever no tensor is used in place (quantizing, or converting the weights to another
dtype: the routers, which stay float32, are then copied too), the files are closed after
every RELEASE_BYTES read, so that their pages leave the resident set: the peak during
loading stays near the size of what is kept.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from .config import ModelConfig
from .quant import QuantPlan

INDEX_FILE = "model.safetensors.index.json"
_EXPERT = re.compile(r"^layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")
_LAYER = re.compile(r"^layers\.(\d+)\.")
_FP32_PARAMS = ("mlp.gate.weight", "mlp.gate.e_score_correction_bias")  # the router stays float32
RELEASE_BYTES = 64 << 20  # bytes read from the mapped files before they are closed and reopened (see above)


class CheckpointError(ValueError):
    """The checkpoint does not match its config; the message names the tensor."""


def checkpoint_files(path: str | Path) -> dict[str, Path]:
    """Map every tensor name of the checkpoint in folder `path` to the file holding it."""
    path = Path(path)
    index = path / INDEX_FILE
    if index.exists():
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        return {name: path / file for name, file in weight_map.items()}
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"no *.safetensors files in {path}")
    names: dict[str, Path] = {}
    for file in files:
        with safe_open(file, framework="pt") as f:
            for name in f.keys():
                names[name] = file
    return names


def dequantize_fp8(weight: torch.Tensor, scale_inv: torch.Tensor, block: tuple[int, int] = (128, 128),
                   dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """FP8 block dequantization: W[i, j] = Q[i, j] * scale_inv[i // bm, j // bn].

    weight: [M, N] float8_e4m3fn; scale_inv: [ceil(M/bm), ceil(N/bn)] float32.
    Returns [M, N] in `dtype`. Edge blocks may be partial.
    """
    bm, bn = block
    m, n = weight.shape
    rows, cols = -(-m // bm), -(-n // bn)
    if tuple(scale_inv.shape) != (rows, cols):
        raise CheckpointError(f"weight_scale_inv of shape {tuple(scale_inv.shape)} does not fit a {m}x{n} "
                              f"weight in {bm}x{bn} blocks (expected {(rows, cols)})")
    w = weight.to(torch.float32)
    if (m, n) != (rows * bm, cols * bn):
        padded = w.new_zeros(rows * bm, cols * bn)
        padded[:m, :n] = w
        w = padded
    w = w.view(rows, bm, cols, bn).mul_(scale_inv.to(w.device, torch.float32)[:, None, :, None])
    return w.view(rows * bm, cols * bn)[:m, :n].to(dtype)


def load_weights(model: nn.Module, path: str | Path, device: torch.device | str, dtype: torch.dtype,
                 quantize: str | None = None) -> None:
    """Fill `model` (built on the meta device) from the checkpoint in folder `path`.

    quantize: None, or a mode of local_model.quant (already checked for device and dtype).
    Raises CheckpointError for a tensor the model lacks, a parameter the checkpoint lacks,
    or a shape mismatch, naming it.
    """
    config: ModelConfig = model.config
    files = checkpoint_files(path)
    params = dict(model.named_parameters())
    filled: set[str] = set()
    experts_filled: dict[str, set[int]] = {}
    unexpected: list[str] = []
    device = torch.device(device)
    plan = QuantPlan(model, quantize, device) if quantize else None

    def target_dtype(name: str) -> torch.dtype:
        return torch.float32 if name.endswith(_FP32_PARAMS) else dtype

    def assign(name: str, tensor: torch.Tensor) -> None:
        expected = params[name].shape
        if tuple(tensor.shape) != tuple(expected):
            raise CheckpointError(f"{name}: checkpoint shape {tuple(tensor.shape)}, model expects {tuple(expected)}")
        filled.add(name)
        if plan is not None and plan.takes(name):
            plan.put(name, tensor)
            return
        module_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(module_name), attr, nn.Parameter(tensor, requires_grad=False))

    def put_expert(name: str, e: int, row0: int, tensor: torch.Tensor) -> None:
        """Rows [row0, ...) of expert e of the stacked parameter `name` (allocated, or planned, on first use)."""
        if name not in filled:
            experts_filled[name] = set()
            if plan is not None and plan.takes(name):
                filled.add(name)
            else:
                assign(name, torch.empty(params[name].shape, device=device, dtype=dtype))
        if plan is not None and plan.takes(name):
            plan.put_rows(name, e, row0, tensor)
        else:
            model.get_parameter(name)[e, row0 : row0 + tensor.shape[0]].copy_(tensor)

    with ExitStack() as stack:
        handles = {}
        unreleased = [0]  # bytes read since the files were last opened
        in_place = [False]  # a tensor of the model is a view of a mapped file: the files stay open

        def handle(file: Path):
            """The open file, opened anew after RELEASE_BYTES were read where nothing keeps the old mapping."""
            if not in_place[0] and unreleased[0] > RELEASE_BYTES:
                stack.close()  # nothing refers to the mappings any more: their pages leave the resident set
                handles.clear()
                unreleased[0] = 0
            if file not in handles:
                handles[file] = stack.enter_context(safe_open(file, framework="pt"))
            return handles[file]

        def read(name: str) -> torch.Tensor:
            tensor = handle(files[name]).get_tensor(name)
            unreleased[0] += tensor.nbytes
            return tensor

        def read_stack(hf_name: str, name: str) -> bool:
            """Quantizing: a fused expert stack [E, N, K] read and quantized one expert at a time, the file
            released between experts as between tensors (a slice is a copy, so nothing keeps the mapping).
            False if it must be read whole."""
            stack_slice = handle(files[hf_name]).get_slice(hf_name)
            shape = tuple(stack_slice.get_shape())
            if stack_slice.get_dtype().startswith("F8") or shape != tuple(params[name].shape):
                return False  # FP8 needs its scales; a wrong shape gets the usual error
            for e in range(shape[0]):
                if unreleased[0] > RELEASE_BYTES:
                    stack_slice = handle(files[hf_name]).get_slice(hf_name)
                part = stack_slice[e]
                unreleased[0] += part.nbytes
                plan.put_rows(name, e, 0, part)
            filled.add(name)
            return True

        for hf_name in sorted(files, key=lambda n: (str(files[n]), n)):
            name = hf_name[len("model."):] if hf_name.startswith("model.") else hf_name
            if name.endswith("weight_scale_inv") or name.endswith("rotary_emb.inv_freq"):
                continue
            layer = _LAYER.match(name)
            if layer and int(layer.group(1)) >= config.num_hidden_layers:
                continue  # DeepSeek-V3 multi-token-prediction module
            expert = _EXPERT.match(name)
            if name not in params and not expert:
                unexpected.append(hf_name)
                continue
            if plan is not None and name in plan.experts and read_stack(hf_name, name):
                continue
            tensor = read(hf_name)
            if tensor.dtype == torch.float8_e4m3fn:
                scale_name = hf_name + "_scale_inv"
                if scale_name not in files:
                    raise CheckpointError(f"{hf_name} is float8 but {scale_name} is missing")
                tensor = dequantize_fp8(tensor.to(device), read(scale_name), config.fp8_block_size or (128, 128),
                                        target_dtype(name))
            if expert:
                i, e, kind = int(expert.group(1)), int(expert.group(2)), expert.group(3)
                target = f"layers.{i}.mlp.experts." + ("down_proj" if kind == "down_proj" else "gate_up_proj")
                if target not in params or e >= params[target].shape[0]:
                    unexpected.append(hf_name)
                    continue
                rows, cols = params[target].shape[1:]
                row0 = inter = config.moe_intermediate_size
                if kind != "up_proj":
                    row0 = 0
                if kind != "down_proj":
                    rows = inter
                if tuple(tensor.shape) != (rows, cols):
                    raise CheckpointError(f"{hf_name}: checkpoint shape {tuple(tensor.shape)}, "
                                          f"model expects {(rows, cols)}")
                put_expert(target, e, row0, tensor)
                experts_filled[target].add(e * 3 + ("gate_proj", "up_proj", "down_proj").index(kind))
                continue
            if plan is not None and plan.takes(name):
                assign(name, tensor)  # quantized from the tensor as read, a block of rows at a time
                continue
            # In place when dtype and device already match (CPU: the tensor is a view of the mmap),
            # except when quantizing: then no tensor may keep a mapped file alive.
            value = tensor.to(device=device, dtype=target_dtype(name))
            if value.data_ptr() == tensor.data_ptr():
                if plan is not None or target_dtype(name) != dtype:  # quantizing, or a float32 router in a
                    value = value.clone()  # model of another dtype: copied, so that it keeps no file mapped
                else:
                    in_place[0] = True
            assign(name, value)

    if unexpected:
        raise CheckpointError(f"checkpoint tensors the model does not have: {unexpected[:10]}"
                              + (f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else ""))
    if config.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
        filled.add("lm_head.weight")
    if plan is not None:
        plan.install()
    for name, got in experts_filled.items():
        per_expert = 1 if name.endswith("down_proj") else 2
        if len(got) != per_expert * params[name].shape[0]:
            raise CheckpointError(f"{name}: the checkpoint holds only some of the experts' weights")
    missing = sorted(set(params) - filled)
    if missing:
        raise CheckpointError(f"parameters missing from the checkpoint: {missing[:10]}")
    model.to(device)  # buffers (rotary frequencies); parameters are already there

