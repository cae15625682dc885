"""The Python API's examples and the README's snippet run as written, offline, as a
user would run them (a subprocess with the checkout on PYTHONPATH)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(args: list[str], tmp_path: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AMA_HOME": str(tmp_path / "ama"),
           "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def test_api_basic(tmp_path):
    run = run_python([str(ROOT / "examples" / "api_basic.py")], tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "approve? 'python3 -m unittest -q 2>&1 | tail -5'" in out and ": yes" in out
    assert "-> edit_file {'path': 'calc.py'" in out
    assert "success after 5 turns; changed: calc.py" in out
    assert "applied to calc: calc.py" in out
    assert "-    return a - b\n+    return a + b\n" in out     # `git diff` of the repo


def test_api_async(tmp_path):
    run = run_python([str(ROOT / "examples" / "api_async.py")], tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "asked: shell {'command': 'rm -rf build'}" in out
    assert "success; pending: NOTES.md, calc.py; denied: ['rm -rf build']" in out
    assert "applied ['calc.py'], discarded ['NOTES.md'], pending now: []" in out
    assert "calc.py fixed: True; NOTES.md exists: False" in out


def test_the_readme_snippet_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    repo = tmp_path / "calc"
    subprocess.run(["cp", "-r", str(ROOT / "examples" / "calc"), str(repo)], check=True)
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    run = run_python(["-c", code.replace('"examples/calc"', repr(str(repo)))], tmp_path,
                     cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "success ('calc.py',) applied ('calc.py',)"
    assert "return a + b" in (repo / "calc.py").read_text()
