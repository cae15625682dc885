"""Run a piece of work (an Agent turn, a `!command`) in a worker thread while the main
thread keeps reading keys, so Esc or Ctrl-C can interrupt it.

Interrupting sets the shared `cancel` event: the loop stops at its next model event
(closing the model stream), the sandbox kills a running command's process group.
While it runs, one small region at the bottom of the terminal shows the live part of
the answer, a spinner and the status line; everything else prints above it, into
the normal scrollback.

Questions from the worker (approvals for "ask" permission rules) are handed to the
main thread, which stops the live region, asks, and resumes.
"""
from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.ui.spinner import frame

LIVE_LINES = 8


@dataclass
class _Question:
    text: str
    answer: str = ""
    done: threading.Event = field(default_factory=threading.Event)


class TurnRunner:
    """Runs work with interrupt keys. `live()` returns the text of the live region."""

    def __init__(self, cancel: threading.Event, *, input=None, output=None,
                 live: Callable[[], str] = lambda: "", status: Callable[[], str] = lambda: "",
                 ask: Callable[[str], str] | None = None):
        self.cancel = cancel
        self.input, self.output = input, output
        self.live, self.status = live, status
        self.ask = ask
        self._questions: "queue.Queue[_Question]" = queue.Queue()
        self.interrupted = False
        self.typeahead = ""      # printable keys typed during a turn, for the next prompt

    def take_typeahead(self) -> str:
        text, self.typeahead = self.typeahead, ""
        return text

    def question(self, text: str) -> str:
        """Called from the worker: ask the user on the main thread, wait for the answer
        ("" when the turn is interrupted meanwhile, or the user gave up)."""
        req = _Question(text)
        self._questions.put(req)
        while not req.done.wait(0.1):
            if self.cancel.is_set():
                return ""
        return req.answer

    def run(self, work: Callable[[], Any]) -> Any:
        """Run `work()` in a thread; return its result (re-raising what it raised)."""
        self.cancel.clear()
        self.interrupted = False
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["value"] = work()
            except BaseException as e:  # handed to the main thread
                box["error"] = e
            finally:
                done.set()

        worker = threading.Thread(target=target, name="ama-turn", daemon=True)
        worker.start()
        while not done.is_set():
            self._watch(done)
            while not self._questions.empty():
                req = self._questions.get()
                try:
                    req.answer = self.ask(req.text) if self.ask is not None else ""
                except (EOFError, KeyboardInterrupt):
                    req.answer = ""
                req.done.set()
        worker.join()
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _watch(self, done: threading.Event) -> None:
        """Show the live region and read keys until the work is done or asks something."""
        from prompt_toolkit.application import Application
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.layout import HSplit, Layout, Window
        from prompt_toolkit.layout.controls import FormattedTextControl
        from prompt_toolkit.layout.dimension import Dimension

        kb = KeyBindings()

        @kb.add("escape", eager=True)
        @kb.add("c-c")
        def _interrupt(event) -> None:
            self.cancel.set()
            self.interrupted = True

        @kb.add("<any>")
        def _typeahead(event) -> None:  # kept for the next prompt, not sent anywhere
            if event.data.isprintable():
                self.typeahead += event.data

        @kb.add("c-h")
        def _backspace(event) -> None:
            self.typeahead = self.typeahead[:-1]

        def body() -> str:
            text = self.live().rstrip("\n")
            lines = text.splitlines()[-LIVE_LINES:] if text else []
            what = "interrupting…" if self.cancel.is_set() else "esc to interrupt"
            return "\n".join(lines + [f"{frame()} working… ({what})"])

        layout = Layout(HSplit([
            Window(FormattedTextControl(body), wrap_lines=True,
                   height=Dimension(min=1, max=LIVE_LINES + 1), dont_extend_height=True),
            Window(FormattedTextControl(lambda: [("reverse", " " + self.status() + " ")]),
                   height=1, dont_extend_height=True,
                   style="", always_hide_cursor=True),
        ]))
        app: Application = Application(layout=layout, key_bindings=kb, input=self.input,
                                       output=self.output, refresh_interval=0.1,
                                       erase_when_done=True, full_screen=False)

        async def watch() -> None:
            while not done.is_set() and self._questions.empty():
                await asyncio.sleep(0.03)
            app.exit()

        app.run(pre_run=lambda: app.create_background_task(watch()), handle_sigint=False)
