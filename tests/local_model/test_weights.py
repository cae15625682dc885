"""Checkpoint loading: shards + index, per-expert and fused experts, MTP skip, FP8 blocks, mmap."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tests.local_model.lm_testing import PRESETS, make_checkpoint, read_config
from local_model import CheckpointError, load_model
from local_model.weights import dequantize_fp8

FP8_MAX = 448.0


def _ids(name, seed=0):
    return torch.randint(0, PRESETS[name]["vocab_size"], (2, 7), generator=torch.Generator().manual_seed(seed))


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    out = {}
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(file, framework="pt") as f:
            out.update({k: f.get_tensor(k).clone() for k in f.keys()})
    return out


def _write(path: Path, config: dict, shards: list[dict[str, torch.Tensor]]) -> Path:
    """Write a checkpoint folder: config.json + shards + an index when there is more than one shard."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    if len(shards) == 1:
        save_file(shards[0], path / "model.safetensors", metadata={"format": "pt"})
        return path
    weight_map = {}
    for i, shard in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, path / name, metadata={"format": "pt"})
        weight_map.update({k: name for k in shard})
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def quantize_fp8(w: torch.Tensor, block: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference block quantization, one block at a time: (float8 weight, float32 scale_inv)."""
    bm, bn = block
    rows, cols = -(-w.shape[0] // bm), -(-w.shape[1] // bn)
    q = torch.empty(w.shape, dtype=torch.float8_e4m3fn)
    scale = torch.empty(rows, cols)
    for i in range(rows):
        for j in range(cols):
            blk = w[i * bm : (i + 1) * bm, j * bn : (j + 1) * bn].float()
            scale[i, j] = blk.abs().max().clamp(min=1e-12) / FP8_MAX
            q[i * bm : (i + 1) * bm, j * bn : (j + 1) * bn] = (blk / scale[i, j]).to(torch.float8_e4m3fn)
    return q, scale


def dequantize_reference(q: torch.Tensor, scale: torch.Tensor, block: tuple[int, int]) -> torch.Tensor:
    bm, bn = block
    out = torch.empty(q.shape)
    for i in range(scale.shape[0]):
        for j in range(scale.shape[1]):
            out[i * bm : (i + 1) * bm, j * bn : (j + 1) * bn] = q[i * bm : (i + 1) * bm, j * bn : (j + 1) * bn].float() * scale[i, j]
    return out


def test_fp8_block_dequant_matches_reference_with_partial_blocks():
    w = torch.randn(300, 200, generator=torch.Generator().manual_seed(0)) * 3
    q, scale = quantize_fp8(w, (128, 128))
    assert scale.shape == (3, 2)
    ours = dequantize_fp8(q, scale, (128, 128), torch.float32)
    assert torch.equal(ours, dequantize_reference(q, scale, (128, 128)))
    assert (ours - w).abs().max() < 0.07 * w.abs().max()  # e4m3 keeps ~2 significant digits
    with pytest.raises(CheckpointError, match="weight_scale_inv"):
        dequantize_fp8(q, scale[:2], (128, 128))


def test_fp8_sharded_checkpoint_with_mtp_layer(tmp_path, checkpoints):
    """A DeepSeek-V3-style release: FP8 linear weights in blocks, shards + index, an MTP layer to skip."""
    src = checkpoints("v3")
    config, tensors = read_config(src), _tensors(src)
    block = (16, 16)  # small blocks so that the tiny matrices span several, some partial
    n_layers = config["num_hidden_layers"]
    # the multi-token-prediction module is stored as one extra layer; it must be skipped
    mtp = {f"model.layers.{n_layers}.{k}": v.clone() for k, v in tensors.items() if k.startswith("model.layers.1.")}
    mtp[f"model.layers.{n_layers}.eh_proj.weight"] = torch.randn(64, 128)
    mtp[f"model.layers.{n_layers}.enorm.weight"] = torch.ones(64)
    fp8, reference = {}, {}
    for name, tensor in {**tensors, **mtp}.items():
        if name.endswith("_proj.weight") and tensor.dim() == 2:
            q, scale = quantize_fp8(tensor, block)
            fp8[name], fp8[name + "_scale_inv"] = q, scale
            reference[name] = dequantize_reference(q, scale, block)
        else:
            fp8[name] = reference[name] = tensor
    reference = {k: v for k, v in reference.items() if not k.startswith(f"model.layers.{n_layers}.")}
    names = sorted(fp8)
    # split so that some weights and their scales land in different shards
    shards = [{k: fp8[k] for k in names[::2]}, {k: fp8[k] for k in names[1::2]}]
    quant_cfg = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": list(block)}
    fp8_dir = _write(tmp_path / "fp8", {**config, "quantization_config": quant_cfg}, shards)
    ref_dir = _write(tmp_path / "ref", config, [reference])
    assert any(fp8[k].dtype == torch.float8_e4m3fn for k in shards[0])

    ours, ref = load_model(fp8_dir), load_model(ref_dir)
    for (name, a), (_, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), name
    torch.testing.assert_close(ours(_ids("v3")), ref(_ids("v3")), atol=0, rtol=0)


def test_transformers_sharded_save_with_index(tmp_path, checkpoints):
    path, _ = make_checkpoint(tmp_path / "sharded", "moonlight", seed=1234, max_shard_size="40KB")
    assert (path / "model.safetensors.index.json").exists() and len(list(path.glob("*.safetensors"))) > 2
    whole = load_model(checkpoints("moonlight"))
    torch.testing.assert_close(load_model(path)(_ids("moonlight")), whole(_ids("moonlight")), atol=0, rtol=0)


def test_fused_expert_layout(tmp_path, checkpoints):
    """transformers 5's in-memory layout: experts.gate_up_proj [E, 2I, D] and experts.down_proj [E, D, I]."""
    src = checkpoints("v2_lite")
    tensors, fused = _tensors(src), {}
    config = read_config(src)
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp.experts."
        if prefix + "0.gate_proj.weight" not in tensors:
            continue
        n = config["n_routed_experts"]
        gate_up = [torch.cat((tensors.pop(f"{prefix}{e}.gate_proj.weight"), tensors.pop(f"{prefix}{e}.up_proj.weight")))
                   for e in range(n)]
        fused[prefix + "gate_up_proj"] = torch.stack(gate_up)
        fused[prefix + "down_proj"] = torch.stack([tensors.pop(f"{prefix}{e}.down_proj.weight") for e in range(n)])
    path = _write(tmp_path / "fused", config, [{**tensors, **fused}])
    torch.testing.assert_close(load_model(path)(_ids("v2_lite")), load_model(src)(_ids("v2_lite")), atol=0, rtol=0)


def test_mismatches_are_named(tmp_path, checkpoints):
    src = checkpoints("moonlight")
    config, tensors = read_config(src), _tensors(src)
    extra = _write(tmp_path / "extra", config, [{**tensors, "model.layers.0.self_attn.k_proj.weight": torch.zeros(2, 2)}])
    with pytest.raises(CheckpointError, match="k_proj"):
        load_model(extra)
    missing = _write(tmp_path / "missing", config, [{k: v for k, v in tensors.items() if "kv_b_proj" not in k}])
    with pytest.raises(CheckpointError, match="kv_b_proj"):
        load_model(missing)
    no_expert = _write(tmp_path / "no_expert", config,
                       [{k: v for k, v in tensors.items() if "experts.3.up_proj" not in k}])
    with pytest.raises(CheckpointError, match="experts"):
        load_model(no_expert)
    bad = dict(tensors)
    bad["model.norm.weight"] = torch.ones(3)
    with pytest.raises(CheckpointError, match="model.norm.weight|norm.weight"):
        load_model(_write(tmp_path / "bad", config, [bad]))


def test_tied_embeddings(tmp_path, checkpoints):
    src = checkpoints("moonlight")
    config, tensors = read_config(src), _tensors(src)
    del tensors["lm_head.weight"]
    model = load_model(_write(tmp_path / "tied", {**config, "tie_word_embeddings": True}, [tensors]))
    assert model.lm_head.weight is model.embed_tokens.weight


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_matching_dtype_is_memory_mapped_not_copied(checkpoints):
    path = checkpoints("moonlight")
    model = load_model(path, dtype=torch.float32)  # the file is float32 too
    ptr = model.embed_tokens.weight.data_ptr()
    file = str((path / "model.safetensors").resolve())
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        if lo <= ptr < hi:
            assert len(parts) == 6 and parts[5] == file, f"embedding lives in {line!r}, not in the mmap of {file}"
            break
    else:
        pytest.fail("embedding pointer is in no mapping")


def test_copy_of_checkpoint_loads_after_source_is_gone(tmp_path, checkpoints):
    """Loaded tensors stay valid after the files are deleted (the mapping keeps them alive)."""
    copy = tmp_path / "copy"
    shutil.copytree(checkpoints("moonlight"), copy)
    model = load_model(copy)
    expected = model(_ids("moonlight"))
    shutil.rmtree(copy)
    torch.testing.assert_close(model(_ids("moonlight")), expected, atol=0, rtol=0)
