"""Benchmark: our local engine against transformers' own DeepSeek-V2 (or Qwen3-MoE) implementation.

Run explicitly (pytest does not collect it):

    python tests/benchmarks/bench_local_engine.py            # the issue's CPU config (minutes)
    python tests/benchmarks/bench_local_engine.py --small    # a quick CPU check (seconds)
    python tests/benchmarks/bench_local_engine.py --gpu      # DeepSeek-V2-Lite dims, bf16, CUDA
    python tests/benchmarks/bench_local_engine.py --family qwen3 [--small | --gpu]
        # Qwen3-MoE: a Qwen3-30B-A3B-shaped CPU config (halved), tiny, or Qwen3-30B-A3B's own dims

In one run, on one random-weight model, with the same prompt and output lengths:
prefill and decode tokens/s at each batch and context, KV-cache bytes/token and peak
memory, ours beside the reference; the machine's memory read bandwidth, measured here,
and the decode bound it implies (bytes touched per decode step / bandwidth); ratios
ours/reference and ours/bound.

How things are measured (all greedy, random prompt ids):
* prefill: one forward over [B, context] ids, tokens/s = B * context / time. With
  `--prefill-max-tokens` (default 8192 on CPU) larger batches are not prefilled; the
  batch-B decode cache is then the batch-1 prefill replicated B times (decode speed does
  not depend on what the cache holds).
* decode: `--decode-tokens` steps after a warm-up step, each timed alone; tokens/s = B /
  the median step time.
* peak memory: CUDA: max_memory_allocated above the weights; CPU: the peak of the resident
  set (sampled every 5 ms) above its level before the measurement.
* bound: per step every non-expert weight, the shared experts, and the routed experts
  the batch touches (E * (1 - (1 - K/E)^B) of them in expectation per MoE layer) are read
  once, plus B * context cache rows (MLA: the latent and the shared key; GQA: 2 x kv heads
  x head_dim); bound tokens/s = B * bandwidth / those bytes. The
  bandwidth is sampled after each of our timed decode steps (a sum over 0.5 GiB, 4 GiB on
  CUDA) and its median used, so a step and the bandwidth it is held to come from the same
  minutes of a machine whose bandwidth drifts.
* allocator: the engine keeps freed memory in the process (local_model/allocator.py); the
  setting is made before either side runs, so the reference runs with it too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from local_model import load_model  # noqa: E402
from local_model.allocator import release_freed_memory, retain_freed_memory  # noqa: E402
from local_model.config import ModelConfig  # noqa: E402
from local_model.random_init import random_model  # noqa: E402

# transformers-style config keys; ModelConfig.from_dict reads the same dict.
ISSUE_CPU = dict(  # the issue's V2-Lite-shaped CPU config
    vocab_size=32000, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=704, num_hidden_layers=8,
    num_attention_heads=16, q_lora_rank=None, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64,
    v_head_dim=128, n_routed_experts=32, n_shared_experts=2, num_experts_per_tok=6, first_k_dense_replace=1,
    topk_method="greedy", norm_topk_prob=False, routed_scaling_factor=1.0, max_position_embeddings=8192,
    rope_theta=10000.0, rms_norm_eps=1e-6,
)
SMALL = {**ISSUE_CPU, "vocab_size": 2000, "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 128,
         "num_hidden_layers": 3, "num_attention_heads": 4, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
         "qk_rope_head_dim": 16, "v_head_dim": 32, "n_routed_experts": 8, "num_experts_per_tok": 2}
V2_LITE = {**ISSUE_CPU, "vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944,
           "moe_intermediate_size": 1408, "num_hidden_layers": 27, "n_routed_experts": 64}
QWEN3_30B = dict(  # Qwen3-30B-A3B / Qwen3-Coder-30B-A3B-Instruct
    vocab_size=151936, hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768, num_hidden_layers=48,
    num_attention_heads=32, num_key_value_heads=4, head_dim=128, num_experts=128, num_experts_per_tok=8,
    decoder_sparse_step=1, mlp_only_layers=[], norm_topk_prob=True, max_position_embeddings=40960,
    rope_theta=1000000.0, rms_norm_eps=1e-6,
)
QWEN3_CPU = {**QWEN3_30B, "vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 3072,  # halved, 8 layers
             "moe_intermediate_size": 384, "num_hidden_layers": 8, "num_attention_heads": 16,
             "num_key_value_heads": 2, "num_experts": 64, "max_position_embeddings": 8192}
QWEN3_SMALL = {**QWEN3_CPU, "vocab_size": 2000, "hidden_size": 256, "intermediate_size": 512,
               "moe_intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4, "head_dim": 64,
               "num_experts": 8, "num_experts_per_tok": 2, "mlp_only_layers": [0]}
# (family, preset) -> (config keys, model_type)
CONFIGS = {("deepseek", "cpu"): (ISSUE_CPU, "deepseek_v2"), ("deepseek", "small"): (SMALL, "deepseek_v2"),
           ("deepseek", "gpu"): (V2_LITE, "deepseek_v2"), ("qwen3", "cpu"): (QWEN3_CPU, "qwen3_moe"),
           ("qwen3", "small"): (QWEN3_SMALL, "qwen3_moe"), ("qwen3", "gpu"): (QWEN3_30B, "qwen3_moe")}


@dataclass
class Row:
    impl: str
    batch: int
    context: int
    prefill_tps: float | None
    decode_tps: float
    cache_bytes_per_token: float
    peak_mib: float
    bound_tps: float
    bandwidth_gbs: float


# ---- the machine ---------------------------------------------------------------------

def read_bandwidth(device: torch.device, gib: float = 1.0, repeats: int = 7) -> float:
    """Bytes/s of a streaming read (a sum over a large tensor), best of `repeats`."""
    probe = BandwidthProbe(device, gib)
    for _ in range(repeats):
        probe.sample()
    return max(probe.samples)


class BandwidthProbe:
    """Reads of a large tensor taken between decode steps: the bandwidth the steps actually had.

    The machine's bandwidth drifts (other tenants on a VM host); sampling it during each
    measurement, and taking medians of both the steps and the samples, compares a step
    with the bandwidth of the same moments.
    """

    def __init__(self, device: torch.device, gib: float):
        self.device = device
        self.x = torch.ones(int(gib * 2**30) // 4, device=device)
        self.samples: list[float] = []

    def sample(self) -> None:
        sync(self.device)
        t = time.perf_counter()
        self.x.sum()
        sync(self.device)
        self.samples.append(self.x.nbytes / (time.perf_counter() - t))

    def take(self) -> float:
        """Median of the samples since the last take (bytes/s); clears them."""
        value, self.samples = statistics.median(self.samples), []
        return value


def timed_steps(step, steps: int, device: torch.device, probe: "BandwidthProbe | None") -> float:
    """Median seconds of `steps` calls of step(), each timed alone, a bandwidth sample after each."""
    times = []
    for _ in range(steps):
        sync(device)
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
        if probe is not None:
            probe.sample()
    return statistics.median(times)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator stats, or sampled RSS on CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def __enter__(self):
        gc.collect()
        release_freed_memory()  # RSS then holds only live memory: what the measurement adds is its own
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.base = _rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss() - self.base)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss() - self.base)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---- the decode bound ------------------------------------------------------------------

def cache_width(config: ModelConfig) -> int:
    """Cache values per token and layer: MLA's latent + shared key, or GQA's keys + values."""
    if config.attention == "gqa":
        return 2 * config.num_key_value_heads * config.head_dim
    return config.kv_lora_rank + config.qk_rope_head_dim


def step_bytes(config: ModelConfig, batch: int, context: int, dtype_bytes: int) -> float:
    """Bytes a decode step of `batch` rows at `context` must read at least (weights + cache)."""
    d, h = config.hidden_size, config.num_attention_heads
    if config.attention == "gqa":  # q, k, v, o projections (the per-head norms are noise)
        attn = 2 * d * h * config.head_dim + 2 * d * config.num_key_value_heads * config.head_dim
    else:
        attn = (d * h * config.qk_head_dim if config.q_lora_rank is None
                else d * config.q_lora_rank + config.q_lora_rank * h * config.qk_head_dim)
        attn += d * (config.kv_lora_rank + config.qk_rope_head_dim)
        attn += config.kv_lora_rank * h * (config.qk_nope_head_dim + config.v_head_dim) + h * config.v_head_dim * d
    expert = 3 * d * config.moe_intermediate_size
    total = config.num_hidden_layers * attn + config.vocab_size * d  # lm_head (one embedding row is noise)
    for layer in range(config.num_hidden_layers):
        if config.is_moe_layer(layer):
            e, k = config.n_routed_experts, config.num_experts_per_tok
            touched = e * (1 - (1 - k / e) ** batch)
            total += (touched + config.n_shared_experts) * expert + 2 * e * d  # router weights are fp32
        else:
            total += 3 * d * config.intermediate_size
    cache = batch * context * config.num_hidden_layers * cache_width(config)
    return (total + cache) * dtype_bytes


# ---- the two implementations -----------------------------------------------------------

def run_ours(model, batch, context, steps, prefill, device, graphs=False, probe=None):
    """(prefill tok/s or None, decode tok/s, cache bytes/token, peak bytes) for our engine.

    graphs: decode through local_model.graphs.GraphedDecoder (CUDA graphs; eager elsewhere).
    probe: a BandwidthProbe sampled after every timed decode step.
    """
    g = torch.Generator().manual_seed(batch * 7919 + context)
    model(torch.zeros(1, 8, dtype=torch.long, device=device))  # warm-up: pages in mmap'd weights, kernels
    with PeakMemory(device) as mem:
        prefill_rows = batch if prefill else 1
        cache = model.new_cache(batch, context + steps + 1)
        ids = torch.randint(0, model.config.vocab_size, (prefill_rows, context), generator=g).to(device)
        sync(device)
        t = time.perf_counter()
        if prefill_rows == batch:
            logits = model(ids, cache, last_only=True)
        else:  # prefill one row, replicate it: the decode speed does not depend on the cache contents
            one = model.new_cache(1, context)
            logits = model(ids, one, last_only=True).expand(batch, -1, -1)
            tokens = cache.time_dim  # the token axis of either cache's tensor
            cache.kv.narrow(tokens, 0, context).copy_(one.kv.narrow(tokens, 0, context))  # row 0 to every row
            cache.lengths = [context] * batch
            del one
        sync(device)
        prefill_tps = prefill_rows * context / (time.perf_counter() - t) if prefill else None
        decode = model
        if graphs:
            from local_model.graphs import GraphedDecoder

            decode = GraphedDecoder(model, cache)
        token = logits[:, -1].argmax(-1, keepdim=True)
        token = decode(token, cache)[:, -1].argmax(-1, keepdim=True)  # warm-up (and graph capture)
        if graphs and decode.fallback:
            print(f"  CUDA graphs off, decoding eagerly: {decode.fallback}", file=sys.stderr)

        def step():
            nonlocal token
            token = decode(token, cache)[:, -1].argmax(-1, keepdim=True)

        decode_tps = batch / timed_steps(step, steps, device, probe)
        per_token = cache.bytes_per_token()
    return prefill_tps, decode_tps, per_token, mem.peak


def run_reference(model, batch, context, steps, prefill, device):
    """The same for transformers' model (its default attention and experts implementation)."""
    g = torch.Generator().manual_seed(batch * 7919 + context)
    vocab = model.config.vocab_size
    with torch.no_grad():
        model(input_ids=torch.zeros(1, 8, dtype=torch.long, device=device))  # warm-up
    with PeakMemory(device) as mem, torch.no_grad():
        prefill_rows = batch if prefill else 1
        ids = torch.randint(0, vocab, (prefill_rows, context), generator=g).to(device)
        sync(device)
        t = time.perf_counter()
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        sync(device)
        prefill_tps = prefill_rows * context / (time.perf_counter() - t) if prefill else None
        cache = out.past_key_values
        if prefill_rows != batch:
            cache.batch_repeat_interleave(batch)
        per_token = sum(t.nbytes for layer in cache.layers for t in (layer.keys, layer.values)) / (batch * context)
        token = out.logits[:, -1].argmax(-1, keepdim=True).expand(batch, 1).contiguous()
        del out
        token = model(input_ids=token, cache=cache, use_cache=True).logits[:, -1].argmax(-1, keepdim=True)

        def step():
            nonlocal token
            token = model(input_ids=token, cache=cache, use_cache=True).logits[:, -1].argmax(-1, keepdim=True)

        decode_tps = batch / timed_steps(step, steps, device, None)
    return prefill_tps, decode_tps, per_token, mem.peak


def build_checkpoint(config: dict, model_type: str, folder: Path, dtype: torch.dtype):
    """A random checkpoint written by transformers (so both sides read the same weights)."""
    import transformers

    arch = {"deepseek_v2": "DeepseekV2", "qwen3_moe": "Qwen3Moe"}[model_type]
    torch.manual_seed(0)
    hf = getattr(transformers, f"{arch}ForCausalLM")(getattr(transformers, f"{arch}Config")(**config))
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        for name, p in hf.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0, 0.1, generator=g)
            else:
                p.normal_(0.0, (1.0 if "embed_tokens" in name else p.shape[-1] ** -0.5), generator=g)
    hf.to(dtype).save_pretrained(folder)
    del hf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    preset = ap.add_mutually_exclusive_group()
    preset.add_argument("--small", action="store_true", help="a tiny config: a quick check that everything runs")
    preset.add_argument("--gpu", action="store_true", help="DeepSeek-V2-Lite (or Qwen3-30B-A3B) dimensions, random "
                                                           "bf16 weights, CUDA")
    ap.add_argument("--family", choices=("deepseek", "qwen3"), default="deepseek",
                    help="the model family: DeepSeek-V2 (MLA) or Qwen3-MoE (GQA)")
    ap.add_argument("--device", help="default: cuda with --gpu, else cpu")
    ap.add_argument("--dtype", default=None, help="default: bfloat16 with --gpu, else float32")
    ap.add_argument("--contexts", default=None, help="comma-separated (default 512,4096; --small 64,256)")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--decode-tokens", type=int, default=None, help="timed decode steps (default 16; --gpu 64)")
    ap.add_argument("--prefill-max-tokens", type=int, default=None,
                    help="prefill a batch only up to this many tokens, else replicate one row (default 8192 on CPU)")
    ap.add_argument("--no-reference", action="store_true", help="skip transformers (default with --gpu)")
    ap.add_argument("--reference", action="store_true", help="run transformers also with --gpu")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--no-cuda-graphs", action="store_true", help="on CUDA, decode eagerly (default: CUDA graphs)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if args.gpu else "cpu"))
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.gpu else "float32"))
    raw, model_type = CONFIGS[(args.family, "small" if args.small else "gpu" if args.gpu else "cpu")]
    config = ModelConfig.from_dict({"model_type": model_type, **raw})
    contexts = [int(c) for c in (args.contexts or ("64,256" if args.small else "512,4096")).split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    steps = args.decode_tokens or (64 if args.gpu else 4 if args.small else 16)
    prefill_max = args.prefill_max_tokens or (1 << 62 if device.type == "cuda" else 8192)
    with_reference = args.reference or not (args.no_reference or args.gpu)

    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"dtype {dtype}, config: {model_type}, hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
          f"{config.num_attention_heads} heads, "
          + (f"{config.num_key_value_heads} kv heads of {config.head_dim}" if config.attention == "gqa"
             else f"kv_lora {config.kv_lora_rank}")
          + f", {config.n_routed_experts} experts top-{config.num_experts_per_tok}, {config.n_shared_experts} shared, "
          f"vocab {config.vocab_size}", flush=True)
    retain_freed_memory()  # the engine's allocator setting, made before either side runs: both get it
    probe_gib = 4.0 if device.type == "cuda" else 0.5
    bandwidth = read_bandwidth(device, gib=2 * probe_gib)
    print(f"memory read bandwidth at the start: {bandwidth / 1e9:.1f} GB/s (best of 7); each row's bound uses "
          f"the median of reads taken between its decode steps", flush=True)
    probe = BandwidthProbe(device, probe_gib)

    impls = {}
    tmp = tempfile.TemporaryDirectory(prefix="bench_local_engine_")
    if with_reference:
        from transformers import AutoModelForCausalLM

        build_checkpoint(raw, model_type, Path(tmp.name), dtype)
        impls["ours"] = (load_model(tmp.name, device=device, dtype=dtype), run_ours)
        ref = AutoModelForCausalLM.from_pretrained(tmp.name, dtype=dtype).to(device).eval()
        impls["transformers"] = (ref, run_reference)
    else:
        impls["ours"] = (random_model(config, device, dtype), run_ours)
    graphs = device.type == "cuda" and not args.no_cuda_graphs

    rows: list[Row] = []
    dtype_bytes = torch.tensor([], dtype=dtype).element_size()
    for context in contexts:
        for batch in batches:
            bound = None
            for name, (model, run) in impls.items():  # ours first: its steps set the row's bandwidth
                prefill = batch * context <= prefill_max
                extra = {"graphs": graphs, "probe": probe} if run is run_ours else {}
                p, d, c, peak = run(model, batch, context, steps, prefill, device, **extra)
                if bound is None:
                    measured = probe.take()
                    bound = batch * measured / step_bytes(config, batch, context, dtype_bytes)
                rows.append(Row(name, batch, context, p, d, c, peak / 2**20, bound, measured / 1e9))
                r = rows[-1]
                print(f"  {name:12s} B={batch} ctx={context:5d}: prefill {_fmt(p)} tok/s, decode {d:8.2f} tok/s "
                      f"({d / bound:5.1%} of bound {bound:.1f} at {measured / 1e9:.1f} GB/s), cache {c:,.0f} B/token, "
                      f"peak +{r.peak_mib:,.0f} MiB", flush=True)
    print()
    print(_table(rows, with_reference))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    expected = cache_width(config) * config.num_hidden_layers * dtype_bytes
    ours_cache = {r.cache_bytes_per_token for r in rows if r.impl == "ours"}
    formula = "2 x kv_heads x head_dim" if config.attention == "gqa" else "(R + Dr)"
    print(f"\ncache bytes/token expected {formula} x layers x {dtype_bytes} = {expected:,}; ours: {sorted(ours_cache)}")
    tmp.cleanup()
    return 0


def _fmt(x):
    return f"{x:8.1f}" if x is not None else "       -"


def _table(rows: list[Row], with_reference: bool) -> str:
    head = "| batch | context | ours prefill | ours decode | GB/s | bound | ours/bound |"
    if with_reference:
        head += " ref prefill | ref decode | prefill ours/ref | decode ours/ref | cache B/tok ours / ref | peak MiB ours / ref |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    ours = [r for r in rows if r.impl == "ours"]
    refs = {(r.batch, r.context): r for r in rows if r.impl == "transformers"}
    for r in ours:
        line = (f"| {r.batch} | {r.context} | {_fmt(r.prefill_tps).strip()} | {r.decode_tps:.2f} | "
                f"{r.bandwidth_gbs:.1f} | {r.bound_tps:.1f} | "
                f"{r.decode_tps / r.bound_tps:.0%} |")
        if with_reference and (ref := refs.get((r.batch, r.context))):
            pr = f"{r.prefill_tps / ref.prefill_tps:.2f}x" if r.prefill_tps and ref.prefill_tps else "-"
            line += (f" {_fmt(ref.prefill_tps).strip()} | {ref.decode_tps:.2f} | {pr} | "
                     f"{r.decode_tps / ref.decode_tps:.2f}x | {r.cache_bytes_per_token:,.0f} / "
                     f"{ref.cache_bytes_per_token:,.0f} | {r.peak_mib:,.0f} / {ref.peak_mib:,.0f} |")
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
