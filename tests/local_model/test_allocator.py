"""local_model/allocator.py: freed blocks stay in the process for the next forward pass."""

from __future__ import annotations

import resource
import sys

import pytest
import torch

from local_model.allocator import release_freed_memory, retain_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting")


def _faults_touching(mib: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(mib * 2**20 // 4)  # written in full: every page touched
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_freed_block_is_reused_without_page_faults():
    assert retain_freed_memory()
    assert retain_freed_memory()  # once per process; asking again is harmless
    _faults_touching(64)  # the heap grows to hold it once, and keeps it when it is freed
    pages = 16 * 2**20 // resource.getpagesize()
    # a smaller block fits in the kept one (an equal one may not: aligned allocations ask a
    # little more than their size); without the setting glibc maps it afresh and every page faults
    assert _faults_touching(16) < pages // 10


def test_release_hands_kept_memory_back():
    retain_freed_memory()
    _faults_touching(64)
    release_freed_memory()
    pages = 16 * 2**20 // resource.getpagesize()
    assert _faults_touching(16) > pages // 2  # given back, so touched afresh
