"""Weight-only quantization, chosen at load time: `load_model(path, quantize="int8" | "int4")`.

* int8: one scale per output channel (row), symmetric: W[n, k] ~ q[n, k] * scale[n], q in [-127, 127],
  scale = max |W[n, :]| / 127. Every weight is within scale[n] / 2 of its original.
* int4: groups of GROUP = 128 along the input, asymmetric: W[n, k] ~ q[n, k] * scale[n, g] + offset[n, g],
  g = k // 128, q in [0, 15], offset = the group's minimum, scale = (max - min) / 15. Every weight
  is within scale[n, g] / 2 of its original. A last partial group is padded (inputs past K are
  zero on the activation side).

What is quantized: every `kernels.Linear` of the model (attention projections, dense MLPs,
shared experts, lm_head unless it is tied to the embedding) and the routed experts. What
stays in the model dtype: embeddings, norms, routers; on CUDA also MLA's kv_b_proj
(KEEP_ON_CUDA), whose two halves the absorbed attention multiplies per head rather than as one
linear: on CPU our kernels do those per-head products (QuantMLA), on CUDA torch's bmm does.

How products run:
* CPU, up to GEMV_MAX_ROWS rows (decode): our C kernels (quant_cpu.c), which read a byte or
  half a byte per weight and compute in integers, exact for float32 activations. PyTorch's own
  packed kernels are fast only with bfloat16 activations, which round every input and output
  to 8 bits of mantissa; with float32 ones they are slower than float32 weights.
* CPU, more rows (prefill), or where the C kernels cannot be built: the weight is dequantized
  block by block (a buffer of BLOCK_BYTES) and multiplied with F.linear; the float weight never
  exists whole.
* CUDA, int8: the activations written as three int8 digits (as in the C kernels) times the int8
  weight through torch._int_mm (cuBLASLt integer tensor cores), exact; no host reads, so
  capturable. int4: torch._weight_int4pack_mm (tinygemm), bfloat16 activations. Neither
  dequantizes the weight.

Loading quantizes tensor by tensor (and expert by expert, row block by row block), so the
float weights of at most a block exist at once. Shapes: N out features, K in features, E experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import quant_cpu
from .attention import MLA
from .kernels import KernelPolicy, Linear
from .moe import Experts

MODES = ("int8", "int4")
GROUP = 128  # int4 group size along the input
GEMV_MAX_ROWS = 16  # up to this many rows the C kernels beat dequantize-then-F.linear here
BLOCK_BYTES = 1 << 21  # float32 bytes of one dequantized block of rows in the blocked path
QUANTIZE_CHUNK = 1 << 20  # weights quantized at a time during loading: bounds the float temporaries (~16 MB)
KEEP_ON_CUDA = ("self_attn.kv_b_proj",)  # Linears left in the model dtype on CUDA (see the module docstring)
DIGIT_LIMIT = 127 * 256 * 256  # int8_digits_mm: activations as integers |X| <= this, three base-256 digits
INNER_K_TILES = 8  # tinygemm's packing parameter (K must be a multiple of INNER_K_TILES * 16 = 128)


class QuantizeError(ValueError):
    """A quantization mode this engine cannot run with the chosen device / dtype / model; the message names it."""


# ---- choosing ----------------------------------------------------------------------------------

def check_mode(quantize: str | None, device: torch.device | str, dtype: torch.dtype) -> str | None:
    """Validate `quantize` for this device and dtype (None: no quantization). Raises QuantizeError naming the
    combination that cannot run; on CUDA the kernels are tried on a tiny weight first."""
    if quantize is None:
        return None
    if quantize not in MODES:
        raise QuantizeError(f"quantize={quantize!r} is not supported; expected one of {list(MODES)} (or none)")
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        raise QuantizeError(f"quantize={quantize!r} runs on cpu and cuda, not on {device.type}")
    if not dtype.is_floating_point:
        raise QuantizeError(f"quantize={quantize!r} needs a floating-point model dtype, not {dtype}")
    if device.type == "cuda":
        if quantize == "int4" and dtype != torch.bfloat16:
            raise QuantizeError(f"quantize='int4' on cuda runs through torch's int4 kernel, which takes bfloat16 "
                                f"activations: use dtype bfloat16, not {dtype}")
        _probe_cuda(quantize, device, dtype)
    return quantize


def _probe_cuda(mode: str, device: torch.device, dtype: torch.dtype) -> None:
    """Run the mode's kernel once on a small weight; a GPU or torch build that refuses it fails the load here."""
    w = torch.randn(64, 256, device=device)
    x = torch.randn(2, 256, device=device, dtype=dtype)
    try:
        qmatmul(x, quantize_weight(w, mode, device), KernelPolicy())
    except (RuntimeError, NotImplementedError) as exc:
        kernel = "torch._int_mm" if mode == "int8" else "torch._weight_int4pack_mm"
        raise QuantizeError(f"quantize={mode!r} is not supported on {torch.cuda.get_device_name(device)}: "
                            f"{kernel} refused ({exc})") from exc


def layout_for(mode: str, device: torch.device | str) -> str:
    """How a mode's weights are stored on a device: "rows" (int8), "nibbles" (int4 CPU), "tinygemm" (int4 CUDA)."""
    if mode == "int8":
        return "rows"
    return "tinygemm" if torch.device(device).type == "cuda" else "nibbles"


# ---- quantizing and dequantizing ---------------------------------------------------------------

def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w [..., N, K] -> q int8 [..., N, K], scale float32 [..., N]; |w - q * scale| <= scale / 2."""
    w = w.float()
    scale = w.abs().amax(-1) / 127
    q = (w / torch.where(scale > 0, scale, 1)[..., None]).round_().clamp_(-127, 127).to(torch.int8)
    return q, scale


def quantize_int4(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """w [..., N, K] -> packed uint8 [..., N, G*64], scale and offset float32 [..., N, G], G = ceil(K / 128).

    |w - (q * scale + offset)| <= scale / 2. Byte j of a group's 64 holds input j of the group in
    its low nibble and input 64 + j in its high nibble (the layout quant_cpu.c reads).
    """
    w = w.float()
    k = w.shape[-1]
    groups = -(-k // GROUP)
    if groups * GROUP != k:  # pad with the row's last value: the last group's min and max stay its own
        w = torch.cat((w, w[..., -1:].expand(*w.shape[:-1], groups * GROUP - k)), dim=-1)
    w = w.unflatten(-1, (groups, GROUP))
    low, high = w.amin(-1), w.amax(-1)
    scale = (high - low) / 15
    q = ((w - low[..., None]) / torch.where(scale > 0, scale, 1)[..., None]).round_().clamp_(0, 15).to(torch.uint8)
    packed = q[..., : GROUP // 2] | (q[..., GROUP // 2 :] << 4)
    return packed.flatten(-2), scale, low


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 weight [..., N, K] that int8 q and its row scales stand for."""
    return q.float() * scale[..., None]


def dequantize_int4(packed: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, in_features: int) -> torch.Tensor:
    """The float32 weight [..., N, K] that packed int4 groups (see quantize_int4) stand for."""
    p = packed.unflatten(-1, (scale.shape[-1], GROUP // 2))
    q = torch.cat((p & 15, p >> 4), dim=-1).float()
    return (q * scale[..., None] + offset[..., None]).flatten(-2)[..., :in_features]


class QWeight:
    """One quantized weight [N, K] (an expert's, or a linear's) as the products read it.

    layout "rows": q int8 [N, K], scale [N]. "nibbles": q uint8 [N, G*64], scale/offset [N, G].
    "tinygemm": q as torch._convert_weight_to_int4pack made it, scale = scales-and-zeros
    [G, N, 2] bfloat16 (zero = offset + 8 * scale, as tinygemm dequantizes (q - 8) * s + z).
    A plain slotted class: one is made per module (not per call), and decode calls hundreds per step.
    """

    __slots__ = ("mode", "layout", "out_features", "in_features", "q", "scale", "offset")

    def __init__(self, mode: str, layout: str, out_features: int, in_features: int, q: torch.Tensor,
                 scale: torch.Tensor, offset: torch.Tensor | None = None):
        self.mode, self.layout, self.out_features, self.in_features = mode, layout, out_features, in_features
        self.q, self.scale, self.offset = q, scale, offset

    def dequantize(self) -> torch.Tensor:
        """The float32 weight [N, K]."""
        if self.layout == "rows":
            return dequantize_int8(self.q, self.scale)
        if self.layout == "nibbles":
            return dequantize_int4(self.q, self.scale, self.offset, self.in_features)
        raise QuantizeError("dequantizing tinygemm-packed int4 weights is not supported; quantize on cpu to compare")

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in (self.q, self.scale, self.offset) if t is not None)


def quantize_weight(w: torch.Tensor, mode: str, device: torch.device | str) -> QWeight:
    """A float weight [N, K] (any dtype, any device) quantized onto `device`, QUANTIZE_CHUNK weights at a time."""
    n, k = w.shape
    check_shape(mode, device, n, k)
    parts = _quantize_rows(w, mode, device)
    if layout_for(mode, device) == "tinygemm":
        q, scale = _to_tinygemm(*parts)
        return QWeight(mode, "tinygemm", n, k, q, scale)
    return QWeight(mode, layout_for(mode, device), n, k, *parts)


def check_shape(mode: str, device: torch.device | str, n: int, k: int) -> None:
    """Raise QuantizeError where the device's kernel cannot take an [n, k] weight (CUDA: multiples of 8)."""
    if torch.device(device).type != "cuda":
        return
    if mode == "int8" and (n % 8 or k % 8):
        raise QuantizeError(f"quantize='int8' on cuda needs both dimensions of a weight to be multiples of 8 "
                            f"(torch._int_mm); this one is {n}x{k}")
    if mode == "int4" and n % 8:
        raise QuantizeError(f"quantize='int4' on cuda needs out_features to be a multiple of 8 "
                            f"(torch._weight_int4pack_mm); this weight has {n}")


def _quantize_rows(w: torch.Tensor, mode: str, device: torch.device | str) -> tuple[torch.Tensor, ...]:
    """Row chunks of w quantized on `device` into CPU-layout tensors (int8 rows or int4 nibbles)."""
    n, k = w.shape
    groups = -(-k // GROUP)
    device = torch.device(device)
    if mode == "int8":
        out = (torch.empty(n, k, dtype=torch.int8, device=device), torch.empty(n, device=device))
    else:
        out = (torch.empty(n, groups * GROUP // 2, dtype=torch.uint8, device=device),
               torch.empty(n, groups, device=device), torch.empty(n, groups, device=device))
    step = max(1, QUANTIZE_CHUNK // max(k, 1))
    for r0 in range(0, n, step):
        chunk = w[r0 : r0 + step].to(device=device, dtype=torch.float32)
        for dest, part in zip(out, (quantize_int8 if mode == "int8" else quantize_int4)(chunk)):
            dest[r0 : r0 + step] = part
    return out


def tinygemm_inputs(packed: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nibble-layout int4 -> what torch's int4 kernels take: (pairs uint8 [N, Kp/2], the even input in the high
    nibble; scales-and-zeros float32 [G, N, 2], zero = offset + 8 * scale since they dequantize (q - 8) * s + z)."""
    n, groups = scale.shape
    halves = packed.view(n, groups, GROUP // 2)
    values = torch.cat((halves & 15, halves >> 4), dim=-1).view(n, groups * GROUP)
    pairs = ((values[:, ::2] << 4) | values[:, 1::2]).contiguous()
    return pairs, torch.stack((scale, offset + 8 * scale), dim=-1).transpose(0, 1).contiguous()


def _to_tinygemm(packed: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nibble-layout int4 (on CUDA) -> (tinygemm's packed weight, its scales-and-zeros [G, N, 2] bfloat16)."""
    pairs, scales_and_zeros = tinygemm_inputs(packed, scale, offset)
    return torch._convert_weight_to_int4pack(pairs, INNER_K_TILES), scales_and_zeros.to(torch.bfloat16)


# ---- products ----------------------------------------------------------------------------------

def qmatmul(x: torch.Tensor, w: QWeight, kernels: KernelPolicy) -> torch.Tensor:
    """x [..., K] @ W.T -> [..., N] in x's dtype, W the weight `w` stands for."""
    x2 = x if x.dim() == 2 else x.reshape(-1, w.in_features)
    rows = x2.shape[0]
    if rows == 0:
        y = x2.new_zeros(0, w.out_features)
    elif w.layout == "tinygemm":
        padded = w.scale.shape[0] * GROUP
        xb = x2.to(torch.bfloat16)
        if padded != w.in_features:
            xb = F.pad(xb, (0, padded - w.in_features))
        y = torch._weight_int4pack_mm(xb.contiguous(), w.q, GROUP, w.scale)
    elif x.device.type == "cpu":
        lib = quant_cpu.library(kernels.quant_cpu) if kernels.quant_cpu else None
        if lib is not None and rows <= GEMV_MAX_ROWS and w.in_features <= quant_cpu.MAX_K:
            xf = x2.to(torch.float32).contiguous()
            y = (quant_cpu.q8_gemv(lib, xf, w.q, w.scale) if w.layout == "rows"
                 else quant_cpu.q4_gemv(lib, xf, w.q, w.scale, w.offset))
        else:
            y = blocked_matmul(x2, w, lib)
    else:
        y = int8_digits_mm(x2, w.q, w.scale)
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    return y if x.dim() == 2 else y.view(*x.shape[:-1], w.out_features)


def blocked_matmul(x2: torch.Tensor, w: QWeight, lib=None) -> torch.Tensor:
    """x2 [M, K] @ W.T, W dequantized BLOCK_BYTES at a time (with the C kernels' dequantizer when `lib`)."""
    n, k = w.out_features, w.in_features
    rows = max(8, BLOCK_BYTES // (4 * k))
    out = x2.new_empty(x2.shape[0], n)
    buf = torch.empty(min(rows, n), k, device=x2.device)
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        block = buf[: r1 - r0]
        if lib is not None and w.layout == "rows":
            quant_cpu.q8_dequant(lib, w.q[r0:r1], w.scale[r0:r1], block)
        elif lib is not None:
            quant_cpu.q4_dequant(lib, w.q[r0:r1], w.scale[r0:r1], w.offset[r0:r1], block)
        elif w.layout == "rows":
            torch.mul(w.q[r0:r1], w.scale[r0:r1, None], out=block)
        else:
            block.copy_(dequantize_int4(w.q[r0:r1], w.scale[r0:r1], w.offset[r0:r1], k))
        out[:, r0:r1] = F.linear(x2, block.to(x2.dtype))
    return out


def int8_digits_mm(x2: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x2 [M, K] @ (q [N, K] int8 * scale [N]).T -> [M, N] float32 through torch._int_mm, exact.

    Each row of x2 becomes an integer X = round(x * L / max|x|) written in three int8 digits
    (base 256, as in quant_cpu.c with VNNI); the digit rows times q are exact int32 sums,
    recombined in int64. On CUDA torch._int_mm needs more than 16 rows: the digit rows are
    padded with zeros.
    """
    m = x2.shape[0]
    xf = x2.float()
    amax = xf.abs().amax(-1, keepdim=True)
    big = torch.where(amax > 0, xf * (DIGIT_LIMIT / torch.where(amax > 0, amax, 1)), 0)
    v = big.round_().clamp_(-DIGIT_LIMIT, DIGIT_LIMIT).to(torch.int32)
    d0 = ((v + 128) & 255) - 128
    v1 = (v - d0) >> 8
    d1 = ((v1 + 128) & 255) - 128
    digits = torch.cat((d0, d1, (v1 - d1) >> 8)).to(torch.int8)  # [3M, K]
    rows = 3 * m
    if x2.device.type == "cuda" and rows <= 16:
        digits = F.pad(digits, (0, 0, 0, 24 - rows))
    sums = torch._int_mm(digits, q.t())[:rows].to(torch.int64)  # [3M, N]
    total = sums[:m] + (sums[m : 2 * m] << 8) + (sums[2 * m :] << 16)
    return (total.double() * (amax.double() / DIGIT_LIMIT)).float() * scale


# ---- modules -----------------------------------------------------------------------------------

class QuantLinear(nn.Module):
    """A Linear whose weight is quantized: buffers qweight, scale (and offset for int4 on CPU)."""

    def __init__(self, weight: QWeight, kernels: KernelPolicy):
        super().__init__()
        self.mode, self.layout = weight.mode, weight.layout
        self.in_features, self.out_features = weight.in_features, weight.out_features
        self.kernels = kernels
        self.register_buffer("qweight", weight.q)
        self.register_buffer("scale", weight.scale)
        self.register_buffer("offset", weight.offset)
        self._apply(lambda t: t)  # builds self._weight

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)
        self._weight = QWeight(self.mode, self.layout, self.out_features, self.in_features, self.qweight,
                               self.scale, self.offset)  # over the buffers as they now are
        return out

    def quantized(self) -> QWeight:
        return self._weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return qmatmul(x, self._weight, self.kernels)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, {self.mode} ({self.layout})"


class QuantExperts(Experts):
    """Routed experts with quantized stacked weights; `Experts.grouped` runs them one by one.

    Buffers per projection P in (gate_up, down): P_q, P_scale (and P_offset for int4 on CPU),
    each with the experts as the leading dimension.
    """

    def __init__(self, mode: str, layout: str, shapes: dict[str, tuple[int, int]],
                 tensors: dict[str, tuple[torch.Tensor, ...]], kernels: KernelPolicy):
        nn.Module.__init__(self)
        self.mode, self.layout, self.kernels = mode, layout, kernels
        self.shapes = shapes  # projection -> (out, in) of one expert
        for proj, parts in tensors.items():
            for suffix, t in zip(("q", "scale", "offset"), parts):
                self.register_buffer(f"{proj}_{suffix}", t)
            if len(parts) < 3:
                self.register_buffer(f"{proj}_offset", None)
        self._count = tensors["gate_up"][0].shape[0]
        self._apply(lambda t: t)  # builds self._weights

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)
        self._weights = {}  # proj -> one QWeight per expert, over views of the buffers as they now are
        for proj, (n, k) in self.shapes.items():
            q, scale, offset = (getattr(self, f"{proj}_{s}") for s in ("q", "scale", "offset"))
            self._weights[proj] = [QWeight(self.mode, self.layout, n, k, q[e], scale[e],
                                           None if offset is None else offset[e]) for e in range(q.shape[0])]
        return out

    @property
    def n_experts(self) -> int:
        return self._count

    def loops(self, x: torch.Tensor) -> bool:
        return True

    def quantized(self, proj: str, e: int) -> QWeight:
        return self._weights[proj][e]

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        gate, up = qmatmul(x, self._weights["gate_up"][e], self.kernels).chunk(2, dim=-1)
        return qmatmul(F.silu(gate) * up, self._weights["down"][e], self.kernels)

    def dequantized(self, proj: str) -> torch.Tensor:
        """The float32 stack [E, N, K] of one projection."""
        return torch.stack([self.quantized(proj, e).dequantize() for e in range(self.n_experts)])

    def extra_repr(self) -> str:
        return f"{self.n_experts} experts, {self.mode} ({self.layout})"


class QuantMLA(MLA):
    """An MLA whose kv_b_proj is a QuantLinear (on CPU). Decode's absorbed attention multiplies per head
    by W_UK^T and W_UV, the two row blocks of kv_b_proj of each head, through our kernels; prefill's
    expanded attention calls kv_b_proj like any linear. Installed over an MLA by QuantPlan.install."""

    def _absorb_query(self, q: torch.Tensor) -> torch.Tensor:
        """[H, Dn, N] -> [H, R, N]."""
        return self._heads(q, 0, self.nope_dim, transposed=True)

    def _absorb_output(self, out_latent: torch.Tensor) -> torch.Tensor:
        """[H, R, N] -> [H, Dv, N]."""
        return self._heads(out_latent, self.nope_dim, self.v_dim, transposed=False)

    def _heads(self, x: torch.Tensor, row0: int, n: int, transposed: bool) -> torch.Tensor:
        w = self.kv_b_proj.quantized()
        lib = quant_cpu.library(self.kernels.quant_cpu) if self.kernels.quant_cpu else None
        if x.device.type != "cpu" or lib is None or x.shape[-1] > GEMV_MAX_ROWS:
            # the fallback: the per-head blocks dequantized for this call, multiplied as MLA does
            blocks = w.dequantize().to(x.dtype).view(self.n_heads, self.nope_dim + self.v_dim, self.rank)
            block = blocks[:, row0 : row0 + n]
            return torch.bmm(block.transpose(1, 2) if transposed else block, x)
        y = quant_cpu.gemv_heads(lib, w, x.permute(2, 0, 1).to(torch.float32).contiguous(), row0, n,
                                 self.nope_dim + self.v_dim, transposed)  # [N, H, R or Dv]
        return y.permute(1, 2, 0).to(x.dtype)


# ---- loading -----------------------------------------------------------------------------------

class _ExpertStack:
    """One stacked expert projection [E, N, K], quantized as row ranges of single experts arrive."""

    def __init__(self, mode: str, device: torch.device, n_experts: int, n: int, k: int):
        self.mode, self.device, self.layout = mode, device, layout_for(mode, device)
        self.n_experts, self.n, self.k = n_experts, n, k
        self.tensors: tuple[torch.Tensor, ...] | None = None
        self.pending: dict[int, tuple[list[int], tuple[torch.Tensor, ...]]] = {}  # tinygemm: rows staged per expert
        if self.layout != "tinygemm":
            groups = -(-k // GROUP)
            self.tensors = ((torch.empty(n_experts, n, k, dtype=torch.int8, device=device),
                             torch.empty(n_experts, n, device=device)) if mode == "int8" else
                            (torch.empty(n_experts, n, groups * GROUP // 2, dtype=torch.uint8, device=device),
                             torch.empty(n_experts, n, groups, device=device),
                             torch.empty(n_experts, n, groups, device=device)))

    def put(self, e: int, row0: int, w: torch.Tensor) -> None:
        """Rows [row0, row0 + len(w)) of expert e, from float weights w [rows, K]."""
        parts = _quantize_rows(w, self.mode, self.device)
        rows = slice(row0, row0 + w.shape[0])
        if self.layout != "tinygemm":
            for dest, part in zip(self.tensors, parts):
                dest[e, rows] = part
            return
        received, staged = self.pending.setdefault(e, ([0], tuple(
            torch.empty(self.n, *p.shape[1:], dtype=p.dtype, device=self.device) for p in parts)))
        for dest, part in zip(staged, parts):
            dest[rows] = part
        received[0] += w.shape[0]
        if received[0] == self.n:  # the expert is complete: pack it, drop its staging
            q, sz = _to_tinygemm(*staged)
            if self.tensors is None:
                self.tensors = tuple(torch.empty(self.n_experts, *t.shape, dtype=t.dtype, device=self.device)
                                     for t in (q, sz))
            self.tensors[0][e], self.tensors[1][e] = q, sz
            del self.pending[e]


class QuantPlan:
    """What loading quantizes in a model built on the meta device, and the quantized modules it fills.

    The loader (weights.load_weights) hands over every tensor `takes` accepts, whole (`put`) or
    one expert's rows at a time (`put_rows`), then calls `install`, which swaps the modules in.
    """

    def __init__(self, model: nn.Module, mode: str, device: torch.device | str):
        self.model, self.mode, self.device = model, mode, torch.device(device)
        tied = bool(getattr(model.config, "tie_word_embeddings", False))
        keep = KEEP_ON_CUDA if self.device.type == "cuda" else ()
        self.linears = {f"{name}.weight": name for name, module in model.named_modules()
                        if isinstance(module, Linear) and not (keep and name.endswith(keep))
                        and not (tied and name == "lm_head")}
        self.experts = {f"{name}.{param}": name for name, module in model.named_modules()
                        if isinstance(module, Experts) for param in ("gate_up_proj", "down_proj")}
        self._done: dict[str, QWeight] = {}
        self._stacks: dict[str, _ExpertStack] = {}

    def takes(self, name: str) -> bool:
        return name in self.linears or name in self.experts

    def put(self, name: str, tensor: torch.Tensor) -> None:
        """A whole tensor: a linear's weight [N, K], or a fused expert stack [E, N, K] (quantized expert by expert)."""
        if name in self.linears:
            try:
                self._done[name] = quantize_weight(tensor, self.mode, self.device)
            except QuantizeError as exc:
                raise QuantizeError(f"{name}: {exc}") from None
            return
        for e in range(tensor.shape[0]):
            self.put_rows(name, e, 0, tensor[e])

    def put_rows(self, name: str, e: int, row0: int, tensor: torch.Tensor) -> None:
        """Rows [row0, row0 + len(tensor)) of expert e of the stacked parameter `name`."""
        if name not in self._stacks:
            e_count, n, k = self.model.get_parameter(name).shape
            try:
                check_shape(self.mode, self.device, n, k)
            except QuantizeError as exc:
                raise QuantizeError(f"{name}: {exc}") from None
            self._stacks[name] = _ExpertStack(self.mode, self.device, e_count, n, k)
        self._stacks[name].put(e, row0, tensor)

    def install(self) -> None:
        """Swap the quantized modules into the model (call once every tensor is in)."""
        if self.experts and self.device.type == "cuda":  # read by graphs.GraphedDecoder
            self.model.capture_unsupported = ("quantized experts run one by one after reading their token counts "
                                              "on the host, which a CUDA graph cannot capture")
        for name, weight in self._done.items():
            module_name = self.linears[name]
            old = self.model.get_submodule(module_name)
            _set_submodule(self.model, module_name, QuantLinear(weight, old.kernels))
            parent = self.model.get_submodule(module_name.rpartition(".")[0])
            if module_name.endswith(".kv_b_proj") and type(parent) is MLA:
                parent.__class__ = QuantMLA  # same state; its absorbed products read the quantized weight
        for module_name in sorted(set(self.experts.values())):
            old = self.model.get_submodule(module_name)
            stacks = {proj: self._stacks.get(f"{module_name}.{proj}_proj") for proj in ("gate_up", "down")}
            if any(s is None or s.tensors is None or s.pending for s in stacks.values()):
                continue  # the loader reports the missing weights
            shapes = {proj: (s.n, s.k) for proj, s in stacks.items()}
            layout = stacks["gate_up"].layout
            _set_submodule(self.model, module_name, QuantExperts(
                self.mode, layout, shapes, {proj: s.tensors for proj, s in stacks.items()}, old.kernels))


def quantize_model(model: nn.Module, mode: str) -> nn.Module:
    """Quantize a loaded (or random_init) model in place, weight by weight, each float weight dropped once
    quantized; returns the model. For models built without a checkpoint (benchmarks); loading with
    `quantize` is the usual way."""
    device = model.embed_tokens.weight.device
    check_mode(mode, device, model.embed_tokens.weight.dtype)
    plan = QuantPlan(model, mode, device)
    for name in [*plan.linears, *plan.experts]:
        module_name, _, attr = name.rpartition(".")
        module = model.get_submodule(module_name)
        plan.put(name, getattr(module, attr))
        module._parameters[attr] = nn.Parameter(torch.empty(0, device="meta"), requires_grad=False)
    plan.install()
    return model


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


# ---- inspecting --------------------------------------------------------------------------------

def weight_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers (a tensor shared by two names counted once)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        key = (t.data_ptr(), t.nbytes)
        if key not in seen:
            seen.add(key)
            total += t.nbytes
    return total


def is_quantized(model: nn.Module) -> str | None:
    """The model's quantization mode, or None."""
    for module in model.modules():
        if isinstance(module, (QuantLinear, QuantExperts)):
            return module.mode
    return None


def dequantized_model(model: nn.Module) -> nn.Module:
    """A float32 model of the same class and config whose weights are the quantized model's, dequantized.

    The reference for "the kernels are exact for what they compute". Unquantized tensors are shared.
    """
    with torch.device("meta"):
        ref = type(model)(model.config)
    for module_name, module in ref.named_modules():
        source = model.get_submodule(module_name)
        for name, _ in list(module.named_parameters(recurse=False)):
            if isinstance(source, QuantLinear):
                data = source.quantized().dequantize()
            elif isinstance(source, QuantExperts):
                data = source.dequantized(name.removesuffix("_proj"))
            else:
                data = getattr(source, name).float()
            module._parameters[name] = nn.Parameter(data, requires_grad=False)
        for name, _ in list(module.named_buffers(recurse=False)):
            module._buffers[name] = getattr(source, name)
    if getattr(model.config, "tie_word_embeddings", False):
        ref.lm_head.weight = ref.embed_tokens.weight
    return ref.eval()


def bytes_per_weight(mode: str | None, dtype: torch.dtype = torch.float32) -> float:
    """Bytes a quantized weight takes per element, scales included (groups of GROUP for int4, f32 scales)."""
    if mode is None:
        return torch.tensor([], dtype=dtype).element_size()
    return 1.0 if mode == "int8" else 0.5 + 8 / GROUP
