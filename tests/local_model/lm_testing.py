"""Helpers for the local_model tests: tiny random checkpoints written by transformers itself.

Weights are re-drawn at scales that make activations and logits O(1) (transformers' default
std of 0.02 gives near-zero logits, which would make any tolerance meaningless), norm weights
are drawn around 1, and the noaux_tc correction bias is random, so that a wrong norm, a
dropped bias or a misrouted token shows up in the logits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

# Tiny configurations shaped like the real families (dims shrunk, structure kept).
PRESETS: dict[str, dict] = {
    # DeepSeek-V2-Lite: no q_lora, softmax greedy routing, no renormalisation, YaRN mscale 0.707
    "v2_lite": dict(
        arch="DeepseekV2", vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
        num_hidden_layers=3, num_attention_heads=4, q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16,
        qk_rope_head_dim=8, v_head_dim=12, n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=3,
        first_k_dense_replace=1, topk_method="greedy", norm_topk_prob=False, routed_scaling_factor=1.0,
        rms_norm_eps=1e-6, max_position_embeddings=128,
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32, "beta_fast": 32,
                      "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
        rope_theta=10000.0,
    ),
    # DeepSeek-V2 (full): group-limited greedy routing with a scaling factor
    "v2_grouped": dict(
        arch="DeepseekV2", vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
        num_hidden_layers=2, num_attention_heads=4, q_lora_rank=40, kv_lora_rank=32, qk_nope_head_dim=16,
        qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2,
        first_k_dense_replace=0, topk_method="group_limited_greedy", n_group=4, topk_group=2,
        norm_topk_prob=False, routed_scaling_factor=2.0, rms_norm_eps=1e-6, max_position_embeddings=128,
        rope_theta=10000.0,
    ),
    # DeepSeek-V3: q_lora, sigmoid noaux_tc with n_group > 1 and a correction bias, YaRN
    # (mscale != mscale_all_dim so that the cos/sin attention factor is not 1)
    "v3": dict(
        arch="DeepseekV3", vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32,
        qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=16, n_shared_experts=1,
        num_experts_per_tok=4, n_group=4, topk_group=2, first_k_dense_replace=1, norm_topk_prob=True,
        routed_scaling_factor=2.5, rms_norm_eps=1e-6, max_position_embeddings=512,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 8.0,
                         "original_max_position_embeddings": 64, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 1.0, "mscale_all_dim": 0.8},
    ),
    # Moonlight-16B-A3B: V3 architecture, no YaRN, rope_theta 50000, rms_norm_eps 1e-5, one group
    "moonlight": dict(
        arch="DeepseekV3", vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32,
        qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=8, n_shared_experts=2,
        num_experts_per_tok=3, n_group=1, topk_group=1, first_k_dense_replace=1, norm_topk_prob=True,
        routed_scaling_factor=2.446, rms_norm_eps=1e-5, max_position_embeddings=256,
        rope_parameters={"rope_type": "default", "rope_theta": 50000.0},
    ),
    # V2-Lite-shaped, wide enough that the experts, the dense MLP and the lm_head weigh >= 1 MiB
    # in float32: local_model/kernels.py then takes its own CPU paths (blocked matrix-vector
    # products, oneDNN, the per-expert loop) instead of F.linear
    "v2_lite_wide": dict(
        arch="DeepseekV2", vocab_size=640, hidden_size=512, intermediate_size=1024, moe_intermediate_size=512,
        num_hidden_layers=2, num_attention_heads=4, q_lora_rank=None, kv_lora_rank=64, qk_nope_head_dim=32,
        qk_rope_head_dim=16, v_head_dim=32, n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=3,
        first_k_dense_replace=1, topk_method="greedy", norm_topk_prob=False, routed_scaling_factor=1.0,
        rms_norm_eps=1e-6, max_position_embeddings=1024, rope_theta=10000.0,
    ),
    # Qwen3-30B-A3B-shaped: GQA (4 query heads on 2 kv heads) with q/k norms, head_dim != hidden / heads,
    # norm_topk_prob, rope_theta 1e6; layer 1 dense through mlp_only_layers, 0 and 2 sparse
    "qwen3_moe": dict(
        arch="Qwen3Moe", vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=24,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=24, num_experts=8,
        num_experts_per_tok=3, decoder_sparse_step=1, mlp_only_layers=[1], norm_topk_prob=True, rms_norm_eps=1e-6,
        max_position_embeddings=256, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    ),
    # Qwen3-MoE with every query head on one kv head, decoder_sparse_step 2 (layers 1 and 3 sparse,
    # 0 and 2 dense), no renormalisation of the top-k weights, YaRN as Qwen documents it for long contexts
    "qwen3_moe_yarn": dict(
        arch="Qwen3Moe", vocab_size=320, hidden_size=64, intermediate_size=80, moe_intermediate_size=16,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=1, head_dim=16, num_experts=16,
        num_experts_per_tok=4, decoder_sparse_step=2, norm_topk_prob=False, rms_norm_eps=1e-5,
        max_position_embeddings=256,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                         "original_max_position_embeddings": 64},
    ),
    # dense Qwen3 (Qwen3-0.6B..32B's structure: the same attention, every MLP dense), tied embeddings as the
    # small ones have them
    "qwen3_dense": dict(
        arch="Qwen3", vocab_size=320, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=24, rms_norm_eps=1e-6, max_position_embeddings=256,
        tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    ),
}
QWEN_PRESETS = ("qwen3_moe", "qwen3_moe_yarn", "qwen3_dense")


def hf_config(preset: str, **overrides):
    import transformers

    kwargs = {**PRESETS[preset], **overrides}
    arch = kwargs.pop("arch")
    return getattr(transformers, f"{arch}Config")(**kwargs), getattr(transformers, f"{arch}ForCausalLM")


def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Redraw every parameter and buffer at O(1)-activation scales, deterministically."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if "inv_freq" in name:
                continue
            if name.endswith("e_score_correction_bias"):
                new = 0.1 * torch.randn(tensor.shape, generator=g)
            elif "norm" in name:
                new = 1.0 + 0.2 * torch.randn(tensor.shape, generator=g)
            elif "embed_tokens" in name:
                new = torch.randn(tensor.shape, generator=g)
            elif name.endswith("mlp.gate.weight"):  # router: decisive but not saturated scores
                new = 2.0 * torch.randn(tensor.shape, generator=g) / tensor.shape[-1] ** 0.5
            else:
                new = torch.randn(tensor.shape, generator=g) / tensor.shape[-1] ** 0.5
            tensor.copy_(new.to(tensor.dtype))


def make_checkpoint(path: Path, preset: str, seed: int = 0, **save_kwargs):
    """Write a random `preset` model with transformers' save_pretrained; return (path, hf_model fp32)."""
    config, cls = hf_config(preset)
    torch.manual_seed(seed)
    model = cls(config)
    randomize_(model, seed)
    model.save_pretrained(path, **save_kwargs)
    return Path(path), model


def hf_reference(path: Path, dtype=torch.float64):
    """transformers' own model read from `path`, eager attention and experts."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="eager",
                                                experts_implementation="eager").eval()


def assert_cached_decode_matches(ours, cache, ref, ref_cache, tokens: torch.Tensor, atol: float) -> None:
    """Feed tokens [B, N] one column at a time to ours (its cache) and to transformers (its
    cache); the logits of every step must agree within atol."""
    for step in range(tokens.shape[1]):
        token = tokens[:, step : step + 1]
        mine = ours(token, cache)
        theirs = ref(input_ids=token, cache=ref_cache, use_cache=True)
        ref_cache = theirs.cache
        torch.testing.assert_close(mine.double(), theirs.logits.double(), atol=atol, rtol=0, msg=f"decode step {step}")


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` (every 10 ms) until it holds or `timeout` seconds have passed; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_config(path: Path) -> dict:
    return json.loads((Path(path) / "config.json").read_text())


BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
SPECIAL_TOKENS = [BOS, EOS, "<｜User｜>", "<｜Assistant｜>", "<|im_start|>", "<|im_end|>",
                  "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"]

# Shaped like DeepSeek-V3's template: BOS, system prompt first, tools as JSON, tool calls,
# tool results, EOS closing every assistant turn; uses namespace, tojson and raise_exception.
DEEPSEEK_TEMPLATE = (
    "{% set ns = namespace(system='') %}"
    "{%- for message in messages %}{% if message['role'] == 'system' %}{% set ns.system = message['content'] %}{% endif %}{% endfor %}"
    "{{ bos_token }}{{ ns.system }}"
    "{% if tools %}\n\n## Tools\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}{% endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' %}{{ '<｜Assistant｜>' }}"
    "{%- if message['content'] is defined %}{{ message['content'] }}{% endif %}"
    "{%- if message['tool_calls'] is defined %}{{ '<｜tool▁calls▁begin｜>' }}"
    "{%- for call in message['tool_calls'] %}{{ call['function']['name'] }}\n```json\n{{ call['function']['arguments'] | tojson(indent=2) }}\n```{% endfor %}"
    "{{ '<｜tool▁calls▁end｜>' }}{% endif %}{{ eos_token }}"
    "{%- elif message['role'] == 'tool' %}{{ '<tool>' + message['content'] + '</tool>' }}"
    "{%- elif message['role'] != 'system' %}{{ raise_exception('unknown role ' + message['role']) }}"
    "{%- endif %}{%- endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"
)
# ChatML, as Kimi-K2-style checkpoints use: <|im_end|> closes a turn, distinct from EOS.
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Shaped like Qwen3's template (ChatML; tools listed as JSON in <tools>, calls written as
# <tool_call>{"name", "arguments"}</tool_call>, results as <tool_response> in a user turn) and
# like Qwen3-Coder's (the same ChatML, but calls written in the XML form, walking the arguments
# as a mapping with `|items`, which a JSON string would break).
_QWEN_SYSTEM = (
    "{% if tools %}<|im_start|>system\n{% if messages[0].role == 'system' %}{{ messages[0].content + '\n\n' }}"
    "{% endif %}{{ '# Tools\n\n<tools>' }}{% for tool in tools %}{{ '\n' + tool | tojson }}{% endfor %}"
    "{{ '\n</tools>\n\nTOOL_FORMAT<|im_end|>\n' }}"
    "{% elif messages[0].role == 'system' %}{{ '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}{% endif %}"
)
_QWEN_TURNS = (
    "{% for message in messages if message.role != 'system' %}"
    "{% if message.role == 'assistant' and message.tool_calls %}{{ '<|im_start|>assistant\n' + (message.content or '') }}"
    "{% for tool_call in message.tool_calls %}CALL{% endfor %}{{ '<|im_end|>\n' }}"
    "{% elif message.role == 'tool' %}{{ '<|im_start|>user\n<tool_response>\n' + message.content }}"
    "{{ '\n</tool_response><|im_end|>\n' }}"
    "{% else %}{{ '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
QWEN3_TEMPLATE = (
    _QWEN_SYSTEM.replace("TOOL_FORMAT", 'Call a function as <tool_call>\\n{"name": NAME, "arguments": ARGUMENTS}'
                                        '\\n</tool_call>')
    + _QWEN_TURNS.replace("CALL", "{{ '\n<tool_call>\n{\"name\": \"' + tool_call.function.name + '\", \"arguments\": ' }}"
                                  "{% if tool_call.function.arguments is string %}{{ tool_call.function.arguments }}"
                                  "{% else %}{{ tool_call.function.arguments | tojson }}{% endif %}"
                                  "{{ '}\n</tool_call>' }}"))
QWEN3_CODER_TEMPLATE = (
    _QWEN_SYSTEM.replace("TOOL_FORMAT", "Call a function as <tool_call>\\n<function=NAME>\\n<parameter=P>\\nVALUE"
                                        "\\n</parameter>\\n</function>\\n</tool_call>")
    + _QWEN_TURNS.replace("CALL", "{{ '\n<tool_call>\n<function=' + tool_call.function.name + '>\n' }}"
                                  "{% for name, value in tool_call.function.arguments|items %}"
                                  "{{ '<parameter=' + name + '>\n' }}"
                                  "{% if value is mapping or (value is sequence and value is not string) %}"
                                  "{{ value | tojson }}{% else %}{{ value }}{% endif %}{{ '\n</parameter>\n' }}"
                                  "{% endfor %}{{ '</function>\n</tool_call>' }}"))


def make_tokenizer(path: Path, template: str, vocab_size: int = 300, template_file: bool = False) -> Path:
    """Train a tiny byte-level BPE (ASCII corpus: non-ASCII text stays split into byte tokens) and
    write tokenizer.json + tokenizer_config.json (or chat_template.jinja) into `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ["hello world, this is a tiny corpus for a tiny tokenizer.",
              "the quick brown fox jumps over the lazy dog", "def add(a, b): return a + b"] * 20
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, tok.token_to_id(BOS))])
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok.save(str(path / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS,
              "eos_token": {"content": EOS, "special": True, "__type": "AddedToken"}}
    if template_file:
        (path / "chat_template.jinja").write_text(template, encoding="utf-8")
    else:
        config["chat_template"] = template
    (path / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path
