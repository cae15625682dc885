"""Running the real `ama` CLI as a subprocess, for the end-to-end tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        """The result object: the last line of stdout (json, ama-events and stream-json formats)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def isolated_env(home: Path, extra: dict | None = None) -> dict:
    """The environment without provider keys or AMA_* settings, with every place ama
    keeps state (AMA_HOME) or reads config (XDG_CONFIG_HOME, HOME) under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "AMA_"))}
    env.update(AMA_HOME=str(home / "ama"), XDG_CONFIG_HOME=str(home / "xdg"), HOME=str(home),
               **(extra or {}))
    return env


def run_ama(args: tuple[str, ...], env: dict, stdin: str | bytes = "", timeout: float = 60) -> Run:
    """Run `python -m agent ARGS`; `stdin` as text, or as bytes (binary input)."""
    if isinstance(stdin, bytes):
        proc = subprocess.run([sys.executable, "-m", "agent", *args], input=stdin,
                              capture_output=True, env=env, timeout=timeout)
        return Run(proc.returncode, proc.stdout.decode(errors="replace"),
                   proc.stderr.decode(errors="replace"))
    proc = subprocess.run([sys.executable, "-m", "agent", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def commit_all(repo: Path, message: str = "init") -> None:
    """`git init` (if needed), add everything and commit, with a throwaway identity."""
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def write_script(directory: Path, turns: tuple[dict, ...], name: str = "s.jsonl") -> str:
    """Write a `script:` session file, one turn a line; returns the --model value."""
    path = directory / name
    path.write_text("".join(json.dumps(t) + "\n" for t in turns))
    return f"script:{path}"


def running(argv: tuple[str, ...]) -> int:
    """How many processes on this machine run exactly `argv` (containers' included)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += (entry / "cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]
            except OSError:   # it ended meanwhile
                continue
    return count


def wait_until_running(argv: tuple[str, ...], count: int = 1, timeout: float = 30) -> None:
    """Poll until `count` processes run `argv` (e.g. a tool's `sleep 30` has started)."""
    import time
    deadline = time.monotonic() + timeout
    while running(argv) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{' '.join(argv)} was not running {count}× within {timeout}s")
        time.sleep(0.05)


def calc_repo(root: Path, **files: str) -> Path:
    """A committed git repo at `root` holding the buggy calc.py (add subtracts) and `files`."""
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    for name, text in files.items():
        (root / name).write_text(text)
    commit_all(root)
    return root
