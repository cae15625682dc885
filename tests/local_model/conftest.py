"""Fixtures for the local_model tests. Everything runs on CPU from checkpoints written here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from tests.local_model.lm_testing import PRESETS, make_checkpoint  # noqa: E402

# local_model/quant_cpu.py builds its kernels into a cache folder: a temporary one, not ~/.cache,
# kept between runs (a build is named by its source, flags, compiler and CPU, so it is never stale)
os.environ.setdefault("LOCAL_MODEL_CACHE", str(Path(tempfile.gettempdir()) / f"local_model-test-cache-{os.getuid()}"))


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """preset name -> folder of a random transformers-written checkpoint (made once per session)."""
    pytest.importorskip("transformers")
    made = {}

    def get(preset: str):
        if preset not in made:
            made[preset] = make_checkpoint(tmp_path_factory.mktemp(preset), preset, seed=1234)[0]
        return made[preset]

    return get


@pytest.fixture(params=sorted(PRESETS))
def preset(request):
    return request.param
