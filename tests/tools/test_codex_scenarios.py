"""openai/codex's apply-patch scenarios, run through apply_patch as the model meets it.

The scenarios are read in place from the shared conformance data (never copied into the
project): each has `input/` (absent: an empty tree), `patch.txt` and `expected/`, and
upstream checks only the final tree. Where ama differs on purpose, the test says how.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.files.patch_tool import ApplyPatch
from tools.sandbox.local import LocalSandbox

# shared/ lies beside the checkout (here and in CI)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "conformance"
SCENARIOS = Path(os.environ.get("AMA_CONFORMANCE_DIR", SHARED)) / "codex_apply_patch"

# Codex overwrites silently, or keeps what it did before a later failure; ama refuses
# the whole patch, leaves the tree as it was and tells the model what to send.
DIFFERENT_ON_PURPOSE = {
    "010_move_overwrites_existing_destination": "send '*** Delete File: renamed/dir/name.txt'",
    "011_add_overwrites_existing_file": "send '*** Delete File: duplicate.txt'",
    "015_failure_after_partial_success_leaves_changes": "missing.txt: cannot update",
}
# A bare CR as a line break (classic Mac) is not one of the line endings ama reads.
NOT_SUPPORTED = {"024_preserves_mixed_line_endings": "a bare CR is not read as a line break"}


def _scenarios() -> list:
    if not SCENARIOS.is_dir():
        return []
    names = sorted(p.name for p in SCENARIOS.iterdir() if (p / "patch.txt").is_file())
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=NOT_SUPPORTED[n]))
            if n in NOT_SUPPORTED else n for n in names]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_scenario(name: str, root: Path) -> str | None:
    """Apply the scenario's patch in `root`; the ToolError message, or None."""
    tool = ApplyPatch()
    text = (SCENARIOS / name / "patch.txt").read_bytes().decode("utf-8")
    try:
        tool.run(tool.params(patch=text), ToolContext(root=root, sandbox=LocalSandbox(root)))
    except ToolError as e:
        return e.message
    return None


@pytest.mark.skipif(not _scenarios(), reason=f"the shared scenarios are not available at "
                                              f"{SCENARIOS} (set AMA_CONFORMANCE_DIR)")
@pytest.mark.parametrize("name", _scenarios() or ["none"])
def test_codex_scenario(name, tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    if (SCENARIOS / name / "input").is_dir():
        shutil.copytree(SCENARIOS / name / "input", root, dirs_exist_ok=True)
    before = tree(root)
    error = run_scenario(name, root)
    if name in DIFFERENT_ON_PURPOSE:
        assert error is not None and DIFFERENT_ON_PURPOSE[name] in error
        assert tree(root) == before
        return
    expected = SCENARIOS / name / "expected"
    assert tree(root) == (tree(expected) if expected.is_dir() else {}), error
    if "rejects" in name or "fails" in name or "requires" in name:
        assert error is not None  # refused, and the model is told why
