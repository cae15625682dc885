"""Ctrl-C and SIGTERM in a headless run: the first asks the loop to stop (the run ends
with `error_interrupted`, exit 130, and its result object); a second one aborts."""
from __future__ import annotations

import signal
import threading


def install_interrupt(cancel: threading.Event):
    """First SIGINT/SIGTERM asks the loop to stop; a second one aborts. Returns the
    function that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    for s in previous:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)
    return restore
