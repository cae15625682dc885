from __future__ import annotations

from pathlib import Path

import pytest


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root; returns root."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "ama-home" / "cache" / "repomap"


def hub_repo(root: Path) -> Path:
    """A Python repo where `core.py` is used by five files and `lonely.py` by none."""
    files = {
        "pkg/core.py": "class Engine:\n    def start_engine(self):\n        return 1\n\n\n"
                       "def make_engine():\n    return Engine()\n",
        "pkg/lonely.py": "class Hermit:\n    def stay_home(self):\n        return 0\n",
    }
    for k in range(5):
        files[f"pkg/user{k}.py"] = (
            "from pkg.core import Engine, make_engine\n\n\n"
            f"def run_{k}():\n    e = make_engine()\n    e.start_engine()\n    return Engine\n")
    return write_tree(root, files)
