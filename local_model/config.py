"""The model configuration: every number that changes the math, read from `config.json`.

Two attention families share one config: Multi-head Latent Attention (DeepSeek-V2/V3,
Moonlight, Kimi-K2: `attention == "mla"`) and grouped-query attention with per-head q/k
RMSNorm (Qwen3-MoE: `attention == "gqa"`). `ModelConfig.from_dict` accepts the spellings
found in real checkpoints and in configs written by transformers 5 (`rope_parameters`
instead of `rope_scaling` + `rope_theta`, `num_local_experts` for `num_experts`). A key it
does not know, or a value it cannot honour, raises `ConfigError` naming the key: an
engine that silently ignored `"topk_method": "something_new"` would produce plausible
garbage.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_TYPES = ("deepseek_v2", "deepseek_v3", "kimi_k2", "qwen3_moe", "qwen3")
# grouped-query attention with q/k norms: Qwen3-MoE, and dense Qwen3 (the same layers, every MLP dense)
GQA_MODEL_TYPES = ("qwen3_moe", "qwen3")
TOPK_METHODS = ("greedy", "group_limited_greedy", "noaux_tc")
SCORING_FUNCS = ("softmax", "sigmoid")

# Keys that real or transformers-written configs carry but that do not change inference
# math (training-only knobs, bookkeeping, token ids handled by the tokenizer side).
IGNORED_KEYS = frozenset({
    "_name_or_path", "architectures", "auto_map", "transformers_version", "torch_dtype", "dtype",
    "use_cache", "initializer_range", "pretraining_tp", "attention_dropout", "aux_loss_alpha",
    "seq_aux", "ep_size", "output_router_logits", "router_aux_loss_coef", "pad_token_id",
    "tokenizer_class", "num_nextn_predict_layers", "num_mtp_layers", "qk_head_dim", "head_dim",
    "num_key_value_heads", "use_flash_attn", "is_encoder_decoder", "return_dict", "id2label",
    "label2id", "problem_type", "tie_encoder_decoder", "chunk_size_feed_forward", "model_type",
})
# Keys copied as they are onto the dataclass field of the same name.
DIRECT_KEYS = frozenset({
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "rms_norm_eps", "tie_word_embeddings", "max_position_embeddings", "bos_token_id",
    "n_routed_experts", "n_shared_experts", "num_experts_per_tok", "moe_intermediate_size",
    "first_k_dense_replace", "moe_layer_freq", "n_group", "topk_group", "scoring_func",
    "norm_topk_prob", "routed_scaling_factor", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
    "qk_rope_head_dim", "v_head_dim",
})
# Of those, the ones where null means something (absent feature) rather than "use the default".
NULLABLE_KEYS = frozenset({"q_lora_rank", "n_routed_experts", "bos_token_id"})
# Qwen3-MoE keys whose value must be the one the architecture implements (key -> that value).
QWEN_FIXED = {"use_sliding_window": False, "qkv_bias": False, "use_qk_norm": True, "shared_expert_intermediate_size": 0}
# Qwen3-MoE keys that only matter for a feature the fixed ones turn off (sliding-window attention).
QWEN_IGNORED = frozenset({"sliding_window", "max_window_layers"})
# rope_parameters / rope_scaling keys we understand.
ROPE_KEYS = frozenset({
    "rope_type", "type", "rope_theta", "factor", "original_max_position_embeddings", "beta_fast",
    "beta_slow", "mscale", "mscale_all_dim", "attention_factor", "truncate", "partial_rotary_factor",
})


class ConfigError(ValueError):
    """config.json holds a key or value this engine cannot honour; the message names it."""


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a DeepSeek-V2/V3-family (MLA) or Qwen3-MoE (GQA) model.

    Shapes used throughout: D hidden_size, H num_attention_heads, R kv_lora_rank,
    Dn qk_nope_head_dim, Dr qk_rope_head_dim, Dv v_head_dim, E n_routed_experts,
    K num_experts_per_tok, I moe_intermediate_size; for GQA Hkv num_key_value_heads, Dh head_dim.
    """

    model_type: str = "deepseek_v3"  # "deepseek_v2" | "deepseek_v3" (kimi_k2 is read as v3) | "qwen3_moe" | "qwen3"
    vocab_size: int = 102400  # rows of the embedding and of lm_head
    hidden_size: int = 2048  # D, width of the residual stream
    intermediate_size: int = 10944  # hidden width of the dense MLPs (the layers is_moe_layer says are not MoE)
    num_hidden_layers: int = 27  # decoder layers; a V3 MTP layer stored after them is skipped
    num_attention_heads: int = 16  # H
    rms_norm_eps: float = 1e-6  # eps of the block and final RMSNorms (latent norms use 1e-6)
    tie_word_embeddings: bool = False  # lm_head shares the embedding matrix
    max_position_embeddings: int = 4096  # only used to infer a missing YaRN factor
    bos_token_id: int | None = None  # begin-of-sequence id (informational; the template adds it)
    eos_token_ids: tuple[int, ...] = ()  # ids that end generation, from config.json

    # moe
    n_routed_experts: int | None = None  # E; None makes every layer dense
    n_shared_experts: int = 0  # always-on experts, run as one MLP of width I * n_shared_experts
    num_experts_per_tok: int = 1  # K, routed experts per token
    moe_intermediate_size: int = 1408  # I, hidden width of one expert
    first_k_dense_replace: int = 0  # MLA: layers [0, k) use a dense MLP
    moe_layer_freq: int = 1  # MLA: from layer k on, every n-th layer is MoE (all shipped models: 1)
    decoder_sparse_step: int = 1  # GQA: layer i is MoE iff (i + 1) % step == 0 (and not in mlp_only_layers)
    mlp_only_layers: tuple[int, ...] = ()  # GQA: layers with a dense MLP of width intermediate_size
    topk_method: str = "greedy"  # "greedy" | "group_limited_greedy" | "noaux_tc"
    n_group: int = 1  # expert groups for group-limited routing
    topk_group: int = 1  # groups a token may route into
    scoring_func: str = "softmax"  # "softmax" | "sigmoid", computed in float32
    norm_topk_prob: bool = False  # renormalise the K selected weights to sum to 1
    routed_scaling_factor: float = 1.0  # multiplies the routed weights (after renormalisation)

    # mla
    q_lora_rank: int | None = None  # None: one q_proj; else q_a_proj -> RMSNorm -> q_b_proj
    kv_lora_rank: int = 512  # R, width of the cached latent
    qk_nope_head_dim: int = 128  # Dn, per-head query/key part without position
    qk_rope_head_dim: int = 64  # Dr, decoupled rotary part (shared key, one per token)
    v_head_dim: int = 128  # Dv

    # gqa (Qwen3-MoE): per-head q/k RMSNorm, rotate-half RoPE over the whole head
    num_key_value_heads: int = 4  # Hkv, key/value heads; query head h reads kv head h // (H / Hkv)
    head_dim: int = 128  # Dh, width of every query, key and value head

    # yarn (rope_type "default" leaves everything below but rope_theta/rope_interleave unused)
    rope_theta: float = 10000.0  # RoPE base
    rope_interleave: bool = True  # rotary pairs are (x0,x1),(x2,x3)... as DeepSeek stores them; False: (x_i, x_i+Dr/2)
    rope_type: str = "default"  # "default" | "yarn"
    rope_factor: float = 1.0  # YaRN context extension factor s
    original_max_position_embeddings: int = 4096  # pre-extension context, sets the YaRN ramp
    beta_fast: float = 32.0  # YaRN ramp boundary (rotations), extrapolated above it
    beta_slow: float = 1.0  # YaRN ramp boundary (rotations), interpolated below it
    mscale: float = 1.0  # YaRN: cos/sin scale numerator, 0.1*mscale*ln(s)+1
    mscale_all_dim: float = 0.0  # YaRN: cos/sin scale denominator; softmax scale gets its square
    rope_attention_factor: float | None = None  # explicit cos/sin scale, overrides mscale/mscale_all_dim
    rope_truncate: bool = True  # floor/ceil the YaRN correction range

    # quantization
    fp8_block_size: tuple[int, int] | None = None  # FP8 e4m3 weights with (rows, cols) weight_scale_inv blocks

    # ---- derived -------------------------------------------------------------------
    @property
    def attention(self) -> str:
        """"mla" (DeepSeek family) or "gqa" (Qwen3-MoE): which attention and cache the model builds."""
        return "gqa" if self.model_type in GQA_MODEL_TYPES else "mla"

    @property
    def rope_dim(self) -> int:
        """Width of the rotated part of a query/key head: Dr for MLA, the whole head Dh for GQA."""
        return self.head_dim if self.attention == "gqa" else self.qk_rope_head_dim

    @property
    def qk_head_dim(self) -> int:
        """Dn + Dr: the width a query head is compared over."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def softmax_scale(self) -> float:
        """MLA: 1/sqrt(Dn+Dr), times mscale(s, mscale_all_dim)**2 when YaRN is on. GQA: 1/sqrt(Dh)
        (YaRN only scales cos/sin there, as transformers' Qwen3-MoE does)."""
        if self.attention == "gqa":
            return self.head_dim ** -0.5
        scale = self.qk_head_dim ** -0.5
        if self.rope_type == "yarn" and self.mscale_all_dim:
            m = yarn_mscale(self.rope_factor, self.mscale_all_dim)
            scale = scale * m * m
        return scale

    @property
    def rope_cos_sin_scale(self) -> float:
        """The factor YaRN applies to cos and sin (1.0 without YaRN), as transformers computes it."""
        if self.rope_type != "yarn":
            return 1.0
        if self.rope_attention_factor is not None:
            return self.rope_attention_factor
        if self.mscale and self.mscale_all_dim:
            return yarn_mscale(self.rope_factor, self.mscale) / yarn_mscale(self.rope_factor, self.mscale_all_dim)
        return yarn_mscale(self.rope_factor)

    def is_moe_layer(self, layer: int) -> bool:
        """Whether decoder layer `layer` has a routed MoE feed-forward (else a dense MLP)."""
        if self.n_routed_experts is None:
            return False
        if self.attention == "gqa":  # transformers' Qwen3MoeDecoderLayer
            return layer not in self.mlp_only_layers and (layer + 1) % self.decoder_sparse_step == 0
        return layer >= self.first_k_dense_replace and layer % self.moe_layer_freq == 0

    # ---- parsing -------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> "ModelConfig":
        """Read `config.json` (or the directory holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ModelConfig":
        """Build a config from a parsed config.json; raises ConfigError on anything unknown."""
        raw = dict(raw)
        model_type = raw.pop("model_type", None) or "deepseek_v3"
        if model_type not in MODEL_TYPES:
            raise ConfigError(f"model_type {model_type!r} is not supported; expected one of {MODEL_TYPES}")
        if model_type == "kimi_k2":
            model_type = "deepseek_v3"
        v3 = model_type == "deepseek_v3"

        out: dict[str, Any] = {"model_type": model_type}
        # Defaults that differ between the families, as their reference implementations have them.
        out["topk_method"] = "noaux_tc" if v3 else "greedy"
        out["scoring_func"] = "sigmoid" if v3 else "softmax"
        out["norm_topk_prob"] = v3
        if model_type in GQA_MODEL_TYPES:
            _read_qwen(raw, out, model_type)

        _check_fixed(raw, "hidden_act", "silu")
        _check_fixed(raw, "attention_bias", False)
        _check_fixed(raw, "mlp_bias", False)
        eos = raw.pop("eos_token_id", None)
        out["eos_token_ids"] = tuple(eos) if isinstance(eos, list) else (() if eos is None else (int(eos),))
        if (tp := raw.pop("topk_method", None)) is not None:
            out["topk_method"] = "greedy" if tp == "gready" else tp  # historical typo in some configs
        _read_rope(raw, out)
        _read_quantization(raw.pop("quantization_config", None), out)

        unknown = []
        for key, value in raw.items():
            if key in DIRECT_KEYS:
                if value is not None or key in NULLABLE_KEYS:
                    out[key] = value
            elif key not in IGNORED_KEYS:
                unknown.append(key)
        if unknown:
            raise ConfigError(
                f"config.json has keys this engine does not know: {sorted(unknown)}. If they do not change "
                "the model's math, add them to local_model.config.IGNORED_KEYS.")
        config = cls(**out)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError naming the first value the engine cannot run."""
        if self.topk_method not in TOPK_METHODS:
            raise ConfigError(f"topk_method {self.topk_method!r} is not supported; expected one of {TOPK_METHODS}")
        if self.scoring_func not in SCORING_FUNCS:
            raise ConfigError(f"scoring_func {self.scoring_func!r} is not supported; expected one of {SCORING_FUNCS}")
        if self.rope_type not in ("default", "yarn"):
            raise ConfigError(f"rope type {self.rope_type!r} is not supported; expected 'default' or 'yarn'")
        if self.qk_rope_head_dim % 2:
            raise ConfigError(f"qk_rope_head_dim {self.qk_rope_head_dim} must be even")
        if self.attention == "gqa":
            if self.head_dim % 2:
                raise ConfigError(f"head_dim {self.head_dim} must be even")
            if self.num_key_value_heads < 1 or self.num_attention_heads % self.num_key_value_heads:
                raise ConfigError(f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                                  f"num_key_value_heads {self.num_key_value_heads}")
            if self.decoder_sparse_step < 1:
                raise ConfigError(f"decoder_sparse_step {self.decoder_sparse_step} must be >= 1")
        if self.moe_layer_freq < 1:
            raise ConfigError(f"moe_layer_freq {self.moe_layer_freq} must be >= 1")
        if self.n_routed_experts is not None:
            if self.num_experts_per_tok > self.n_routed_experts:
                raise ConfigError(f"num_experts_per_tok {self.num_experts_per_tok} > n_routed_experts "
                                  f"{self.n_routed_experts}")
            if self.topk_method != "greedy":
                if self.n_routed_experts % self.n_group:
                    raise ConfigError(f"n_routed_experts {self.n_routed_experts} is not divisible by "
                                      f"n_group {self.n_group}")
                if not 1 <= self.topk_group <= self.n_group:
                    raise ConfigError(f"topk_group {self.topk_group} must be in [1, n_group={self.n_group}]")
                if self.topk_method == "noaux_tc" and self.n_routed_experts // self.n_group < 2 and self.n_group > 1:
                    raise ConfigError("noaux_tc scores a group by its top-2 experts; groups need >= 2 experts")


def yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    """YaRN's attention temperature: 0.1 * mscale * ln(scale) + 1 (1.0 for scale <= 1)."""
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def _check_fixed(raw: dict, key: str, supported: Any) -> None:
    value = raw.pop(key, supported)
    if value is not None and value != supported:
        raise ConfigError(f"{key}={value!r} is not supported; this engine implements {key}={supported!r}")


def _read_qwen(raw: dict, out: dict, model_type: str) -> None:
    """Fold Qwen3(-MoE)'s own keys into `out` (the shared ones are read by from_dict)."""
    for key, supported in QWEN_FIXED.items():
        _check_fixed(raw, key, supported)
    for key in QWEN_IGNORED:
        raw.pop(key, None)
    layer_types = raw.pop("layer_types", None) or ()
    if any(t != "full_attention" for t in layer_types):
        raise ConfigError(f"layer_types {sorted(set(layer_types))} is not supported; this engine implements "
                          "full attention in every layer (no sliding window)")
    heads = raw.get("num_attention_heads", ModelConfig.num_attention_heads)
    out["head_dim"] = int(raw.pop("head_dim", None) or raw.get("hidden_size", ModelConfig.hidden_size) // heads)
    out["num_key_value_heads"] = int(raw.pop("num_key_value_heads", None) or heads)
    # transformers 5 writes num_local_experts (its attribute_map for num_experts); 0 makes every layer dense
    experts = raw.pop("num_experts", None)
    local = raw.pop("num_local_experts", None)
    experts = experts if experts is not None else local
    if model_type == "qwen3":
        moe_keys = sorted(k for k in ("moe_intermediate_size", "num_experts_per_tok", "decoder_sparse_step",
                                      "mlp_only_layers", "norm_topk_prob") if k in raw)
        if experts or moe_keys:
            raise ConfigError(f"a dense qwen3 config has no experts, but this one sets "
                              f"{moe_keys or ['num_experts']}; a model with experts is model_type 'qwen3_moe'")
    out["n_routed_experts"] = int(experts) if experts else None
    if "n_routed_experts" in raw:
        raise ConfigError(f"a {model_type} config names its experts num_experts, not n_routed_experts")
    if (step := raw.pop("decoder_sparse_step", None)) is not None:
        out["decoder_sparse_step"] = int(step)
    only = raw.pop("mlp_only_layers", None) or []
    if not isinstance(only, list) or not all(isinstance(i, int) for i in only):
        raise ConfigError(f"mlp_only_layers must be a list of layer indices, got {only!r}")
    out["mlp_only_layers"] = tuple(only)
    out["rope_interleave"] = False  # Qwen stores q/k heads for rotate-half RoPE
    for key in ("kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                "n_shared_experts", "first_k_dense_replace", "moe_layer_freq", "topk_method", "n_group",
                "topk_group", "scoring_func", "routed_scaling_factor"):
        if key in raw:
            raise ConfigError(f"{key} is a DeepSeek-family key; a {model_type} config cannot set it")


def _read_rope(raw: dict, out: dict) -> None:
    """Fold `rope_parameters` (transformers 5) or `rope_scaling` + `rope_theta` (older) into `out`."""
    params = raw.pop("rope_parameters", None)
    legacy = raw.pop("rope_scaling", None)
    theta = raw.pop("rope_theta", None)
    if "rope_interleave" in raw:
        out["rope_interleave"] = bool(raw.pop("rope_interleave"))
    if params is None:
        params = dict(legacy or {})
    elif legacy:
        params = {**legacy, **params}
    if not isinstance(params, dict):
        raise ConfigError(f"rope_parameters must be a mapping, got {type(params).__name__}")
    if params and all(isinstance(v, dict) for v in params.values()):
        raise ConfigError("per-layer-type rope_parameters are not supported (every layer here has one RoPE)")
    unknown = set(params) - ROPE_KEYS
    if unknown:
        raise ConfigError(f"rope_parameters has keys this engine does not know: {sorted(unknown)}")
    rope_type = params.get("rope_type") or params.get("type") or "default"
    if params.get("partial_rotary_factor", 1.0) != 1.0:
        raise ConfigError("rope partial_rotary_factor != 1 is not supported (MLA ropes all of qk_rope_head_dim, "
                          "Qwen3 all of head_dim)")
    out["rope_theta"] = float(params.get("rope_theta") or theta or 10000.0)
    out["rope_type"] = rope_type
    if rope_type != "yarn":
        return
    max_pos = raw.get("max_position_embeddings", 4096)
    original = params.get("original_max_position_embeddings") or max_pos
    factor = params.get("factor")
    out["rope_factor"] = float(factor if factor is not None else max_pos / original)
    out["original_max_position_embeddings"] = int(original)
    # transformers treats 0/None as "use the default" for the betas
    out["beta_fast"] = float(params.get("beta_fast") or 32)
    out["beta_slow"] = float(params.get("beta_slow") or 1)
    out["mscale"] = float(params.get("mscale") or 0.0)
    out["mscale_all_dim"] = float(params.get("mscale_all_dim") or 0.0)
    if params.get("attention_factor") is not None:
        out["rope_attention_factor"] = float(params["attention_factor"])
    out["rope_truncate"] = bool(params.get("truncate", True))


def _read_quantization(quant: dict | None, out: dict) -> None:
    if not quant:
        return
    method = quant.get("quant_method")
    if method != "fp8":
        raise ConfigError(f"quantization_config.quant_method {method!r} is not supported; only 'fp8' is")
    fmt = quant.get("fmt", "e4m3")
    if fmt != "e4m3":
        raise ConfigError(f"quantization_config.fmt {fmt!r} is not supported; only 'e4m3' is")
    block = quant.get("weight_block_size")
    if not block or len(block) != 2:
        raise ConfigError(f"quantization_config.weight_block_size {block!r} must be [rows, cols]")
    out["fp8_block_size"] = (int(block[0]), int(block[1]))
