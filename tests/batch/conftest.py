"""A small SWE-bench-style world made by the tests: repositories under --repos, a task
file, one script file per task, and `ama batch` run as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ama_cli import Run, commit_all, isolated_env, run_ama

# datasets and transformers read local files here; they must never ask the Hub (set
# before either is imported: they read it once).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

BUGGY = "def add(a, b):\n    return a - b\n"
TEST_FILE = "import calc\nassert calc.add(2, 3) == 5, 'add is wrong'\n"
TEST_PATCH = ("diff --git a/test_add.py b/test_add.py\nnew file mode 100644\n--- /dev/null\n"
              "+++ b/test_add.py\n@@ -0,0 +1,2 @@\n"
              + "".join(f"+{line}\n" for line in TEST_FILE.splitlines()))
FIX = {"text": "fixing", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}}]}
DONE = {"text": "Fixed add."}
NO_FIX = {"text": "It looks right to me."}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def calc_repo(path: Path) -> tuple[Path, str]:
    """A repo with the buggy calc.py, and a second commit after the base one (so that
    the checkout must go back). Returns (path, base commit)."""
    path.mkdir(parents=True)
    (path / "calc.py").write_text(BUGGY)
    commit_all(path, "base")
    base = git(path, "rev-parse", "HEAD")
    (path / "NEWS").write_text("after the base commit\n")
    commit_all(path, "later")
    return path, base


@dataclass
class World:
    root: Path
    repos: Path
    scripts: Path
    home: Path
    base: str

    def script(self, task_id: str, *turns: dict, suffix: str = "") -> None:
        (self.scripts / f"{task_id}{suffix}.jsonl").write_text(
            "".join(json.dumps(t) + "\n" for t in turns))

    def tasks(self, records: list[dict], name: str = "tasks.jsonl") -> Path:
        path = self.root / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    def env(self) -> dict:
        env = isolated_env(self.home)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        return env

    def batch(self, tasks: Path, out: Path, *args: str, timeout: float = 120) -> Run:
        return run_ama(("batch", str(tasks), "-o", str(out), "--repos", str(self.repos),
                        "--repo-url", str(self.root / "no-such-remote" / "{repo}"),
                        "--model", f"script:{self.scripts}/{{instance_id}}.jsonl", *args),
                       self.env(), timeout=timeout)

    def popen(self, tasks: Path, out: Path, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "batch", str(tasks), "-o", str(out), "--repos",
             str(self.repos), "--model", f"script:{self.scripts}/{{instance_id}}.jsonl", *args],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def make_world(root: Path) -> World:
    """--repos holding acme/calc twice over: a clone laid out owner+name, and a bare copy
    of the same history laid out owner/name.git (as `widgets/calc`)."""
    repos = root / "repos"
    clone, base = calc_repo(repos / "acme+calc")
    subprocess.run(["git", "clone", "-q", "--bare", str(clone), str(repos / "widgets" / "calc.git")],
                   check=True)
    scripts = root / "scripts"
    scripts.mkdir()
    home = root / "home"
    home.mkdir()
    return World(root, repos, scripts, home, base)


@pytest.fixture
def world(tmp_path) -> World:
    return make_world(tmp_path)


def swe_task(task_id: str, world: World, repo: str = "acme/calc", **extra) -> dict:
    """A SWE-bench record whose FAIL_TO_PASS test comes in its test_patch."""
    return {"instance_id": task_id, "repo": repo, "base_commit": world.base,
            "problem_statement": "add() subtracts instead of adding; fix it", "version": "0.1",
            "FAIL_TO_PASS": json.dumps(["test_add.py"]), "PASS_TO_PASS": "[]",
            "test_patch": TEST_PATCH, **extra}


def read_json(path: Path):
    return json.loads(path.read_text())


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
