"""An edit that keeps a file's size must still invalidate Python's bytecode cache."""
from __future__ import annotations

import subprocess
import sys

from tools.base import ToolContext
from tools.files import EditFile
from tools.sandbox.local import LocalSandbox


def test_same_size_edit_right_after_import_is_seen_by_python(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    run = lambda: subprocess.run([sys.executable, "-c", "import calc; print(calc.add(2, 3))"],
                                 cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert run() == "-1"  # writes __pycache__/calc.*.pyc with this second's mtime
    tool = EditFile()
    tool.run(tool.params(path="calc.py", old_string="a - b", new_string="a + b"),
             ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path)))
    assert run() == "5"
