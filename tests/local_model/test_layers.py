"""RMSNorm, RoPE layouts and YaRN against transformers' own functions."""

from __future__ import annotations

import json

import pytest
import torch

from tests.local_model.lm_testing import hf_config
from local_model.config import ModelConfig
from local_model.layers import RMSNorm, Rotary, apply_rope, rope_inv_freq

transformers = pytest.importorskip("transformers")
from transformers.models.deepseek_v2 import modeling_deepseek_v2 as hf_v2  # noqa: E402
from transformers.models.deepseek_v3 import modeling_deepseek_v3 as hf_v3  # noqa: E402
from transformers.models.qwen3_moe import modeling_qwen3_moe as hf_qwen  # noqa: E402
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402


def _ours(preset: str, **overrides) -> tuple[ModelConfig, object]:
    config, _ = hf_config(preset, **overrides)
    return ModelConfig.from_dict(json.loads(config.to_json_string())), config


def test_rmsnorm_matches_transformers():
    x = torch.randn(3, 5, 64, dtype=torch.float64)
    ours, ref = RMSNorm(64, eps=1e-5), hf_v3.DeepseekV3RMSNorm(64, eps=1e-5).double()
    weight = 1 + 0.3 * torch.randn(64, dtype=torch.float64)
    ours.weight.data = weight.clone()
    ref.weight.data = weight.clone()
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("preset", ["v2_lite", "v3", "moonlight", "qwen3_moe", "qwen3_moe_yarn"])
def test_inverse_frequencies_and_scales_match_transformers(preset):
    ours, hf = _ours(preset)
    rope_type = hf.rope_parameters["rope_type"]
    init = ROPE_INIT_FUNCTIONS[rope_type] if rope_type != "default" else hf_v3.DeepseekV3RotaryEmbedding.compute_default_rope_parameters
    inv_freq, attention_factor = init(hf)
    torch.testing.assert_close(rope_inv_freq(ours).float(), inv_freq, rtol=1e-6, atol=0)
    assert ours.rope_cos_sin_scale == pytest.approx(attention_factor, rel=1e-12)
    kind = type(hf).__name__
    attn = (hf_v3.DeepseekV3Attention if "DeepseekV3" in kind else hf_qwen.Qwen3MoeAttention if "Qwen3Moe" in kind
            else hf_v2.DeepseekV2Attention)(hf, 0)
    assert ours.softmax_scale == pytest.approx(attn.scaling, rel=1e-12)


def test_yarn_is_really_on_in_the_yarn_presets():
    ours, _ = _ours("v3")
    plain = ModelConfig(qk_rope_head_dim=ours.qk_rope_head_dim, rope_theta=ours.rope_theta)
    assert not torch.allclose(rope_inv_freq(ours), rope_inv_freq(plain))
    assert ours.rope_cos_sin_scale != 1.0 and ours.softmax_scale != ours.qk_head_dim ** -0.5
    qwen, _ = _ours("qwen3_moe_yarn")  # Qwen3: YaRN scales cos/sin only, over the whole head
    plain = ModelConfig(model_type="qwen3_moe", head_dim=qwen.head_dim, rope_theta=qwen.rope_theta)
    assert rope_inv_freq(qwen).shape == (qwen.head_dim // 2,)
    assert not torch.allclose(rope_inv_freq(qwen), rope_inv_freq(plain))
    assert qwen.rope_cos_sin_scale == pytest.approx(0.1 * __import__("math").log(4.0) + 1)
    assert qwen.softmax_scale == qwen.head_dim ** -0.5


def test_interleaved_rope_matches_both_transformers_formulations():
    config, hf = _ours("v2_lite")
    rotary = Rotary(config)
    positions = torch.arange(7)[None].repeat(2, 1) + torch.tensor([[0], [40]])
    cos, sin = rotary(positions)  # [B, S, Dr/2]
    q = torch.randn(2, 7, 3, 8)  # [B, S, H, Dr]
    k = torch.randn(2, 7, 8)  # the shared key: [B, S, Dr]

    # DeepSeek-V2 in transformers: complex multiplication of adjacent pairs, heads-first layout
    freqs = torch.complex(cos, sin)
    q_ref, k_ref = hf_v2.apply_rotary_emb(q.transpose(1, 2), k[:, None], freqs)
    torch.testing.assert_close(apply_rope(q, cos, sin, interleave=True), q_ref.transpose(1, 2), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(apply_rope(k, cos, sin, interleave=True), k_ref[:, 0], atol=1e-6, rtol=1e-6)

    # DeepSeek-V3 in transformers: even/odd slices, output de-interleaved ([evens..., odds...])
    full_cos, full_sin = torch.cat((cos, cos), -1), torch.cat((sin, sin), -1)
    q3, k3 = hf_v3.apply_rotary_pos_emb_interleave(q.transpose(1, 2), k[:, None], full_cos, full_sin)
    deinterleave = torch.cat((torch.arange(0, 8, 2), torch.arange(1, 8, 2)))
    torch.testing.assert_close(apply_rope(q, cos, sin)[..., deinterleave], q3.transpose(1, 2), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(apply_rope(k, cos, sin)[..., deinterleave], k3[:, 0], atol=1e-6, rtol=1e-6)

    # rope_interleave=False is NeoX "rotate half"
    qn, kn = hf_v3.apply_rotary_pos_emb(q.transpose(1, 2), k[:, None], full_cos, full_sin)
    torch.testing.assert_close(apply_rope(q, cos, sin, interleave=False), qn.transpose(1, 2), atol=1e-6, rtol=1e-6)
    # ... and applying it to the interleaved layout is a different (wrong) function
    assert not torch.allclose(apply_rope(q, cos, sin, interleave=False), apply_rope(q, cos, sin, interleave=True))


def test_rope_preserves_dot_products_relative_to_position():
    config, _ = _ours("moonlight")
    rotary = Rotary(config)
    q, k = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)

    def score(pq, pk):
        cos, sin = rotary(torch.tensor([[pq, pk]]))
        rq = apply_rope(q[None, None].expand(1, 2, 8), cos, sin)[0, 0]
        rk = apply_rope(k[None, None].expand(1, 2, 8), cos, sin)[0, 1]
        return float(rq @ rk)

    assert score(5, 3) == pytest.approx(score(105, 103), rel=1e-5)
