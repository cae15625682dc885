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
