"""local_model/kernels.py: every CPU path of `linear` against F.linear, and the model that uses
them against transformers at a context long enough for the blocked attention scores."""

from __future__ import annotations

import platform

import pytest
import torch
import torch.nn.functional as F

from local_model import kernels, load_model
from local_model.attention import SCORE_BLOCK
from local_model.kernels import KernelPolicy
from tests.local_model.lm_testing import PRESETS, assert_cached_decode_matches, hf_reference

BIG = (1024, 512)  # 2 MiB in float32: above kernels.MIN_WEIGHT_BYTES
ODD = (1027, 256)  # rows not divisible by any of the GEMV blocks


def _weight(shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) / shape[1] ** 0.5


@pytest.mark.parametrize("gemv", kernels.GEMV_KERNELS)
@pytest.mark.parametrize("shape", [BIG, ODD])
@pytest.mark.parametrize("lead", [(1,), (2,), (3,), (1, 1), (2, 3), (4,), (8,), (40,), (0,)])
def test_linear_matches_f_linear(shape, lead, gemv):
    weight = _weight(shape)
    x = torch.randn(*lead, shape[1], generator=torch.Generator().manual_seed(1))
    assert kernels.routed_here(x, weight)
    out = kernels.linear(x, weight, KernelPolicy(gemv=gemv))
    assert out.shape == (*lead, shape[0])
    torch.testing.assert_close(out, F.linear(x, weight), atol=1e-4, rtol=1e-5)
    varying = kernels.linear(x, weight, KernelPolicy(gemv=gemv), rows_vary=True)
    torch.testing.assert_close(varying, F.linear(x, weight), atol=1e-4, rtol=1e-5)


def test_the_one_row_kernel_is_measured_once_per_thread_count():
    policy = KernelPolicy()
    assert policy.gemv is None  # nothing measured before a model needs it
    kernels.linear(torch.randn(1, BIG[1]), _weight(BIG), policy)
    assert policy.gemv in kernels.GEMV_KERNELS
    assert policy.gemv == kernels.measured_gemv(torch.get_num_threads(), policy.onednn)  # cached: the same answer
    x, w = torch.randn(2, BIG[1]), _weight(BIG)  # a policy that names its kernel gets it
    assert torch.equal(kernels.linear(x, w, KernelPolicy(gemv="blocked")), kernels._blocked_gemv(x, w))
    assert torch.equal(kernels.linear(x, w, KernelPolicy(gemv="mkl")), F.linear(x, w))


def test_linear_takes_a_non_contiguous_input():
    weight = _weight(BIG)
    wide = torch.randn(3, 2 * BIG[1], generator=torch.Generator().manual_seed(2))
    x = wide[:, ::2]  # every other column: a strided view
    torch.testing.assert_close(kernels.linear(x, weight, KernelPolicy()), F.linear(x, weight), atol=1e-4, rtol=1e-5)


def test_linear_leaves_other_cases_to_f_linear():
    small = _weight((64, 32))
    assert not kernels.routed_here(torch.zeros(1, 32), small)  # in cache: call overhead decides
    assert not kernels.routed_here(torch.zeros(1, BIG[1], dtype=torch.bfloat16), _weight(BIG).bfloat16())
    assert not kernels.routed_here(torch.zeros(1, BIG[1]), _weight(BIG).t().contiguous().t())  # not contiguous
    x64, w64 = torch.randn(2, BIG[1], dtype=torch.float64), _weight(BIG).double()
    torch.testing.assert_close(kernels.linear(x64, w64, KernelPolicy()), F.linear(x64, w64))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="oneDNN ships in torch's x86-64 CPU builds")
def test_onednn_is_the_path_for_several_rows():
    """The oneDNN path is what runs (not silently the F.linear fallback) where torch has it."""
    policy = KernelPolicy()
    assert policy.onednn  # torch has it
    kernels.linear(torch.randn(8, BIG[1]), _weight(BIG), policy)
    assert policy.onednn  # and it did not refuse


def test_each_model_holds_its_own_kernel_policy(checkpoints):
    """Every layer of a model computes under the model's policy, and no two models share one:
    a kernel turned off in one model stays on in the other."""
    a, b = (load_model(checkpoints("v2_lite")) for _ in range(2))
    for model in (a, b):
        users = [m for m in model.modules() if hasattr(m, "kernels")]
        assert len(users) > 3 * model.config.num_hidden_layers and all(m.kernels is model.kernels for m in users)
    a.kernels.onednn = False
    a.kernels.grouped_mm_refused.add(("cpu", torch.float32))
    assert b.kernels.onednn == KernelPolicy().onednn and not b.kernels.grouped_mm_refused


def test_wide_model_matches_transformers_past_a_score_block(checkpoints):
    """Prompt longer than SCORE_BLOCK, then batched decode: blocked scores, GEMV/oneDNN
    products and the per-expert loop, against transformers in float64."""
    path = checkpoints("v2_lite_wide")
    ours = load_model(path, dtype=torch.float32)
    assert kernels.routed_here(torch.zeros(1, 512), ours.layers[1].mlp.experts.gate_up_proj[0])
    ref = hf_reference(path)
    vocab = PRESETS["v2_lite_wide"]["vocab_size"]
    g = torch.Generator().manual_seed(11)
    prompt = torch.randint(0, vocab, (2, SCORE_BLOCK + 90), generator=g)
    steps = torch.randint(0, vocab, (2, 3), generator=g)
    cache = ours.new_cache(2, prompt.shape[1] + steps.shape[1])
    mine = ours(prompt, cache, last_only=True)
    theirs = ref(input_ids=prompt, use_cache=True)
    torch.testing.assert_close(mine[:, 0].double(), theirs.logits[:, -1], atol=2e-4, rtol=0)
    assert_cached_decode_matches(ours, cache, ref, theirs.cache, steps, atol=2e-4)
    # one row alone (a single-row step: the blocked matrix-vector products)
    one = ours.new_cache(1, prompt.shape[1] + 1)
    ours(prompt[:1], one)
    alone = ours(steps[:1, :1], one)
    ref_one = ref(input_ids=torch.cat((prompt[:1], steps[:1, :1]), dim=1)).logits[:, -1:]
    torch.testing.assert_close(alone.double(), ref_one, atol=2e-4, rtol=0)
