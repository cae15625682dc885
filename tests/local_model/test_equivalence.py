"""The fast paths held to the naive ones: absorbed vs naive MLA, fast vs naive GQA, grouped vs
looped MoE, cached vs uncached, a batch of ragged prompts vs one prompt at a time."""

from __future__ import annotations

import pytest
import torch

from tests.local_model.lm_testing import PRESETS
from local_model import KVCache, KernelPolicy, load_model
from local_model.layers import apply_rope

ATOL = 2e-5


def _ids(name, shape, seed):
    return torch.randint(0, PRESETS[name]["vocab_size"], shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ["v2_lite", "v3"])
def test_absorbed_mla_equals_naive(checkpoints, name):
    model = load_model(checkpoints(name))
    ids = _ids(name, (2, 10), 0)
    torch.testing.assert_close(model(ids, mla="absorbed"), model(ids, mla="naive"), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["v2_grouped", "moonlight", "qwen3_moe_yarn"])
def test_grouped_moe_equals_per_token_loop(checkpoints, name):
    model = load_model(checkpoints(name))
    ids = _ids(name, (2, 6), 1)
    torch.testing.assert_close(model(ids, moe="grouped"), model(ids, moe="looped"), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name, mla", [("v3", "absorbed"), ("v3", "naive"), ("qwen3_moe", "auto"),
                                       ("qwen3_moe", "naive")])
def test_cached_decode_equals_full_forward(checkpoints, name, mla):
    model = load_model(checkpoints(name))
    ids = _ids(name, (1, 12), 2)
    full = model(ids, mla=mla)
    cache = model.new_cache(1, 16)
    pieces = [model(ids[:, :5], cache, mla=mla)]  # prefill 5, then one token at a time
    pieces += [model(ids[:, t : t + 1], cache, mla=mla) for t in range(5, 9)]
    pieces.append(model(ids[:, 9:], cache, mla=mla))  # and a multi-token chunk on top of a cache
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=ATOL, rtol=0)
    assert cache.lengths == [12]


@pytest.mark.parametrize("name", ["v2_lite", "qwen3_moe_yarn"])
def test_ragged_batch_equals_one_at_a_time(checkpoints, name):
    model = load_model(checkpoints(name))
    lens = [5, 9, 3]
    prompts = [_ids(name, (1, n), 10 + i) for i, n in enumerate(lens)]
    steps = 4
    follow = _ids(name, (len(lens), steps), 99)

    # one at a time
    singles = []
    for b, prompt in enumerate(prompts):
        cache = model.new_cache(1, 16)
        out = [model(prompt, cache, last_only=True)]
        out += [model(follow[b : b + 1, s : s + 1], cache) for s in range(steps)]
        singles.append(torch.cat(out, dim=1))
        # uncached full forward agrees with the last-token logits too
        torch.testing.assert_close(model(prompt)[:, -1:], out[0], atol=ATOL, rtol=0)

    # batched: right-padded prompts, each row at its own position
    batch = torch.zeros(len(lens), max(lens), dtype=torch.long)
    for b, prompt in enumerate(prompts):
        batch[b, : lens[b]] = prompt[0]
    cache = model.new_cache(len(lens), 16)
    out = [model(batch, cache, seq_lens=lens, last_only=True)]
    out += [model(follow[:, s : s + 1], cache) for s in range(steps)]
    batched = torch.cat(out, dim=1)
    assert cache.lengths == [n + steps for n in lens]
    for b in range(len(lens)):
        torch.testing.assert_close(batched[b : b + 1], singles[b], atol=ATOL, rtol=0, msg=f"row {b}")

    # uncached ragged batch: each row's valid positions match that prompt alone
    full = model(batch, seq_lens=lens)
    for b, prompt in enumerate(prompts):
        torch.testing.assert_close(full[b : b + 1, : lens[b]], model(prompt), atol=ATOL, rtol=0)


def test_cache_holds_only_latent_and_shared_key(checkpoints):
    model = load_model(checkpoints("v3"))
    cfg = model.config
    cache = model.new_cache(2, 8)
    assert cache.kv.shape == (cfg.num_hidden_layers, 2, 8, cfg.kv_lora_rank + cfg.qk_rope_head_dim)
    assert cache.bytes_per_token() == (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * cfg.num_hidden_layers * 4
    with pytest.raises(ValueError, match="overflow"):
        model(_ids("v3", (2, 9), 0), cache)


@pytest.mark.parametrize("name", ["moonlight", "qwen3_moe"])
def test_bfloat16_runs_and_stays_close(checkpoints, name):
    path = checkpoints(name)
    ids = _ids(name, (1, 8), 5)
    ref = load_model(path, dtype=torch.float32)(ids)
    low = load_model(path, dtype=torch.bfloat16)(ids)
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).abs().max() < 0.15 * ref.abs().max()


@pytest.mark.parametrize("name, impl", [("v2_lite", "expanded"), ("qwen3_moe", "blocked")])
def test_blocked_expanded_prefill_equals_naive(checkpoints, name, impl):
    """The CPU prefill scores queries in blocks, masking only each block's last square of
    keys; with tiny blocks a short prompt crosses many block edges, also on top of a cache."""
    model = load_model(checkpoints(name), kernels=KernelPolicy(prefill_query_block=3))
    ids = _ids(name, (1, 11), 5)
    full = model(ids, mla="naive")
    torch.testing.assert_close(model(ids, mla=impl), full, atol=ATOL, rtol=0)
    cache = model.new_cache(1, 16)
    pieces = [model(ids[:, :4], cache, mla=impl), model(ids[:, 4:], cache, mla=impl)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["qwen3_moe", "qwen3_moe_yarn"])
def test_fast_gqa_equals_naive_with_and_without_masks(checkpoints, name):
    """The GQA fast path (kv heads shared by their query heads, never repeated) against the
    reference that repeats them; plain causal, right-padded rows, and a ragged chunk on a ragged cache."""
    model = load_model(checkpoints(name), dtype=torch.float64)
    ids = _ids(name, (3, 11), 3)
    reference = model(ids, mla="naive")
    ragged = model(ids, seq_lens=[11, 6, 8], mla="naive")
    for impl in ("blocked", "fused"):  # fused is the accelerators' kernel; torch runs it on CPU too
        torch.testing.assert_close(model(ids, mla=impl), reference, atol=ATOL, rtol=0, msg=impl)
        torch.testing.assert_close(model(ids, seq_lens=[11, 6, 8], mla=impl), ragged, atol=ATOL, rtol=0, msg=impl)
    outs = {}
    for impl in ("blocked", "fused", "naive"):
        cache = model.new_cache(3, 32)
        model(ids[:, :4], cache, seq_lens=[4, 2, 3], mla=impl)
        outs[impl] = [model(ids[:, 4:], cache, seq_lens=[7, 5, 6], mla=impl)]
        outs[impl] += [model(ids[:, 11 - n : 12 - n], cache, mla=impl) for n in (1, 2)]  # decode steps
    for impl in ("blocked", "fused"):
        for got, want in zip(outs[impl], outs["naive"]):
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0, msg=impl)
    with pytest.raises(ValueError, match="GQA implementation"):
        model(ids, mla="flash")


def test_gqa_cache_holds_exactly_keys_and_values(checkpoints):
    """2 x kv_heads x head_dim values per token and layer: layer 0's values are v_proj of the
    normalised embeddings, its keys k_norm(k_proj(...)) rotated, each at the token's slot."""
    model = load_model(checkpoints("qwen3_moe"))
    cfg = model.config
    cache = model.new_cache(2, 8)
    assert isinstance(cache, KVCache)
    assert cache.kv.shape == (cfg.num_hidden_layers, 2, cfg.num_key_value_heads, 2, 8, cfg.head_dim)
    assert cache.bytes_per_token() == 2 * cfg.num_key_value_heads * cfg.head_dim * cfg.num_hidden_layers * 4
    ids = _ids("qwen3_moe", (2, 5), 0)
    model(ids, cache, seq_lens=[5, 3])
    assert cache.lengths == [5, 3]
    attn = model.layers[0].self_attn
    h = model.layers[0].input_layernorm(model.embed_tokens(ids))
    values = attn.v_proj(h).view(2, 5, cfg.num_key_value_heads, cfg.head_dim)
    keys = attn.k_norm(attn.k_proj(h).view(2, 5, cfg.num_key_value_heads, cfg.head_dim))
    cos, sin = model.rotary(torch.arange(5)[None].expand(2, -1))
    keys = apply_rope(keys, cos, sin, interleave=False)
    for row, n in enumerate([5, 3]):
        torch.testing.assert_close(cache.kv[0, row, :, 1, :n], values[row, :n].transpose(0, 1))
        torch.testing.assert_close(cache.kv[0, row, :, 0, :n], keys[row, :n].transpose(0, 1))
        assert not cache.kv[:, row, :, :, n:].any()  # nothing written past a row's length
    with pytest.raises(ValueError, match="overflow"):
        model(_ids("qwen3_moe", (2, 4), 1), cache)


def test_qwen3_moe_layers_are_those_of_transformers(checkpoints):
    """Dense and sparse layers where transformers' Qwen3MoeDecoderLayer puts them (mlp_only_layers,
    decoder_sparse_step), and no shared experts."""
    from tests.local_model.lm_testing import hf_reference

    for name in ("qwen3_moe", "qwen3_moe_yarn"):
        ours, ref = load_model(checkpoints(name)), hf_reference(checkpoints(name))
        kinds = [[type(layer.mlp).__name__.endswith(("MoE", "SparseMoeBlock")) for layer in m.layers]
                 for m in (ours, ref.model)]
        assert kinds[0] == kinds[1] and any(kinds[0]) and not all(kinds[0]), name
        assert not any(hasattr(layer.mlp, "shared_experts") for layer in ours.layers)
