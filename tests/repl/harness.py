"""Drive the real REPL in-process: prompt-toolkit pipe input, everything printed
captured by a rich Console at a fixed width, the `script:` model, `--sandbox local`."""
from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from pathlib import Path

from rich.console import Console

WIDTH = 100


class _Buffer(io.StringIO):
    """A StringIO that several threads may write while the test reads."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def write(self, s):
        with self.lock:
            return super().write(s)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


def write_script(path: Path, *turns: dict) -> str:
    path.write_text("".join(json.dumps(t) + "\n" for t in turns))
    return f"script:{path}"


class ReplHarness:
    def __init__(self, repo: Path, model: str, *, first: str | None = None,
                 auto_accept: bool = False, editor: str | None = None,
                 allowed_tools: tuple[str, ...] = (), **options):
        from prompt_toolkit.input import create_pipe_input
        from prompt_toolkit.output import DummyOutput
        from agent.repl.app import Repl
        from agent.repl.terminal import ReplIO
        from agent.session.options import Mode, SessionOptions

        self._pipe_cm = create_pipe_input()
        self.input = self._pipe_cm.__enter__()
        self.out = _Buffer()
        console = Console(file=self.out, width=WIDTH, color_system=None, force_terminal=False,
                          highlight=False)
        options = SessionOptions(model=model, cwd=repo, sandbox="local", allow=allowed_tools,
                                 **options)   # e.g. mcp_servers
        self.repl = Repl(options, ReplIO(console, self.input, DummyOutput(), editor=editor),
                         start_mode=Mode.AUTO_ACCEPT if auto_accept else Mode.REVIEW)
        self.error: BaseException | None = None
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, args=(first,), daemon=True)
        self.thread.start()

    def _run(self, first):
        try:
            self.code = self.repl.run(first)
        except BaseException as e:  # surfaced by the test
            self.error = e

    def text(self) -> str:
        return self.out.text()

    def wait_for(self, needle: str, timeout: float = 30, after: int = 0) -> int:
        """Wait until `needle` appears in the output (past offset `after`); its offset."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pos = self.text().find(needle, after)
            if pos >= 0:
                return pos
            if self.error is not None:
                raise self.error
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} did not appear within {timeout}s; output:\n{self.text()}")

    def wait_idle(self, timeout: float = 30) -> None:
        if not self.repl.idle.wait(timeout):
            raise AssertionError(f"the REPL did not return to the prompt; output:\n{self.text()}")

    def send(self, text: str) -> None:
        self.input.send_text(text)

    def line(self, text: str) -> None:
        """Type a line at the main prompt (waiting for the prompt first)."""
        self.wait_idle()
        self.repl.idle.clear()
        self.send(text + "\r")

    def answer(self, question: str, answer: str, timeout: float = 30) -> None:
        """Wait until the REPL asks something containing `question`; type `answer`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.repl.asking.is_set() and question in self.repl.question:
                self.repl.asking.clear()
                self.send(answer + "\r")
                return
            if self.error is not None:
                raise self.error
            time.sleep(0.02)
        raise AssertionError(f"not asked {question!r} within {timeout}s (last question: "
                             f"{self.repl.question!r}); output:\n{self.text()}")

    def exit(self, timeout: float = 30) -> None:
        if self.thread.is_alive():
            self.wait_idle()
            self.send("\x04")   # Ctrl-D
            self.thread.join(timeout)
        self._pipe_cm.__exit__(None, None, None)
        if self.error is not None:
            raise self.error
        assert not self.thread.is_alive(), "the REPL did not exit"
