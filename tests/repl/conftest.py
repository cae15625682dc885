from __future__ import annotations

import pytest

from tests.repl.harness import ReplHarness, make_repo, write_script

LINES = "".join(f"line {i}\n" for i in range(1, 31))


@pytest.fixture
def ama_home(tmp_path, monkeypatch):
    home = tmp_path / "ama-home"
    monkeypatch.setenv("AMA_HOME", str(home))
    for k in ("AMA_MODEL", "AMA_SANDBOX", "VISUAL", "EDITOR"):
        monkeypatch.delenv(k, raising=False)
    return home


@pytest.fixture
def repo(tmp_path, ama_home):
    return make_repo(tmp_path / "repo", {"notes.txt": LINES, "calc.py":
                                         "def add(a, b):\n    return a - b\n",
                                         ".gitignore": "secret.txt\n"})


@pytest.fixture
def repl(tmp_path, repo):
    """start(*turns, **kw) -> a running ReplHarness on `repo` with those script turns."""
    started: list[ReplHarness] = []

    def start(*turns: dict, **kw) -> ReplHarness:
        model = write_script(tmp_path / f"s{len(started)}.jsonl", *turns)
        h = ReplHarness(repo, model, **kw)
        started.append(h)
        return h
    yield start
    for h in started:
        try:
            h.exit()
        except AssertionError:
            pass
