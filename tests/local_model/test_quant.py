"""Weight-only quantization (local_model/quant.py, quant_cpu.c) on tiny random checkpoints.

The claims held here: every quantized weight is within half a step of its original (int8: its
row's scale; int4: its group's); the quantized model's logits equal those of a float32 model
built from its dequantized weights (prefill and cached decode, every kernel build this machine
can make, and the PyTorch fallback); what is quantized and what is not; loading keeps memory
near the quantized size; bad combinations fail at load naming them; the switches reach the
engine from Python, the command line, `ama serve` and `local:`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from local_model import KernelPolicy, QuantizeError, load_model
from local_model import quant_cpu
from local_model.config import ModelConfig
from local_model.kernels import Linear
from local_model.moe import Experts
from local_model.quant import (GROUP, QuantExperts, QuantLinear, QuantMLA, QuantPlan, QWeight, blocked_matmul,
                               check_mode, check_shape, dequantize_int4, dequantize_int8, dequantized_model,
                               int8_digits_mm, quantize_int4, quantize_int8, tinygemm_inputs, weight_bytes)
from tests.local_model.lm_testing import DEEPSEEK_TEMPLATE, make_tokenizer

ROOT = Path(__file__).resolve().parents[2]
MODES = ("int8", "int4")
VARIANTS = ("native", "avx2", "portable", None)  # our kernel builds, and None: the blocked PyTorch path
# v2_lite: K = 24 and 96 (partial int4 groups), shared experts; v3: q_lora, sigmoid routing;
# v2_lite_wide: K up to 1024 (several groups, the kernels' vector loops)
# qwen3_moe: GQA attention with q/k norms, a dense layer among the sparse ones (mlp_only_layers), no shared experts
PRESETS = ("v2_lite", "v3", "v2_lite_wide", "qwen3_moe")


# Half a step, up to float32's rounding of w / step when the integers are picked: at most 2^-24 of 127 (int8)
# or 15 (int4) steps; 1 + 2e-5 covers it.
SLACK = 1 + 2e-5


def within_bound(w: torch.Tensor, q: QWeight) -> float:
    """max |w - dequantized| / (step / 2) over the weight (<= 1 within the bound)."""
    err = (w.double() - q.dequantize().double()).abs()
    step = (q.scale[:, None].expand_as(err) if q.mode == "int8"
            else q.scale.repeat_interleave(GROUP, dim=-1)[:, : q.in_features]).double()
    return float((err / (step / 2).clamp_min(1e-30)).max())


def pairs(quantized, original):
    """(name, original float weight, QWeight) for every quantized weight of the model."""
    params = dict(original.named_parameters())
    for name, module in quantized.named_modules():
        if isinstance(module, QuantLinear):
            yield name, params[f"{name}.weight"], module.quantized()
        elif isinstance(module, QuantExperts):
            for proj in ("gate_up", "down"):
                for e in range(module.n_experts):
                    yield f"{name}.{proj}[{e}]", params[f"{name}.{proj}_proj"][e], module.quantized(proj, e)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


# ---- quantizing ------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("mode", MODES)
def test_every_weight_is_within_half_a_step_and_only_linears_and_experts_are_quantized(checkpoints, preset, mode):
    path = checkpoints(preset)
    original = load_model(path)
    quantized = load_model(path, quantize=mode)
    worst = {name: within_bound(w, q) for name, w, q in pairs(quantized, original)}
    assert max(worst.values()) <= SLACK, {k: v for k, v in worst.items() if v > SLACK}
    # every Linear (on CPU kv_b_proj too) and every routed-expert stack is quantized ...
    linears = {n for n, m in original.named_modules() if isinstance(m, Linear)}
    assert {n for n, m in quantized.named_modules() if isinstance(m, QuantLinear)} == linears
    experts = {n for n, m in original.named_modules() if isinstance(m, Experts)}
    assert {n for n, m in quantized.named_modules() if isinstance(m, QuantExperts)} == experts and experts
    if original.config.attention == "mla":  # MLA's per-head kv_b_proj products (GQA's projections are Linears)
        assert all(type(m) is QuantMLA for n, m in quantized.named_modules() if n.endswith("self_attn"))
    # ... and embeddings, norms and routers are exactly the checkpoint's, in their own dtypes
    kept = dict(quantized.named_parameters())
    assert kept and all("embed_tokens" in n or "norm" in n or ".mlp.gate." in n for n in kept)
    for name, tensor in kept.items():
        assert torch.equal(tensor, dict(original.named_parameters())[name]), name
    if preset == "v2_lite_wide":  # wide enough that the weights, not the scales and norms, dominate
        assert weight_bytes(quantized) < (0.3 if mode == "int8" else 0.2) * weight_bytes(original)


def test_quantizers_on_hard_rows():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 300, generator=g)
    w[0] = 0  # a zero row: scale 0, dequantizes to exactly 0
    w[1, :128] = 3.25  # a constant int4 group
    w[2, 7] = 1e4  # an outlier
    w[3] *= 1e-6  # a tiny row
    q8, s8 = quantize_int8(w)
    p4, s4, o4 = quantize_int4(w)
    assert q8.dtype == torch.int8 and q8.abs().max() <= 127 and s8.shape == (6,)
    assert p4.shape == (6, 3 * 64) and s4.shape == o4.shape == (6, 3)  # 300 inputs: 3 groups, the last partial
    d8, d4 = dequantize_int8(q8, s8), dequantize_int4(p4, s4, o4, 300)
    assert d8.shape == d4.shape == w.shape
    assert torch.equal(d8[0], torch.zeros(300)) and torch.equal(d4[0], torch.zeros(300))
    assert torch.equal(d4[1, :128], torch.full((128,), 3.25))
    assert within_bound(w, QWeight("int8", "rows", 6, 300, q8, s8)) <= SLACK
    assert within_bound(w, QWeight("int4", "nibbles", 6, 300, p4, s4, o4)) <= SLACK
    # the steps themselves: int8 max|row| / 127, int4 (max - min) / 15 of each group
    assert torch.allclose(s8, w.abs().amax(1) / 127)
    assert torch.allclose(s4[:, 0], (w[:, :128].amax(1) - w[:, :128].amin(1)) / 15)


# ---- the products --------------------------------------------------------------------------

def _libs():
    out = {}
    for variant in VARIANTS[:-1]:
        lib = quant_cpu.library(variant)
        assert lib is not None, quant_cpu.unavailable(variant)  # this machine has a C compiler
        out[variant] = lib
    return out


@pytest.mark.parametrize("k", [1, 63, 64, 65, 130, 300, 1024])
def test_cpu_kernels_compute_exactly_what_the_dequantized_weight_does(k):
    g = torch.Generator().manual_seed(k)
    w = torch.randn(37, k, generator=g)
    x = torch.randn(5, k, generator=g) * torch.logspace(-3, 3, 5)[:, None]  # rows of very different sizes
    x[1] = 0  # a zero row
    q8, q4 = QWeight("int8", "rows", 37, k, *quantize_int8(w)), QWeight("int4", "nibbles", 37, k, *quantize_int4(w))
    for variant, lib in _libs().items():
        for q, fn in ((q8, lambda: quant_cpu.q8_gemv(lib, x, q8.q, q8.scale)),
                      (q4, lambda: quant_cpu.q4_gemv(lib, x, q4.q, q4.scale, q4.offset))):
            deq = q.dequantize().double()
            ref = x.double() @ deq.T
            y = fn()
            # the one rounding beyond float32's: each activation to a multiple of max|row| * step, half a step
            # off at most, times the weights it meets; plus float32 accumulation
            rounding = x.abs().amax(1, keepdim=True).double() * quant_cpu.activation_step(lib) / 2 * deq.abs().sum(1)
            bound = rounding + 1e-6 * (x.double().abs() @ deq.abs().T) + 1e-30
            assert ((y.double() - ref).abs() <= bound).all(), (variant, q.mode, ((y.double() - ref).abs() / bound).max())
            assert torch.equal(y[1], torch.zeros(37))
        # one row (decode) gives what the same row gives among others, bit for bit
        for rows in (36, 37):
            q8r = QWeight("int8", "rows", rows, k, *quantize_int8(w[:rows]))
            for i in (0, 2, 4):
                one = quant_cpu.q8_gemv(lib, x[i : i + 1], q8r.q, q8r.scale)
                assert torch.equal(one[0], quant_cpu.q8_gemv(lib, x, q8r.q, q8r.scale)[i]), (variant, rows, i)
    for q in (q8, q4):  # the blocked paths (prefill; no compiler), with and without our dequantizer
        ref = x.double() @ q.dequantize().double().T
        for lib in (None, quant_cpu.library()):
            assert rel(blocked_matmul(x, q, lib), ref) < 1e-6


def test_int8_digit_products_through_torch_int_mm_are_exact():
    """The CUDA int8 path (torch._int_mm over the activations' integer digits) runs on CPU too."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(24, 200, generator=g)
    q, scale = quantize_int8(w)
    x = torch.randn(3, 200, generator=g) * 50
    ref = x.double() @ dequantize_int8(q, scale).double().T
    assert rel(int8_digits_mm(x, q, scale), ref) < 1e-6


@pytest.mark.parametrize("mode", MODES)
def test_per_head_products_match_bmm(mode):
    """QuantMLA's kernels: W_UV_h x_h and W_UK_h^T x_h for heads laid out as kv_b_proj's row blocks."""
    heads, nope, v, rank = 3, 16, 12, 200
    g = torch.Generator().manual_seed(2)
    w = torch.randn(heads * (nope + v), rank, generator=g)
    parts = quantize_int8(w) if mode == "int8" else quantize_int4(w)
    q = QWeight(mode, "rows" if mode == "int8" else "nibbles", w.shape[0], rank, *parts)
    blocks = q.dequantize().double().view(heads, nope + v, rank)
    for lib in _libs().values():
        x = torch.randn(2, heads, rank, generator=g)
        out = quant_cpu.gemv_heads(lib, q, x, nope, v, nope + v)  # [2, H, Dv]
        ref = torch.einsum("hvr,mhr->mhv", blocks[:, nope:], x.double())
        assert rel(out, ref) < 1e-5  # activations rounded to 2^-20 of their max with AVX2
        xt = torch.randn(2, heads, nope, generator=g)
        out = quant_cpu.gemv_heads(lib, q, xt, 0, nope, nope + v, transposed=True)  # [2, H, R]
        ref = torch.einsum("hdr,mhd->mhr", blocks[:, :nope], xt.double())
        assert rel(out, ref) < 1e-5  # activations rounded to 2^-20 of their max with AVX2


def test_tinygemm_inputs_follow_torch_int4_conventions():
    """CUDA int4 goes through torch's tinygemm, which dequantizes (q - 8) * s + z from pairs with the even
    input in the high nibble. The same conventions hold for torch's CPU int4 kernel: check them there."""
    if not hasattr(torch, "_weight_int4pack_mm_for_cpu"):
        pytest.skip("this torch has no CPU int4 kernel")
    g = torch.Generator().manual_seed(3)
    w = torch.randn(16, 256, generator=g)
    packed, scale, offset = quantize_int4(w)
    pairs_, scales_and_zeros = tinygemm_inputs(packed, scale, offset)
    values = torch.stack((pairs_ >> 4, pairs_ & 15), dim=-1).view(16, 256).to(torch.int32)
    weight = torch._convert_weight_to_int4pack_for_cpu(values, 1)
    x = torch.randn(2, 256, generator=g)
    out = torch._weight_int4pack_mm_for_cpu(x, weight, GROUP, scales_and_zeros)
    assert rel(out, x.double() @ dequantize_int4(packed, scale, offset, 256).double().T) < 1e-5


# ---- whole models --------------------------------------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_logits_equal_a_float32_model_of_the_dequantized_weights(checkpoints, preset, mode, variant):
    path = checkpoints(preset)
    model = load_model(path, quantize=mode, kernels=KernelPolicy(quant_cpu=variant))
    ref = dequantized_model(model)
    assert ref.dtype == torch.float32 and not any(isinstance(m, (QuantLinear, QuantExperts)) for m in ref.modules())
    g = torch.Generator().manual_seed(4)
    vocab = model.config.vocab_size
    long = torch.randint(0, vocab, (2, 40), generator=g)  # 80 rows: the blocked path
    assert rel(model(long), ref(long)) < 1e-4
    short = torch.randint(0, vocab, (1, 12), generator=g)  # 12 rows: our kernels, expanded attention
    assert rel(model(short), ref(short)) < 1e-4
    cache, ref_cache = model.new_cache(2, 64), ref.new_cache(2, 64)  # decode: absorbed attention (QuantMLA)
    model(long[:, :30], cache, seq_lens=[30, 23])
    ref(long[:, :30], ref_cache, seq_lens=[30, 23])
    for step in range(4):
        token = long[:, 30 + step : 31 + step]
        assert rel(model(token, cache), ref(token, ref_cache)) < 1e-4, f"decode step {step}"


def test_a_tied_lm_head_stays_the_embedding():
    raw = {"model_type": "deepseek_v2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
           "num_hidden_layers": 1, "num_attention_heads": 2, "kv_lora_rank": 16, "qk_nope_head_dim": 8,
           "qk_rope_head_dim": 4, "v_head_dim": 8, "tie_word_embeddings": True}
    from local_model.model import DeepseekModel

    with torch.device("meta"):
        model = DeepseekModel(ModelConfig.from_dict(raw))
    plan = QuantPlan(model, "int8", "cpu")
    assert "lm_head.weight" not in plan.linears and "layers.0.self_attn.q_proj.weight" in plan.linears
    assert plan.takes("layers.0.mlp.down_proj.weight") and not plan.takes("embed_tokens.weight")


def test_quantized_moe_models_on_cuda_say_cuda_graphs_cannot_capture_them():
    from local_model.model import DeepseekModel

    raw = {"model_type": "deepseek_v2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
           "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "kv_lora_rank": 16,
           "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8, "n_routed_experts": 4,
           "num_experts_per_tok": 2, "first_k_dense_replace": 1}
    for device, expected in (("cuda", True), ("cpu", False)):
        with torch.device("meta"):
            model = DeepseekModel(ModelConfig.from_dict(raw))
        QuantPlan(model, "int8", device).install()  # nothing put: only the model-level setting is made
        assert bool(getattr(model, "capture_unsupported", None)) is expected, device


def test_unsupported_combinations_fail_at_load_naming_them(checkpoints):
    path = checkpoints("v2_lite")
    with pytest.raises(QuantizeError, match="'int3'"):
        load_model(path, quantize="int3")
    with pytest.raises(QuantizeError, match="not on meta"):
        load_model(path, device="meta", quantize="int8")
    with pytest.raises(QuantizeError, match="floating-point.*torch.int32"):
        load_model(path, dtype="int32", quantize="int4")
    # CUDA's kernels' limits, checked before anything runs on a device
    with pytest.raises(QuantizeError, match="bfloat16.*torch.float32"):
        check_mode("int4", "cuda", torch.float32)
    with pytest.raises(QuantizeError, match="12x64"):
        check_shape("int8", "cuda", 12, 64)
    with pytest.raises(QuantizeError, match="out_features.*12"):
        check_shape("int4", "cuda", 12, 64)
    check_shape("int8", "cpu", 12, 63)  # the CPU takes any shape


MEMORY_SCRIPT = r"""
import json, sys, torch
from safetensors.torch import save_file
from local_model import load_model, weights
from local_model.config import ModelConfig
from local_model.quant import weight_bytes
from local_model.random_init import random_model

folder, mode = sys.argv[1], sys.argv[2]
if mode == "write":
    raw = {"model_type": "deepseek_v2", "vocab_size": 4096, "hidden_size": 512, "intermediate_size": 1024,
           "moe_intermediate_size": 512, "num_hidden_layers": 4, "num_attention_heads": 4, "kv_lora_rank": 64,
           "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32, "n_routed_experts": 32,
           "n_shared_experts": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1}
    model = random_model(ModelConfig.from_dict(raw))
    save_file({n: p.contiguous() for n, p in model.named_parameters()}, folder + "/model.safetensors")
    open(folder + "/config.json", "w").write(json.dumps(raw))
    sys.exit(0)
weights.RELEASE_BYTES = 16 << 20  # the mapped file is released every 16 MiB read (1 GiB by default)

def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key + ":"))

from local_model.model import DeepseekModel
from local_model.quant import quantize_int4, quantize_int8
# torch's one-time set-up (its meta-device and CPU ops import ~70 MB of Python the first time): not the load's
quantize_int8(torch.randn(256, 256)), quantize_int4(torch.randn(256, 256))
with torch.device("meta"):
    DeepseekModel(ModelConfig.from_file(folder))
open("/proc/self/clear_refs", "w").write("5")  # VmHWM restarts from here
base = status("VmRSS")
model = load_model(folder, quantize=None if mode == "float32" else mode)
print(json.dumps({"peak": status("VmHWM") - base, "weights": weight_bytes(model)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's peak-RSS reset")
def test_loading_quantized_keeps_memory_near_the_quantized_size(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args):
        proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), *args], capture_output=True,
                              text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    run("write")
    float32, int8, int4 = run("float32"), run("int8"), run("int4")
    assert float32["weights"] > 0.99 * (tmp_path / "model.safetensors").stat().st_size
    for q in (int8, int4):
        # the quantized weights, plus what the mapped file holds between releases (up to twice the 16 MiB
        # window here) and the float temporaries of one chunk being quantized; never the float32 model
        assert q["peak"] < q["weights"] + 64 * 2**20, (q, float32)
        assert q["peak"] < 0.5 * float32["weights"], (q, float32)
    print(float32, int8, int4)


# ---- the switches ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chat_checkpoint(tmp_path_factory):
    from tests.local_model.lm_testing import make_checkpoint

    path = make_checkpoint(tmp_path_factory.mktemp("quant_chat"), "v2_lite", seed=7)[0]
    make_tokenizer(path, DEEPSEEK_TEMPLATE)
    return path


def test_generate_command_line_quantizes(chat_checkpoint):
    proc = subprocess.run([sys.executable, "-m", "local_model", "generate", "--checkpoint", str(chat_checkpoint),
                           "--prompt", "hello", "--max-new-tokens", "4", "--quantize", "int4", "--stats"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "generated" in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "local_model", "serve", "--model", str(chat_checkpoint),
                          "--quantize", "int3"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert bad.returncode == 2 and "int3" in bad.stderr and "int8" in bad.stderr


def test_ama_serve_passes_quantize_on(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import agent.models.local
    from agent.cli.main import app
    from local_model.__main__ import build_parser

    assert "--quantize" in CliRunner().invoke(app, ["serve", "--help"]).output
    seen = []
    monkeypatch.setattr(agent.models.local, "serve", lambda argv: seen.append(argv) or 0)  # the engine's entry point
    result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path), "--quantize", "int4"])
    assert result.exit_code == 0, result.output
    args = build_parser().parse_args(["serve", *seen[0]])
    assert args.quantize == "int4" and args.model == str(tmp_path)


def test_local_provider_quantizes_through_its_environment_variable(chat_checkpoint, monkeypatch):
    pytest.importorskip("fastapi")
    from agent.core.errors import BadInput
    from agent.models.registry import resolve_model

    monkeypatch.setenv("AMA_LOCAL_QUANTIZE", "int3")
    with pytest.raises(BadInput, match="int3.*AMA_LOCAL_QUANTIZE"):
        resolve_model(f"local:{chat_checkpoint}")
    monkeypatch.setenv("AMA_LOCAL_QUANTIZE", "int8")
    monkeypatch.setenv("AMA_LOCAL_MAX_LEN", "256")
    model = resolve_model(f"local:{chat_checkpoint}")
    engine = model.local_engine
    try:
        assert {m.mode for m in engine.model.modules() if isinstance(m, (QuantLinear, QuantExperts))} == {"int8"}
        assert list(engine.generate([1, 2, 3], max_new_tokens=3))  # and it serves
    finally:
        engine.stop()


@pytest.mark.slow
def test_benchmark_script_runs_small(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/bench_quant.py"), "--small", "--contexts", "32",
                           "--decode-tokens", "2", "--prompts", "1", "--prompt-len", "20", "--no-kernels",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    rows = {(r["config"], r["mode"]): r for r in results["correctness"]}
    assert {mode for _, mode in rows} == set(MODES)
    for r in rows.values():
        assert r["prefill_rel"] < 1e-4 and r["decode_rel"] < 1e-4 and r["bound_ratio"] <= SLACK
        assert 0 <= r["top1"] <= r["top5"] <= 1 and r["kl"] >= 0
    for speed in results["speed"].values():
        assert set(speed) == {"float32", "bfloat16", "int8", "int4"}
        for s in speed.values():
            assert s["weight_bytes"] > 0 and s["peak_rss"] > 0
            assert all(r["decode_tps"] > 0 and r["bound_tps"] > 0 for r in s["rows"])
        assert speed["int4"]["weight_bytes"] < speed["int8"]["weight_bytes"] < speed["bfloat16"]["weight_bytes"]
    assert "| config | mode |" in proc.stdout


@pytest.mark.slow
def test_benchmark_script_gpu_path_runs_on_cpu():
    """--gpu builds its models in memory and quantizes them with quantize_model: held here on CPU (--small; the
    Qwen3-MoE config, the one Qwen3-30B-A3B's dimensions replace on a device)."""
    proc = subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/bench_quant.py"), "--gpu", "--small", "--device",
                           "cpu", "--family", "qwen3", "--contexts", "32", "--decode-tokens", "2", "--prompts", "1",
                           "--prompt-len", "20", "--no-kernels"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for mode in ("bfloat16", "int8", "int4"):
        assert f"| qwen3-moe-shaped | {mode} | 32 |" in proc.stdout
    assert "v2-lite-shaped" not in proc.stdout
