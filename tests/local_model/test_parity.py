"""Parity with transformers' DeepseekV2/V3ForCausalLM, Qwen3MoeForCausalLM and Qwen3ForCausalLM (eager) on tiny
random checkpoints.

For each configuration: the experts each token is routed to are compared first (a routing
difference explains every later mismatch), then the logits of a whole prompt, then the
logits of cached decoding step by step. Ours runs in float32 against the reference in float64
(and, for Qwen3-MoE, in float32 as well); tolerance 1e-4.
"""

from __future__ import annotations

import pytest
import torch

from tests.local_model.lm_testing import PRESETS, QWEN_PRESETS, assert_cached_decode_matches, hf_reference
from local_model import load_model

ATOL = 1e-4


def _capture_routing(routers):
    """Forward hooks that record the expert indices (and weights) each router chooses."""
    seen: list[list] = [[] for _ in routers]
    hooks = []
    for i, router in enumerate(routers):
        def hook(module, args, output, i=i):
            weights, indices = output[-2], output[-1]  # ours: (weights, idx); HF: (logits, weights, idx)
            seen[i].append((weights.detach().double(), indices.detach()))
        hooks.append(router.register_forward_hook(hook))
    return seen, hooks


def _moe_routers(layers):
    return [layer.mlp.gate for layer in layers if hasattr(layer.mlp, "gate")]


def _cases():
    return [(name, torch.float64) for name in sorted(PRESETS)] + [(name, torch.float32) for name in QWEN_PRESETS]


@pytest.mark.parametrize("name, ref_dtype", _cases(), ids=lambda v: str(v).replace("torch.", ""))
def test_prompt_and_decode_match_transformers(checkpoints, name, ref_dtype):
    path = checkpoints(name)
    ours = load_model(path, dtype=torch.float32)
    ref = hf_reference(path, dtype=ref_dtype)
    vocab = PRESETS[name]["vocab_size"]
    g = torch.Generator().manual_seed(7)
    prompt = torch.randint(0, vocab, (1, 11), generator=g)
    continuation = torch.randint(0, vocab, (1, 5), generator=g)

    # 1. the experts chosen for every prompt token, layer by layer
    our_routing, our_hooks = _capture_routing(_moe_routers(ours.layers))
    ref_routing, ref_hooks = _capture_routing(_moe_routers(ref.model.layers))
    dense = PRESETS[name]["arch"] == "Qwen3"
    assert bool(our_routing) != dense, "a MoE preset must have MoE layers, a dense one none"
    ours_logits = ours(prompt)
    ref_out = ref(input_ids=prompt, use_cache=True)
    for hook in our_hooks + ref_hooks:
        hook.remove()
    for layer, (mine, theirs) in enumerate(zip(our_routing, ref_routing)):
        (w_ours, i_ours), (w_ref, i_ref) = mine[0], theirs[0]
        order_ours, order_ref = i_ours.sort(dim=-1), i_ref.sort(dim=-1)
        assert torch.equal(order_ours.values, order_ref.values), f"MoE layer {layer}: different experts chosen"
        torch.testing.assert_close(w_ours.gather(1, order_ours.indices), w_ref.gather(1, order_ref.indices),
                                   atol=1e-5, rtol=1e-5, msg=f"MoE layer {layer}: routing weights")

    # 2. full-prompt logits
    assert ours_logits.shape == (1, 11, vocab)
    torch.testing.assert_close(ours_logits.double(), ref_out.logits.double(), atol=ATOL, rtol=0)

    # 3. cached decode, one token at a time, against transformers' own cached decode
    cache = ours.new_cache(1, 32)
    ours(prompt, cache)
    assert_cached_decode_matches(ours, cache, ref, ref_out.cache, continuation, ATOL)


@pytest.mark.parametrize("name", ["v3", "qwen3_moe"])
def test_float64_engine_matches_transformers_tightly(checkpoints, name):
    """Our engine in float64 agrees with the float64 reference far below the fp32 tolerance."""
    path = checkpoints(name)
    ours = load_model(path, dtype=torch.float64)
    ref = hf_reference(path)
    ids = torch.randint(0, PRESETS[name]["vocab_size"], (2, 13), generator=torch.Generator().manual_seed(3))
    # both compute RoPE angles/routing in float32-ish precision, so "tight" is 1e-5, not 1e-12
    torch.testing.assert_close(ours(ids), ref(ids).logits, atol=1e-5, rtol=0)
