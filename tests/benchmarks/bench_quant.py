"""Benchmark: weight-only int8 / int4 quantization beside float32 and bfloat16, one run.

Run explicitly (pytest does not collect it):

    python tests/benchmarks/bench_quant.py            # the V2-Lite-shaped CPU config, one thread (minutes)
    python tests/benchmarks/bench_quant.py --small    # a quick CPU check (seconds)
    python tests/benchmarks/bench_quant.py --gpu      # real dimensions (DeepSeek-V2-Lite; Qwen3-30B-A3B
                                                      # where local_model reads Qwen3-MoE), bf16 vs int8/int4, CUDA

Per config (random weights; the CPU configs from a float32 checkpoint written to a temporary folder):

1. Correctness, in-process. The quantized model's logits against those of a float32 model built from
   its dequantized weights (local_model.quant.dequantized_model): teacher-forced prompts through a
   full forward (prefill path) and the last tokens of one prompt through the cache one at a time
   (decode path: our C kernels on CPU), max |difference| / max |reference|; and every weight's
   quantization error against its bound (int8: half its row's scale; int4: half its group's).
2. Fidelity against float32 (bfloat16 on --gpu), teacher-forced on the same random prompts,
   position by position: top-1 agreement, whether the quantized top-1 is in the float top-5, and
   the mean KL(float || quantized) of the next-token distributions.
3. Speed and memory (from a checkpoint with one tensor per expert, as published ones are; with
   --fused-experts, stacked as transformers 5 writes them), each mode in a fresh process (so each peak RSS is its own, loading included):
   batch-1 decode tok/s at each context (the prompt prefilled in the engine's 1,024-token chunks;
   tok/s = 1 / the median of individually timed steps); the decode bound, bytes touched per token
   (every weight but the embedding, K of E routed experts per MoE layer, the cache rows) / the
   memory read bandwidth sampled after each timed step (a sum over 0.5 GiB, median); weight bytes;
   peak RSS of the process (less the 0.5 GiB bandwidth probe), and its growth above the base: the
   level before loading, once torch has set itself up (what the model, its cache and activations
   cost), up to each context. Each mode runs --rounds times, alternating with the others; per
   context the fastest round counts. On --gpu: max_memory_allocated instead of RSS.
4. Kernels (CPU): one 8192x2048 product, one thread, batch 1, weights cycled so they come from
   DRAM: float32 F.linear and local_model.kernels.linear, torch's packed int8/int4 CPU kernels with
   float32 and bfloat16 activations, ours.

Two configs run: the V2-Lite-shaped one of bench_local_engine.py and a Qwen3-MoE-shaped one
(--family picks one of them).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tests.benchmarks.bench_local_engine import ISSUE_CPU, SMALL, V2_LITE, BandwidthProbe, sync  # noqa: E402

from local_model import KernelPolicy, load_model  # noqa: E402
from local_model.config import ModelConfig  # noqa: E402
from local_model.moe import Experts  # noqa: E402
from local_model.quant import (GROUP, QuantExperts, QuantLinear, dequantized_model, quantize_model,  # noqa: E402
                               weight_bytes)
from local_model.random_init import random_model  # noqa: E402

MODES = ("float32", "bfloat16", "int8", "int4")
QUANT_MODES = ("int8", "int4")
PREFILL_CHUNK = 1024  # as the engine prefills (EngineConfig.prefill_chunk)
PROBE_GIB = 0.5

# Qwen3-MoE-shaped (Qwen3-30B-A3B's structure: GQA 4 kv heads with q/k norms, 128 experts top-8,
# no shared experts, renormalised weights; dims shrunk for one CPU core), transformers' key names.
QWEN3_CPU = dict(
    model_type="qwen3_moe", vocab_size=32000, hidden_size=1024, intermediate_size=3072, moe_intermediate_size=384,
    num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=4, head_dim=64, num_experts=64,
    num_experts_per_tok=8, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], rope_theta=1000000.0,
    rms_norm_eps=1e-6, max_position_embeddings=8192, tie_word_embeddings=False,
)
QWEN3_SMALL = {**QWEN3_CPU, "vocab_size": 2000, "hidden_size": 256, "moe_intermediate_size": 128,
               "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
               "num_experts": 16, "num_experts_per_tok": 4, "intermediate_size": 512}
QWEN3_30B = {**QWEN3_CPU, "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
             "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
             "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128, "max_position_embeddings": 40960}


def configs(small: bool, gpu: bool, family: str = "both") -> dict[str, dict]:
    """name -> raw config (transformers keys) of the families asked for."""
    v2 = {"model_type": "deepseek_v2", **(SMALL if small else V2_LITE if gpu else ISSUE_CPU)}
    qwen = QWEN3_SMALL if small else QWEN3_30B if gpu else QWEN3_CPU
    real = gpu and not small
    out = {}
    if family in ("deepseek", "both"):
        out["DeepSeek-V2-Lite" if real else "v2-lite-shaped"] = v2
    if family in ("qwen3", "both"):
        out["Qwen3-30B-A3B" if real else "qwen3-moe-shaped"] = qwen
    return out


# ---- memory ------------------------------------------------------------------------------

def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> None:
    """Linux: make VmHWM (the peak resident set) restart from the current resident set."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ---- checkpoints ---------------------------------------------------------------------------

def write_checkpoint(raw: dict, folder: Path, seed: int = 0, fused: bool = False) -> Path:
    """A random float32 checkpoint of `raw` in `folder`, laid out as the published ones are: HF names,
    one tensor per expert and projection (fused: each layer's experts stacked in two tensors, as
    transformers 5 writes them)."""
    from safetensors.torch import save_file

    config = ModelConfig.from_dict(raw)
    model = random_model(config, "cpu", torch.float32, seed=seed)
    tensors = {}
    for name, p in model.named_parameters():
        if config.tie_word_embeddings and name == "lm_head.weight":
            continue
        prefix = "" if name.startswith("lm_head") else "model."
        if fused:
            tensors[prefix + name] = p.contiguous()
        elif name.endswith("experts.gate_up_proj"):
            inter = p.shape[1] // 2
            for e in range(p.shape[0]):
                tensors[f"{prefix}{name[:-len('gate_up_proj')]}{e}.gate_proj.weight"] = p[e, :inter].contiguous()
                tensors[f"{prefix}{name[:-len('gate_up_proj')]}{e}.up_proj.weight"] = p[e, inter:].contiguous()
        elif name.endswith("experts.down_proj"):
            for e in range(p.shape[0]):
                tensors[f"{prefix}{name[:-len('down_proj')]}{e}.down_proj.weight"] = p[e].contiguous()
        else:
            tensors[prefix + name] = p.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(raw))
    del model, tensors
    gc.collect()
    return folder


# ---- correctness and fidelity --------------------------------------------------------------

def error_bound_ratio(quantized, original) -> float:
    """max over every quantized weight of |w - dequantized| / (its step / 2), w the original's weight:
    <= 1 within the bound."""
    worst = 0.0
    ref_params = dict(original.named_parameters())
    for name, module in quantized.named_modules():
        if isinstance(module, QuantLinear):
            pairs = [(ref_params[f"{name}.weight"], module.quantized())]
        elif isinstance(module, QuantExperts):
            pairs = [(ref_params[f"{name}.{proj}_proj"][e], module.quantized(proj, e))
                     for proj in ("gate_up", "down") for e in range(module.n_experts)]
        else:
            continue
        for w, q in pairs:
            err = (w.double() - q.dequantize().double()).abs()
            if q.mode == "int8":
                step = q.scale[:, None].expand_as(err).double()
            else:
                step = q.scale.repeat_interleave(GROUP, dim=-1)[:, : q.in_features].double()
            ratio = err / (step / 2).clamp_min(1e-30)
            worst = max(worst, float(ratio.max()))
    return worst


def teacher_forced(model, prompts: torch.Tensor) -> torch.Tensor:
    """Logits [P, T, V] float32 of every position of every prompt, one full forward per prompt."""
    return torch.cat([model(p[None]).float() for p in prompts])


def decode_logits(model, prompt: torch.Tensor, last: int) -> torch.Tensor:
    """The logits [last, V] of the prompt's last `last` tokens fed one at a time through the cache."""
    cache = model.new_cache(1, prompt.numel() + 1)
    model(prompt[None, :-last], cache)
    return torch.cat([model(prompt[None, i : i + 1], cache)[0].float() for i in range(prompt.numel() - last,
                                                                                     prompt.numel())])


def fidelity(base: torch.Tensor, quant: torch.Tensor) -> dict[str, float]:
    """Teacher-forced comparison of logits [..., V] position by position."""
    base, quant = base.reshape(-1, base.shape[-1]).float(), quant.reshape(-1, quant.shape[-1]).float()
    top1 = quant.argmax(-1)
    agree = (top1 == base.argmax(-1)).float().mean().item()
    in_top5 = (base.topk(5, dim=-1).indices == top1[:, None]).any(-1).float().mean().item()
    p_log, q_log = base.log_softmax(-1), quant.log_softmax(-1)
    kl = (p_log.exp() * (p_log - q_log)).sum(-1).mean().item()
    return {"top1": agree, "top5": in_top5, "kl": kl, "positions": base.shape[0]}


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max())


def correctness_rows(name: str, base_model, quantized_models, prompts, decode_last: int, exact: bool) -> list[dict]:
    """Rows of sections 1 and 2 for one config; quantized_models yields (mode, model)."""
    base = teacher_forced(base_model, prompts)
    rows = []
    for mode, q in quantized_models:
        row = {"config": name, "mode": mode}
        logits = teacher_forced(q, prompts)
        row.update(fidelity(base, logits))
        if exact:  # on CPU: the quantized model against the float32 model of its dequantized weights
            ref = dequantized_model(q)
            row["prefill_rel"] = rel_diff(logits, teacher_forced(ref, prompts))
            row["decode_rel"] = rel_diff(decode_logits(q, prompts[0], decode_last),
                                         decode_logits(ref, prompts[0], decode_last))
            row["bound_ratio"] = error_bound_ratio(q, base_model)
            del ref
        rows.append(row)
        print(f"  {name} {mode}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in row.items() if k not in ("config", "mode")), flush=True)
        del q, logits
        gc.collect()
    return rows


# ---- speed -----------------------------------------------------------------------------------

def decode_weight_bytes(model) -> float:
    """Weight bytes one batch-1 decode step reads: all but the embedding (one row), K of E routed experts."""
    config = model.config
    total = float(weight_bytes(model))
    if not config.tie_word_embeddings:
        emb = model.embed_tokens.weight
        total -= emb.nbytes - emb[0].nbytes
    for module in model.modules():
        if isinstance(module, Experts):
            expert_bytes = sum(t.nbytes for t in list(module.parameters()) + list(module.buffers()))
            total -= expert_bytes * (1 - config.num_experts_per_tok / module.n_experts)
    return total


def measure_speed(model, contexts, steps, device, probe, rss_offset: int = 0) -> list[dict]:
    """Batch-1 decode at each context: tok/s, bytes per step, bandwidth, bound, and the peak RSS so far
    less `rss_offset` (CPU)."""
    rows = []
    weights = decode_weight_bytes(model)
    g = torch.Generator().manual_seed(0)
    model(torch.zeros(1, 8, dtype=torch.long, device=device))  # warm-up: kernels built, pages touched
    for context in contexts:
        cache = model.new_cache(1, context + steps + 2)
        ids = torch.randint(0, model.config.vocab_size, (1, context), generator=g).to(device)
        for c0 in range(0, context, PREFILL_CHUNK):
            logits = model(ids[:, c0 : c0 + PREFILL_CHUNK], cache, last_only=True)
        token = logits[:, -1].argmax(-1, keepdim=True)
        token = model(token, cache)[:, -1].argmax(-1, keepdim=True)  # warm-up step
        probe.samples = []
        times = []
        for _ in range(steps):
            sync(device)
            t = time.perf_counter()
            token = model(token, cache)[:, -1].argmax(-1, keepdim=True)
            sync(device)
            times.append(time.perf_counter() - t)
            probe.sample()
        bandwidth = probe.take()
        step_bytes = weights + (context + steps // 2) * cache.bytes_per_token()
        tps = 1 / statistics.median(times)
        rows.append({"context": context, "decode_tps": tps, "bandwidth_gbs": bandwidth / 1e9,
                     "step_mb": step_bytes / 1e6, "bound_tps": bandwidth / step_bytes,
                     "peak_above_base": _status("VmHWM") - rss_offset})
        del cache
        gc.collect()
    return rows


def warm_up(raw: dict) -> None:
    """torch's one-time set-up, the same for every mode (its meta-device and CPU ops import ~70 MB of
    Python on first use): done before the baseline, so that "above base" is what the model costs."""
    from local_model.model import DeepseekModel
    from local_model.quant import quantize_int4, quantize_int8

    quantize_int8(torch.randn(256, 256)), quantize_int4(torch.randn(256, 256))
    with torch.device("meta"):
        DeepseekModel(ModelConfig.from_dict(raw))
    gc.collect()


def worker(args) -> int:
    """One mode, one fresh process: load, decode, report one JSON line."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    raw = json.loads(args.raw) if args.raw else json.loads((Path(args.folder) / "config.json").read_text())
    warm_up(raw)
    reset_peak_rss()
    base_rss = _status("VmRSS")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    mode = args.worker
    t = time.perf_counter()
    if args.folder:
        dtype = "bfloat16" if mode == "bfloat16" else "float32"
        model = load_model(args.folder, device=device, dtype=dtype, kernels=KernelPolicy(quant_cpu=args.cpu_kernels),
                           quantize=mode if mode in QUANT_MODES else None)
    else:  # --gpu: built in memory (a checkpoint of the real dimensions would take longer to write than to run)
        config = ModelConfig.from_dict(raw)
        model = random_model(config, device, torch.bfloat16 if mode != "float32" else torch.float32)
        if mode in QUANT_MODES:
            quantize_model(model, mode)
    load_s = time.perf_counter() - t
    gc.collect()
    load_peak = _status("VmHWM") - base_rss
    probe = BandwidthProbe(device, 4.0 if device.type == "cuda" else PROBE_GIB)
    probe_bytes = probe.x.nbytes if device.type == "cpu" else 0
    reset_peak_rss()  # from here the peak includes the probe, which is taken off
    rows = measure_speed(model, args.contexts, args.decode_tokens, device, probe, probe_bytes + base_rss)
    decode_peak = _status("VmHWM") - probe_bytes - base_rss
    out = {"mode": mode, "weight_bytes": weight_bytes(model), "load_s": load_s, "rows": rows,
           "base_rss": base_rss, "load_peak_above_base": load_peak,
           "peak_above_base": max(load_peak, decode_peak), "peak_rss": base_rss + max(load_peak, decode_peak)}
    for r in rows:  # the peak so far: loading, then decoding up to this context
        r["peak_above_base"] = max(load_peak, r["peak_above_base"])
    if device.type == "cuda":
        out["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    from local_model import quant_cpu
    variant = getattr(getattr(model, "kernels", None), "quant_cpu", None)
    lib = quant_cpu.library(variant) if variant else None
    out["cpu_kernels"] = quant_cpu.isa(lib) if lib is not None else f"unavailable: {quant_cpu.unavailable()}"
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def run_worker(mode: str, args, folder: Path | None, raw: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--threads", str(args.threads), "--device", args.device,
           "--cpu-kernels", args.cpu_kernels,
           "--decode-tokens", str(args.decode_tokens), "--contexts", ",".join(map(str, args.contexts))]
    cmd += ["--folder", str(folder)] if folder else ["--raw", json.dumps(raw)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"worker {mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# ---- kernels -----------------------------------------------------------------------------------

def kernel_rows(n: int = 8192, k: int = 2048, copies: int = 8) -> list[tuple[str, float, float]]:
    """(kernel, ms per product, GB/s of weight read) for one row times an [n, k] weight, one thread."""
    from local_model import quant_cpu
    from local_model.kernels import KernelPolicy, linear
    from local_model.quant import quantize_int4, quantize_int8

    torch.set_num_threads(1)
    x = torch.randn(1, k)
    w32 = [torch.randn(n, k) / k**0.5 for _ in range(max(2, copies // 4))]  # 64 MiB each: DRAM anyway
    q8 = [quantize_int8(torch.randn(n, k)) for _ in range(copies)]  # copies x 16 MiB: more than the caches
    q4 = [quantize_int4(torch.randn(n, k)) for _ in range(copies * 2)]

    def int4_stock(parts):  # torch's CPU int4 format, from the same integers
        packed, scale, offset = parts
        p = packed.view(n, k // GROUP, GROUP // 2)
        values = torch.cat((p & 15, p >> 4), -1).view(n, k).to(torch.int32)
        sz = torch.stack((scale, offset + 8 * scale), -1).transpose(0, 1).contiguous()
        return torch._convert_weight_to_int4pack_for_cpu(values, 1), sz

    stock4 = [int4_stock(p) for p in q4[:copies]]
    policy = KernelPolicy(gemv="blocked")
    cases = [
        ("float32 F.linear", lambda i: F.linear(x, w32[i % len(w32)]), 4 * n * k),
        ("float32 kernels.linear, blocked", lambda i: linear(x, w32[i % len(w32)], policy), 4 * n * k),
        ("int8 torch._weight_int8pack_mm, f32 act", lambda i: torch._weight_int8pack_mm(x, q8[i % copies][0],
                                                                                          q8[i % copies][1]), n * k),
        ("int8 torch._weight_int8pack_mm, bf16 act", lambda i: torch._weight_int8pack_mm(
            x.bfloat16(), q8[i % copies][0], q8[i % copies][1].bfloat16()).float(), n * k),
        ("int4 torch._weight_int4pack_mm_for_cpu, f32 act", lambda i: torch._weight_int4pack_mm_for_cpu(
            x, stock4[i % copies][0], GROUP, stock4[i % copies][1]), n * k // 2),
        ("int4 torch._weight_int4pack_mm_for_cpu, bf16 act", lambda i: torch._weight_int4pack_mm_for_cpu(
            x.bfloat16(), stock4[i % copies][0], GROUP, stock4[i % copies][1].bfloat16()).float(), n * k // 2),
    ]
    for variant in ("native", "avx2"):  # the build for this CPU, and the AVX2 one (what an AVX2-only CPU runs)
        lib = quant_cpu.library(variant)
        if lib is None:
            continue
        label = f"ours, {quant_cpu.isa(lib)} build"
        cases += [(f"int8 {label}", lambda i, lib=lib: quant_cpu.q8_gemv(lib, x, *q8[i % copies]), n * k),
                  (f"int4 {label}", lambda i, lib=lib: quant_cpu.q4_gemv(lib, x, *q4[i % (2 * copies)]), n * k // 2)]
    from local_model.kernels import measured_gemv

    print(f"  (float32 decode's own pick on this machine: {measured_gemv(1)})", flush=True)
    out = []
    for name, fn, nbytes in cases:
        reps = 3 if "f32 act" in name and "int4" in name else 12
        for i in range(2):
            fn(i)
        times = []
        for i in range(reps):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
        ms = statistics.median(times) * 1e3
        out.append((name, ms, nbytes / ms / 1e6))
    return out


# ---- main ----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny configs: a quick check that everything runs")
    ap.add_argument("--gpu", action="store_true", help="real dimensions on CUDA, bf16 beside int8 and int4")
    ap.add_argument("--device", default=None, help="default: cuda with --gpu, else cpu")
    ap.add_argument("--contexts", default=None, help="comma-separated (default 512,4096; --small 64,256)")
    ap.add_argument("--decode-tokens", type=int, default=None, help="timed decode steps (default 16; --small 4)")
    ap.add_argument("--prompts", type=int, default=None, help="teacher-forced prompts (default 4; --small 2)")
    ap.add_argument("--prompt-len", type=int, default=None, help="tokens per prompt (default 128; --small 32)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--rounds", type=int, default=None, help="speed runs per mode, alternating; the best counts "
                                                              "(default 2; --small 1)")
    ap.add_argument("--no-kernels", action="store_true", help="skip the single-kernel comparison")
    ap.add_argument("--only-kernels", action="store_true", help="run only the single-kernel comparison")
    ap.add_argument("--fused-experts", action="store_true",
                    help="write the checkpoint's experts stacked (transformers 5), not one tensor per expert")
    ap.add_argument("--family", choices=("deepseek", "qwen3", "both"), default="both",
                    help="the V2-Lite-shaped config, the Qwen3-MoE-shaped one, or both (default)")
    ap.add_argument("--cpu-kernels", choices=("native", "avx2", "portable"), default="native",
                    help="the build of our CPU kernels the quantized modes decode with (default: native, the one "
                         "for this CPU; avx2: what a CPU without AVX-512 runs)")
    ap.add_argument("--json", type=Path, help="also write every row here")
    ap.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--raw", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.device = args.device or ("cuda" if args.gpu else "cpu")
    args.contexts = [int(c) for c in (args.contexts or ("64,256" if args.small else "512,4096")).split(",")]
    args.decode_tokens = args.decode_tokens or (4 if args.small else 16)
    args.rounds = args.rounds or (1 if args.small else 2)
    if args.worker:
        return worker(args)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_prompts = args.prompts or (2 if args.small else 4)
    prompt_len = args.prompt_len or (32 if args.small else 128)
    in_memory = args.gpu  # --gpu: models built in memory; CPU: from a checkpoint on disk
    modes = ("bfloat16", "int8", "int4") if args.gpu else MODES
    print(f"device {device}, {args.threads} thread(s); modes {', '.join(modes)}", flush=True)
    results: dict = {"correctness": [], "speed": {}, "kernels": []}
    tmp = tempfile.TemporaryDirectory(prefix="bench_quant_")
    for name, raw in ({} if args.only_kernels else configs(args.small, args.gpu, args.family)).items():
        config = ModelConfig.from_dict(raw)
        print(f"\n== {name}: hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
              f"{config.n_routed_experts} experts top-{config.num_experts_per_tok}, vocab {config.vocab_size}",
              flush=True)
        g = torch.Generator().manual_seed(1)
        prompts = torch.randint(0, config.vocab_size, (n_prompts, prompt_len), generator=g).to(device)
        decode_last = min(16, prompt_len - 1)
        folder = None
        if in_memory:
            base_dtype = torch.bfloat16
            base = random_model(config, device, base_dtype)
            quantized = ((m, quantize_model(random_model(config, device, base_dtype), m)) for m in QUANT_MODES)
        else:
            folder = write_checkpoint(raw, Path(tmp.name) / name, fused=args.fused_experts)
            base = load_model(folder, device=device, dtype=torch.float32)
            quantized = ((m, load_model(folder, device=device, dtype=torch.float32, quantize=m)) for m in QUANT_MODES)
        print("correctness and fidelity (teacher-forced, "
              f"{n_prompts} prompts x {prompt_len} tokens; decode path: the last {decode_last} tokens of one):",
              flush=True)
        results["correctness"] += correctness_rows(name, base, quantized, prompts, decode_last, exact=not in_memory)
        del base, quantized
        gc.collect()
        print("speed and memory (each mode in a fresh process):", flush=True)
        speed = results["speed"][name] = {}
        for round_ in range(args.rounds):  # modes alternate, so that a drifting machine hits each alike
            for mode in modes:
                got = run_worker(mode, args, folder, raw)
                if mode in speed:  # per context, the round where this mode decoded fastest
                    got["rows"] = [max(a, b, key=lambda r: r["decode_tps"]) for a, b in zip(speed[mode]["rows"], got["rows"])]
                speed[mode] = got
                print(f"  round {round_ + 1}: {mode} done", flush=True)
        for mode in modes:
            for r in speed[mode]["rows"]:
                print(f"  {mode:8s} ctx {r['context']:5d}: decode {r['decode_tps']:7.2f} tok/s, bound "
                      f"{r['bound_tps']:7.2f} ({r['decode_tps'] / r['bound_tps']:.0%}) at {r['bandwidth_gbs']:.1f} GB/s, "
                      f"{r['step_mb']:.0f} MB/step", flush=True)
            s = speed[mode]
            print(f"  {mode:8s} weights {s['weight_bytes'] / 2**20:,.0f} MiB, peak RSS {s['peak_rss'] / 2**20:,.0f} MiB "
                  f"(+{s['peak_above_base'] / 2**20:,.0f} above import), load {s['load_s']:.1f} s "
                  f"(+{s['load_peak_above_base'] / 2**20:,.0f} MiB); CPU kernels: {s['cpu_kernels']}", flush=True)
        if folder is not None:
            for f in folder.iterdir():
                f.unlink()
    if device.type == "cpu" and not args.no_kernels:
        print("\nkernels: one row x an 8192x2048 weight, one thread, weights from DRAM", flush=True)
        results["kernels"] = kernel_rows(1024 if args.small else 8192, 512 if args.small else 2048)
        for kname, ms, gbs in results["kernels"]:
            print(f"  {kname:50s} {ms:8.3f} ms  {gbs:6.1f} GB/s", flush=True)
    print()
    print(tables(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    tmp.cleanup()
    return 0


def tables(results: dict, args) -> str:
    lines = ["| config | mode | top-1 agree | q top-1 in f top-5 | mean KL | logits vs dequantized f32: prefill / decode "
             "| worst error / bound |", "|---|---|---|---|---|---|---|"]
    for r in results["correctness"]:
        exact = (f"{r['prefill_rel']:.1e} / {r['decode_rel']:.1e}" if "prefill_rel" in r else "-")
        bound = f"{r['bound_ratio']:.6f}" if "bound_ratio" in r else "-"
        lines.append(f"| {r['config']} | {r['mode']} | {r['top1']:.1%} | {r['top5']:.1%} | {r['kl']:.4f} | {exact} "
                     f"| {bound} |")
    lines += ["", f"| config | mode | context | decode tok/s | × {'bfloat16' if args.gpu else 'float32'} | bound tok/s | ours / bound | GB/s "
              "| weights MiB | peak RSS MiB above base, up to this context |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, speed in results["speed"].items():
        base = speed.get("float32") or speed.get("bfloat16")
        for mode, s in speed.items():
            for r, b in zip(s["rows"], base["rows"]):
                mem = (f"{r['peak_above_base'] / 2**20:,.0f}" if "cuda_peak" not in s
                       else f"cuda peak {s['cuda_peak'] / 2**20:,.0f}")
                lines.append(f"| {name} | {mode} | {r['context']} | {r['decode_tps']:.2f} | "
                             f"{r['decode_tps'] / b['decode_tps']:.2f}× | {r['bound_tps']:.2f} | "
                             f"{r['decode_tps'] / r['bound_tps']:.0%} | {r['bandwidth_gbs']:.1f} | "
                             f"{s['weight_bytes'] / 2**20:,.0f} | {mem} |")
        if "float32" in speed:
            f32 = speed["float32"]
            lines.append("")
            for mode, floor in (("int8", 1.5), ("int4", 2.0)):
                ratio = speed[mode]["rows"][0]["decode_tps"] / f32["rows"][0]["decode_tps"]
                lines.append(f"{name}: {mode} decode at {args.contexts[0]} = {ratio:.2f}× float32 "
                             f"(target ≥ {floor}×: {'met' if ratio >= floor else 'MISSED'})")
            for label, get in (("weights", lambda s: s["weight_bytes"]),
                               (f"peak RSS above base up to context {args.contexts[0]}",
                                lambda s: s["rows"][0]["peak_above_base"]),
                               ("peak RSS above base, whole run", lambda s: s["peak_above_base"]),
                               ("process peak RSS, whole run", lambda s: s["peak_rss"])):
                ratio = get(speed["int8"]) / get(f32)
                lines.append(f"{name}: int8 {label} = {ratio:.2f}× float32's "
                             f"(target ≤ 0.35×: {'met' if ratio <= 0.35 else 'MISSED'})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
