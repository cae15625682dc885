"""config.json parsing: both RoPE spellings, the real checkpoints' fields, loud failures."""

from __future__ import annotations

import pytest

from local_model.config import ConfigError, ModelConfig

# The math-relevant part of DeepSeek-V2-Lite's config.json (transformers-4 era spelling).
V2_LITE = {
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2", "aux_loss_alpha": 0.001,
    "bos_token_id": 100000, "eos_token_id": 100001, "first_k_dense_replace": 1, "hidden_act": "silu",
    "hidden_size": 2048, "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "moe_intermediate_size": 1408, "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": 64,
    "n_shared_experts": 2, "norm_topk_prob": False, "num_attention_heads": 16, "num_experts_per_tok": 6,
    "num_hidden_layers": 27, "num_key_value_heads": 16, "pretraining_tp": 1, "q_lora_rank": None,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "seq_aux": True,
    "tie_word_embeddings": False, "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16",
    "transformers_version": "4.39.3", "use_cache": True, "v_head_dim": 128, "vocab_size": 102400,
    "attention_bias": False, "attention_dropout": 0.0, "initializer_range": 0.02,
}

V3 = {
    **{k: v for k, v in V2_LITE.items() if k not in ("aux_loss_alpha", "seq_aux")},
    "model_type": "deepseek_v3", "hidden_size": 7168, "q_lora_rank": 1536, "n_routed_experts": 256,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "n_group": 8, "topk_group": 4, "topk_method": "noaux_tc",
    "scoring_func": "sigmoid", "norm_topk_prob": True, "routed_scaling_factor": 2.5, "first_k_dense_replace": 3,
    "num_hidden_layers": 61, "num_nextn_predict_layers": 1, "ep_size": 1,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128]},
}


def test_v2_lite_fields():
    c = ModelConfig.from_dict(V2_LITE)
    assert (c.q_lora_rank, c.kv_lora_rank, c.qk_head_dim, c.v_head_dim) == (None, 512, 192, 128)
    assert (c.topk_method, c.scoring_func, c.norm_topk_prob, c.num_experts_per_tok) == ("greedy", "softmax", False, 6)
    assert c.rope_type == "yarn" and c.rope_factor == 40 and c.original_max_position_embeddings == 4096
    assert c.rope_cos_sin_scale == pytest.approx(1.0)  # mscale == mscale_all_dim
    mscale = 0.1 * 0.707 * __import__("math").log(40) + 1
    assert c.softmax_scale == pytest.approx(192 ** -0.5 * mscale**2)
    assert c.eos_token_ids == (100001,)
    assert [c.is_moe_layer(i) for i in range(3)] == [False, True, True]


def test_v3_fields_and_fp8():
    c = ModelConfig.from_dict(V3)
    assert (c.topk_method, c.scoring_func, c.n_group, c.topk_group) == ("noaux_tc", "sigmoid", 8, 4)
    assert c.fp8_block_size == (128, 128) and c.routed_scaling_factor == 2.5 and c.q_lora_rank == 1536


def test_rope_parameters_and_legacy_spelling_agree():
    legacy = ModelConfig.from_dict(V2_LITE)
    modern = {k: v for k, v in V2_LITE.items() if k not in ("rope_scaling", "rope_theta")}
    modern["rope_parameters"] = {**V2_LITE["rope_scaling"], "rope_type": "yarn", "rope_theta": 10000.0}
    del modern["rope_parameters"]["type"]
    assert ModelConfig.from_dict(modern) == legacy


def test_moonlight_without_yarn():
    raw = {**V3, "rope_scaling": None, "rope_theta": 50000.0, "rms_norm_eps": 1e-5, "n_group": 1, "topk_group": 1}
    del raw["quantization_config"]
    c = ModelConfig.from_dict(raw)
    assert c.rope_type == "default" and c.rope_theta == 50000.0 and c.rms_norm_eps == 1e-5
    assert c.softmax_scale == pytest.approx(192 ** -0.5) and c.rope_cos_sin_scale == 1.0


def test_historical_gready_spelling_is_greedy():
    assert ModelConfig.from_dict({**V2_LITE, "topk_method": "gready"}).topk_method == "greedy"


@pytest.mark.parametrize("change, named", [
    ({"topk_method": "sinkhorn"}, "topk_method"),
    ({"scoring_func": "tanh"}, "scoring_func"),
    ({"hidden_act": "gelu"}, "hidden_act"),
    ({"attention_bias": True}, "attention_bias"),
    ({"model_type": "llama"}, "model_type"),
    ({"rope_scaling": {"type": "dynamic", "factor": 2.0}}, "dynamic"),
    ({"rope_scaling": {"type": "yarn", "factor": 2.0, "wobble": 1}}, "wobble"),
    ({"some_new_knob": 3}, "some_new_knob"),
    ({"quantization_config": {"quant_method": "awq"}}, "quant_method"),
    ({"n_group": 3, "topk_method": "group_limited_greedy"}, "n_group"),
])
def test_unsupported_values_fail_by_name(change, named):
    with pytest.raises(ConfigError, match=named):
        ModelConfig.from_dict({**V2_LITE, **change})


# Qwen3-30B-A3B's config.json, and what Qwen3-Coder-30B-A3B-Instruct's adds.
QWEN3_30B = {
    "architectures": ["Qwen3MoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144, "max_position_embeddings": 40960,
    "max_window_layers": 48, "mlp_only_layers": [], "model_type": "qwen3_moe", "moe_intermediate_size": 768,
    "norm_topk_prob": True, "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
    "num_hidden_layers": 48, "num_key_value_heads": 4, "output_router_logits": False, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_CODER = {**QWEN3_30B, "intermediate_size": 5472, "max_position_embeddings": 262144, "rope_theta": 10000000,
               "qkv_bias": False, "shared_expert_intermediate_size": 0, "use_qk_norm": True,
               "router_aux_loss_coef": 0.0}


def test_qwen3_moe_fields():
    c = ModelConfig.from_dict(QWEN3_30B)
    assert c.attention == "gqa" and (c.num_attention_heads, c.num_key_value_heads, c.head_dim) == (32, 4, 128)
    assert (c.n_routed_experts, c.num_experts_per_tok, c.n_shared_experts, c.norm_topk_prob) == (128, 8, 0, True)
    assert (c.topk_method, c.scoring_func, c.routed_scaling_factor) == ("greedy", "softmax", 1.0)
    assert c.rope_dim == 128 and not c.rope_interleave and c.rope_theta == 1e6 and c.rope_type == "default"
    assert c.softmax_scale == 128 ** -0.5 and c.eos_token_ids == (151645,)
    assert all(c.is_moe_layer(i) for i in range(48))
    coder = ModelConfig.from_dict(QWEN3_CODER)
    assert coder.rope_theta == 1e7 and coder.intermediate_size == 5472 and coder.attention == "gqa"
    # DeepSeek configs carry head_dim / num_key_value_heads too: there they change nothing
    assert ModelConfig.from_dict(V2_LITE).attention == "mla"


def test_qwen3_moe_dense_layers_and_transformers5_spelling():
    c = ModelConfig.from_dict({**QWEN3_30B, "decoder_sparse_step": 2, "mlp_only_layers": [3], "num_hidden_layers": 6})
    assert [c.is_moe_layer(i) for i in range(6)] == [False, True, False, False, False, True]
    written = {k: v for k, v in QWEN3_30B.items() if k not in ("num_experts", "rope_theta", "rope_scaling")}
    written.update(num_local_experts=128, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
    assert ModelConfig.from_dict(written) == ModelConfig.from_dict(QWEN3_30B)
    dense = ModelConfig.from_dict({**QWEN3_30B, "num_experts": 0})
    assert dense.n_routed_experts is None and not dense.is_moe_layer(0)
    derived = ModelConfig.from_dict({k: v for k, v in QWEN3_30B.items() if k not in ("head_dim", "num_key_value_heads")})
    assert (derived.head_dim, derived.num_key_value_heads) == (64, 32)  # transformers' defaults: D / H, H
    yarn = ModelConfig.from_dict({**QWEN3_30B, "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                                                "original_max_position_embeddings": 32768}})
    assert yarn.rope_type == "yarn" and yarn.rope_factor == 4.0 and yarn.softmax_scale == 128 ** -0.5
    assert yarn.rope_cos_sin_scale == pytest.approx(0.1 * __import__("math").log(4.0) + 1)


@pytest.mark.parametrize("change, named", [
    ({"use_sliding_window": True, "sliding_window": 4096}, "use_sliding_window"),
    ({"qkv_bias": True}, "qkv_bias"),
    ({"use_qk_norm": False}, "use_qk_norm"),
    ({"shared_expert_intermediate_size": 512}, "shared_expert_intermediate_size"),
    ({"layer_types": ["sliding_attention"] * 48}, "layer_types"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"n_shared_experts": 1}, "n_shared_experts"),
    ({"mlp_only_layers": "all"}, "mlp_only_layers"),
    ({"decoder_sparse_step": 0}, "decoder_sparse_step"),
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "partial_rotary_factor": 0.5}}, "partial_rotary_factor"),
])
def test_qwen3_moe_unsupported_values_fail_by_name(change, named):
    with pytest.raises(ConfigError, match=named):
        ModelConfig.from_dict({**QWEN3_30B, **change})


# Qwen3-8B's config.json (dense Qwen3: the same attention, no experts)
QWEN3_8B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 12288, "max_position_embeddings": 40960, "max_window_layers": 36,
    "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}


def test_dense_qwen3_fields_and_experts_refused():
    c = ModelConfig.from_dict(QWEN3_8B)
    assert c.attention == "gqa" and (c.num_attention_heads, c.num_key_value_heads, c.head_dim) == (32, 8, 128)
    assert c.n_routed_experts is None and not any(c.is_moe_layer(i) for i in range(36))
    assert c.intermediate_size == 12288 and c.rope_theta == 1e6 and not c.rope_interleave
    with pytest.raises(ConfigError, match="qwen3_moe"):  # experts belong to the MoE model type
        ModelConfig.from_dict({**QWEN3_8B, "num_experts": 8, "num_experts_per_tok": 2})
    with pytest.raises(ConfigError, match="use_sliding_window"):
        ModelConfig.from_dict({**QWEN3_8B, "use_sliding_window": True})
