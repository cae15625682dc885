"""Keep freed memory in the process (glibc), so that each forward pass does not page-fault it back.

A forward pass allocates and frees hundreds of MB of activations. glibc returns large
freed blocks to the kernel (mmap'd blocks at once, the heap top past a threshold), so
the next pass touches fresh pages again: on this project's build machine (a VM) a
512-token prefill took ~175,000 page faults and ran 10-15 % slower for them. Raising
glibc's mmap and trim thresholds keeps the blocks for reuse; this is what PyTorch's CPU
tuning guide gets from switching to jemalloc or tcmalloc, without a preload.

The setting is per process and affects every allocation in it; it is made whenever a model
is built (`load_model`, `random_model`): making it again sets the same values, so nothing
here remembers whether it was made. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 1 << 30  # blocks up to 1 GiB come from (and return to) the heap; up to 1 GiB of free heap is kept


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def retain_freed_memory() -> bool:
    """Tell glibc to keep freed blocks for reuse; True if it took the setting (asking again is harmless)."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) & bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))


def release_freed_memory() -> None:
    """Hand the kept free memory back to the kernel now (e.g. before measuring a peak in RSS)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
