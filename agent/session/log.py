"""Session logs: one append-only JSONL file a session, one event a line, flushed per event.

A run killed with SIGKILL loses at most the event being written.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, Iterator

from agent.core.events import Event
from agent.config.home import sessions_dir, unwritable


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class SessionLog:
    """An EventSink that appends each event to `sessions/<id>.jsonl`."""

    def __init__(self, session_id: str, directory: Path | None = None):
        self.session_id = session_id
        self.path = (directory or sessions_dir()) / f"{session_id}.jsonl"
        try:
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as e:    # the folder took a mkdir but not this file (quota, mount)
            raise unwritable(self.path, e) from None

    def __call__(self, event: Event) -> None:
        self.write(event.to_dict())

    def write(self, record: dict[str, Any]) -> None:
        record = {"ts": round(time.time(), 3), **record}
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()
        if record.get("type") == "result":  # the outcome must survive a crash right after
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_session(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a session log; a torn last line (killed mid-write) is skipped."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
