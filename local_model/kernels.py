"""Matrix products on CPU, routed to whichever kernel streams the weights fastest.

Decoding reads every weight once per step through a matrix-vector product, so on CPU the
speed of `x @ W.T` for a few rows of x is the speed of decode. Measured on this project's
build machine (AMD EPYC, AVX-512, one thread, float32 weights in DRAM, against ~28 GB/s
for a plain sum; see the README's performance section):

* F.linear (MKL)                          ~12-17 GB/s for 1 row, ~6-9 GB/s for 3-8 rows
* oneDNN's linear on the same weights     ~15-21 GB/s for 1 row, ~9-12 GB/s for 3-8 rows
* the weight cut into 8 row blocks and
  multiplied as one batched matmul        ~21-26 GB/s for 1 row, ~13 GB/s for 3 rows,
                                          worse than both from 4 rows

On another machine (Intel Xeon with AVX-512 and AMX, ~16 GB/s for a sum) the order of the first
two turned over: F.linear and oneDNN ~16-18 GB/s for 1 row, the batched form ~8. So which of
the three runs up to GEMV_MAX_ROWS rows is measured once per process and thread count
(`measured_gemv`: a few dozen 1-row products over 48 MiB of weights, ~0.05 s, the first time
a model needs it); more rows go through oneDNN. oneDNN
builds a kernel ("primitive") per distinct shape, cached; building one costs about a
millisecond. Decode repeats the same few shapes, and so do the dense layers of a prefill
(one row count per prompt length), but the routed experts of a prefill get a new row
count on nearly every call: callers whose row count varies pass `rows_vary` and get
oneDNN only for small counts. Everything else (weights under 1 MiB, which stay in cache
and where F.linear's lower call overhead wins; bfloat16, where MKL and oneDNN already
agree; other devices; a torch without oneDNN) is plain F.linear.

Which of these kernels a model may still use is a `KernelPolicy` the model holds and hands
to each of its layers: a kernel that refuses an input is turned off there, for that model
only, never for the process (two models in one process never share one).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

MIN_WEIGHT_BYTES = 1 << 20  # smaller weights stay in cache: call overhead, not streaming, decides
GEMV_MAX_ROWS = 3  # up to this many rows: the batched matrix-vector form
VARYING_MAX_ROWS = 16  # row counts up to this recur (decode batches), so their oneDNN kernels stay cached
GEMV_BLOCKS = (8, 4, 2)  # row blocks the weight is cut into (the first that divides its rows)
GEMV_KERNELS = ("blocked", "mkl", "onednn")  # the candidates for up to GEMV_MAX_ROWS rows


def _onednn_op():
    try:
        return torch.ops.mkldnn._linear_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


_ONEDNN = _onednn_op()  # what this torch build offers: looked up once, never changed


@dataclass(eq=False)
class KernelPolicy:
    """How one model's kernels run. The model builds one and hands it to every layer.

    Tiling:
        prefill_query_block: queries per score block of the CPU prefill attention (attention.MLA, gqa.GQA).
        gemv: the kernel for up to GEMV_MAX_ROWS rows (one of GEMV_KERNELS); None: measured
            on first use (measured_gemv), the fastest on this machine.
    Fallbacks, each turned off for this model (not the process) the first time its kernel refuses:
        onednn: oneDNN's linear may be asked (False from the start where torch has none).
        grouped_mm_refused: (device type, dtype) pairs where torch._grouped_mm refused the experts.
    Quantized weights (local_model/quant.py):
        quant_cpu: which build of our CPU kernels decodes (a key of quant_cpu.VARIANT_FLAGS);
            None, or a build that cannot be made here: the blocked PyTorch path.
    """

    # bounds the [B, H, block, T] scores; smaller blocks skip more of the causal triangle (keys
    # after the block's last query are never scored): 256 beat 512 and 1024 here
    prefill_query_block: int = 256
    gemv: str | None = None
    onednn: bool = field(default_factory=lambda: _ONEDNN is not None)
    grouped_mm_refused: set[tuple[str, torch.dtype]] = field(default_factory=set)
    quant_cpu: str | None = "native"


def linear(x: torch.Tensor, weight: torch.Tensor, kernels: KernelPolicy, *, rows_vary: bool = False) -> torch.Tensor:
    """x [..., in] @ weight[out, in].T -> [..., out], like F.linear without bias.

    kernels: the model's policy (oneDNN is skipped once it refused, and turned off there if it refuses now).
    rows_vary: the caller's row count changes from call to call (routed experts): oneDNN
    only for up to VARYING_MAX_ROWS rows, so that no kernel is built per call.
    """
    if not routed_here(x, weight):
        return F.linear(x, weight)
    rows = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if 0 < rows <= GEMV_MAX_ROWS:
        if kernels.gemv is None:
            kernels.gemv = measured_gemv(torch.get_num_threads(), kernels.onednn)
        if kernels.gemv == "blocked":
            return _blocked_gemv(x, weight)
        if kernels.gemv == "mkl" or not kernels.onednn:
            return F.linear(x, weight)
        return _onednn_linear(x, weight, kernels)
    if kernels.onednn and not (rows_vary and rows > VARYING_MAX_ROWS):
        return _onednn_linear(x, weight, kernels)
    return F.linear(x, weight)


def routed_here(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether `linear` picks its own kernel for this product (else it is F.linear)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and weight.is_contiguous() and weight.numel() * 4 >= MIN_WEIGHT_BYTES)


def _blocked_gemv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x [..., in] (a few rows), weight [out, in] contiguous: one bmm over row blocks of the weight."""
    out_features, in_features = weight.shape
    blocks = next((b for b in GEMV_BLOCKS if out_features % b == 0), 1)
    cols = x.reshape(-1, in_features).t()  # [in, rows]
    y = torch.bmm(weight.view(blocks, out_features // blocks, in_features), cols.expand(blocks, -1, -1))
    # y: [blocks, out/blocks, rows] -> [rows, out]
    return y.permute(2, 0, 1).reshape(*x.shape[:-1], out_features)


@functools.cache
def measured_gemv(threads: int, onednn: bool = True) -> str:
    """The fastest of GEMV_KERNELS for one row on this machine with `threads` torch threads:
    each multiplies a row by six 2048x1024 float32 weights in turn (48 MiB: from DRAM, as decode
    reads them), best of three rounds after a warm-up."""
    weights = [torch.empty(2048, 1024).fill_(0.01) for _ in range(6)]
    x = torch.full((1, 1024), 0.5)
    candidates = {"blocked": lambda w: _blocked_gemv(x, w), "mkl": lambda w: F.linear(x, w)}
    if onednn and _ONEDNN is not None:
        candidates["onednn"] = lambda w: _ONEDNN(x, w, None, "none", [], "")
    best: dict[str, float] = {}
    for name, product in candidates.items():
        try:
            for w in weights:
                product(w)
        except RuntimeError:  # a kernel this build refuses is no candidate
            continue
        rounds = []
        for _ in range(3):
            t = time.perf_counter()
            for w in weights:
                product(w)
            rounds.append(time.perf_counter() - t)
        best[name] = min(rounds)
    return min(best, key=best.get) if best else "mkl"


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, kernels: KernelPolicy) -> torch.Tensor:
    try:
        return _ONEDNN(x, weight, None, "none", [], "")
    except RuntimeError:  # an oneDNN build that refuses this input: the default path from now on
        kernels.onednn = False
        return F.linear(x, weight)


class Linear(torch.nn.Linear):
    """nn.Linear (same parameter names and layout, no bias) whose product goes through `linear`
    under the model's `kernels` policy."""

    def __init__(self, in_features: int, out_features: int, kernels: KernelPolicy):
        super().__init__(in_features, out_features, bias=False)
        self.kernels = kernels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.kernels)
