"""A real `ama` REPL in a detached tmux session on a private tmux server: type with
send-keys, read the screen with capture-pane, poll until text appears."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, socket: str, cwd: Path, args: list[str], env: dict[str, str],
                 width: int = 120, height: int = 40):
        self.socket = socket
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        cmd = (f"cd {shlex.quote(str(cwd))} && env {exports} {shlex.quote(sys.executable)} -m agent "
               + " ".join(shlex.quote(a) for a in args) + "; echo AMA-EXITED $?; sleep 600")
        self.tmux("new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), cmd)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def screen(self) -> str:
        """The whole pane including its scrollback, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "main")

    def wait_for(self, text: str, timeout: float = 60, after: int = 0) -> int:
        """Poll the pane until `text` shows up past offset `after`; returns its offset."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            pos = screen.find(text, after)
            if pos >= 0:
                return pos
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{screen}")
            time.sleep(0.1)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "main", "-l", text)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def line(self, text: str) -> None:
        self.type(text)
        self.keys("Enter")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def ama_env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "HOME", "USER", "TMPDIR")}
    return {**keep, "AMA_HOME": str(home), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
            "LANG": os.environ.get("LANG", "C.UTF-8") or "C.UTF-8"}
