"""The README's "Embedding a session" example runs as written (on a copy of the demo repo)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.ama_cli import commit_all

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedding_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Embedding a session"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    repo = tmp_path / "calc"
    shutil.copytree(ROOT / "examples" / "calc", repo)
    commit_all(repo)
    code = code.replace('"examples/calc"', repr(str(repo))).replace(
        "script:examples/fix-calc.jsonl", f"script:{ROOT / 'examples' / 'fix-calc.jsonl'}")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                           "AMA_HOME": str(tmp_path / "home"),
                                           "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "success 0 ['calc.py']"
    assert "a - b" in (repo / "calc.py").read_text()   # the user's tree is untouched
