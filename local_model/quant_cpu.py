"""Our CPU kernels for quantized decode (`quant_cpu.c`), compiled on first use and called through ctypes.

PyTorch's packed CPU kernels are fast only with bfloat16 activations, which would round every
activation and every output to 8 bits of mantissa; with float32 activations they run no faster
than float32 weights do. The C kernels here take float32 activations, are exact for what they
compute (see the C file) and read a byte (int8) or half a byte (int4) per weight.

The shared library is built with the system C compiler (`cc`, or $CC) for this machine
(`-march=native`) into a cache folder ($LOCAL_MODEL_CACHE, else $XDG_CACHE_HOME/local_model,
else ~/.cache/local_model) named by a hash of the source, the flags, the compiler and the CPU,
so a machine never loads a build made for another. Where no compiler works, `library()`
returns None with the reason in `unavailable()`, and callers use the blocked PyTorch path
(exact too, slower). Building takes about a second, once per machine.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("quant_cpu.c")
MAX_K = 65536  # the C kernels' int32 sums cannot overflow up to this many inputs
ISA_NAMES = {0: "portable C", 1: "AVX2", 2: "AVX-512 VNNI"}
_P, _I = ctypes.c_void_p, ctypes.c_int64

# variant -> the loaded library, or the reason it is not available (str)
_LOADED: dict[str, "ctypes.CDLL | str"] = {}
VARIANT_FLAGS = {  # "native" is what the engine uses; the others let tests run every code path here
    "native": ["-march=native"],
    "avx2": ["-march=native", "-mno-avx512f"],
    "portable": [],
}


def library(variant: str = "native") -> "ctypes.CDLL | None":
    """The kernels built for this machine (None where they cannot be built: see `unavailable`)."""
    if variant not in _LOADED:
        try:
            _LOADED[variant] = _load(_build(VARIANT_FLAGS[variant]))
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            _LOADED[variant] = f"{type(exc).__name__}: {exc}"
    lib = _LOADED[variant]
    return lib if isinstance(lib, ctypes.CDLL) else None


def unavailable(variant: str = "native") -> str | None:
    """Why `library(variant)` is None (None when it is available)."""
    library(variant)
    lib = _LOADED[variant]
    return None if isinstance(lib, ctypes.CDLL) else lib


def isa(lib: ctypes.CDLL) -> str:
    """The instruction set a build uses: "AVX-512 VNNI", "AVX2" or "portable C"."""
    return ISA_NAMES[lib.qk_isa()]


def activation_step(lib: ctypes.CDLL) -> float:
    """The kernels round each activation row to multiples of max|row| times this (2^-23, or 2^-20 with AVX2)."""
    return 1.0 / lib.qk_limit()


def q8_gemv(lib: ctypes.CDLL, x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [M, K] float32 contiguous, q [N, K] int8, scale [N] float32 -> [M, N] float32."""
    m, k = x.shape
    y = torch.empty(m, q.shape[0], dtype=torch.float32)
    lib.q8_gemv(x.data_ptr(), m, k, q.data_ptr(), scale.data_ptr(), q.shape[0], y.data_ptr(), torch.get_num_threads())
    return y


def q4_gemv(lib: ctypes.CDLL, x: torch.Tensor, packed: torch.Tensor, scale: torch.Tensor,
            offset: torch.Tensor) -> torch.Tensor:
    """x [M, K] float32 contiguous, packed [N, ceil(K/128)*64] uint8, scale/offset [N, ceil(K/128)] -> [M, N]."""
    m, k = x.shape
    y = torch.empty(m, packed.shape[0], dtype=torch.float32)
    lib.q4_gemv(x.data_ptr(), m, k, packed.data_ptr(), scale.data_ptr(), offset.data_ptr(), packed.shape[0],
                y.data_ptr(), torch.get_num_threads())
    return y


def gemv_heads(lib: ctypes.CDLL, w, x: torch.Tensor, row0: int, n: int, stride: int,
               transposed: bool = False) -> torch.Tensor:
    """Per-head products with row blocks of one quantized weight `w` (a local_model.quant.QWeight on CPU).

    x [M, H, n_in] float32 contiguous. Head h uses weight rows h * stride + row0 + [0, n).
    Plain: y[m, h] = W_h @ x[m, h] (n_in = K) -> [M, H, n]. transposed: y[m, h] = W_h.T @ x[m, h]
    (n_in = n) -> [M, H, K], in float32 arithmetic.
    """
    m, heads, _ = x.shape
    k = w.in_features
    y = torch.empty(m, heads, k if transposed else n, dtype=torch.float32)
    rows = w.q.shape[-1]  # bytes per row
    q = w.q.data_ptr() + row0 * rows
    if w.layout == "rows":
        fn = lib.q8_gemv_t_heads if transposed else lib.q8_gemv_heads
        fn(x.data_ptr(), m, heads, k, q, w.scale.data_ptr() + row0 * 4, n, stride, y.data_ptr(),
           torch.get_num_threads())
    else:
        groups = w.scale.shape[-1]
        fn = lib.q4_gemv_t_heads if transposed else lib.q4_gemv_heads
        fn(x.data_ptr(), m, heads, k, q, w.scale.data_ptr() + row0 * groups * 4, w.offset.data_ptr() + row0 * groups * 4,
           n, stride, y.data_ptr(), torch.get_num_threads())
    return y


def q8_dequant(lib: ctypes.CDLL, q: torch.Tensor, scale: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Rows q [n, K] int8 with their scales [n] into out [n, K] float32 (contiguous); returns out."""
    lib.q8_dequant(q.data_ptr(), scale.data_ptr(), q.shape[0], q.shape[1], out.data_ptr(), torch.get_num_threads())
    return out


def q4_dequant(lib: ctypes.CDLL, packed: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor,
               out: torch.Tensor) -> torch.Tensor:
    """Rows packed [n, ceil(K/128)*64] with scale/offset [n, ceil(K/128)] into out [n, K] float32; returns out."""
    lib.q4_dequant(packed.data_ptr(), scale.data_ptr(), offset.data_ptr(), packed.shape[0], out.shape[1],
                   out.data_ptr(), torch.get_num_threads())
    return out


def _cache_dir() -> Path:
    if os.environ.get("LOCAL_MODEL_CACHE"):
        return Path(os.environ["LOCAL_MODEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "local_model"


def _cpu_id() -> str:
    """What -march=native depends on: the CPU's model and flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = [line for line in f if line.startswith(("model name", "flags", "Features", "CPU part"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() + platform.machine()


def _build(flags: list[str]) -> Path:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        raise RuntimeError("no C compiler found (set CC, or install gcc or clang)")
    source = SOURCE.read_bytes()
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    base = ["-O3", "-shared", "-fPIC", *flags]
    attempts = [base + ["-fopenmp"], base]  # OpenMP threads where the compiler has them
    key = hashlib.sha256(source + repr((compiler, version, attempts)).encode() + _cpu_id().encode()).hexdigest()[:16]
    target = _cache_dir() / f"quant_cpu-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for args in attempts:
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = Path(tmp) / target.name
            done = subprocess.run([compiler, *args, str(SOURCE), "-o", str(out), "-lm"], capture_output=True,
                                  text=True, timeout=120)
            if done.returncode == 0:
                os.replace(out, target)  # atomic: a concurrent build of the same key writes the same bytes
                return target
            errors.append(done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])
    raise RuntimeError(f"{compiler} could not build {SOURCE.name}: {errors[-1][0]}")


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.qk_isa.restype = ctypes.c_int
    lib.qk_limit.restype = ctypes.c_int
    lib.q8_gemv.argtypes = [_P, _I, _I, _P, _P, _I, _P, ctypes.c_int]
    lib.q8_gemv.restype = None
    lib.q4_gemv.argtypes = [_P, _I, _I, _P, _P, _P, _I, _P, ctypes.c_int]
    lib.q4_gemv.restype = None
    for name in ("q8_gemv_heads", "q8_gemv_t_heads"):
        getattr(lib, name).argtypes = [_P, _I, _I, _I, _P, _P, _I, _I, _P, ctypes.c_int]
        getattr(lib, name).restype = None
    for name in ("q4_gemv_heads", "q4_gemv_t_heads"):
        getattr(lib, name).argtypes = [_P, _I, _I, _I, _P, _P, _P, _I, _I, _P, ctypes.c_int]
        getattr(lib, name).restype = None
    lib.q8_dequant.argtypes = [_P, _P, _I, _I, _P, ctypes.c_int]
    lib.q8_dequant.restype = None
    lib.q4_dequant.argtypes = [_P, _P, _P, _I, _I, _P, ctypes.c_int]
    lib.q4_dequant.restype = None
    return lib
