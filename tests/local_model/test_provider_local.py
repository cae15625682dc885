"""The `local:PATH` provider: `ama -p` through our own engine, end to end, on a tiny checkpoint.

The model's output is random; what is tested is the plumbing: the run ends cleanly with a
result object whose usage counts real tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("openai")

from tests.local_model.lm_testing import DEEPSEEK_TEMPLATE, make_checkpoint, make_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("local_provider"), "v2_lite", seed=3)[0]
    make_tokenizer(path, DEEPSEEK_TEMPLATE)
    return path


def test_ama_print_mode_with_a_local_model_ends_with_a_result(checkpoint, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("hello\n")
    env = {**os.environ, "AMA_HOME": str(tmp_path / "home"), "AMA_LOCAL_MAX_LEN": "32768",
           "PYTHONPATH": str(ROOT)}
    env.pop("AMA_MODEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "-p", "say hi", "--model", f"local:{checkpoint}", "--sandbox", "local",
         "--output-format", "json", "--max-turns", "2"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]  # 3: the turn limit, if random text parsed as a call
    result = json.loads(proc.stdout)
    assert result["type"] == "result" and result["model"] == f"local:{checkpoint}"
    assert result["usage"]["input_tokens"] > 100 and result["usage"]["output_tokens"] >= 1
    assert result["num_turns"] >= 1


def test_a_folder_without_a_checkpoint_is_bad_input(tmp_path):
    from agent.core.errors import BadInput
    from agent.models.registry import resolve_model

    with pytest.raises(BadInput, match="config.json"):
        resolve_model(f"local:{tmp_path}")
