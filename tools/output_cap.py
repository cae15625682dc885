"""Long output, capped: keep its head and its tail, and say what was cut from the middle.

The one owner of that cut: a command's output as it streams out of the sandbox
(`HeadTail`), and any text already in hand (`cap_output`: the git tool's output, the
`--verify` feedback). The head gets 2/5 of the limit, the tail the rest: an error is
usually at the end.
"""
from __future__ import annotations

OUTPUT_LIMIT = 30_000  # characters kept of one command's output (head + tail)


def cap_output(text: str, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
    """Keep the head and tail of `text` within `limit` characters, noting what was cut.

    Returns (capped_text, was_truncated).
    """
    if len(text) <= limit:
        return text, False
    head, _ = _sizes(limit)
    return _cut(text[:head], text[head:], limit, 0, 0), True


class HeadTail:
    """Bytes kept while they stream in: the first `keep` and the last `keep`, so memory
    stays bounded however much comes; what falls between is only counted."""

    def __init__(self, keep: int = OUTPUT_LIMIT * 4):
        self._keep = keep
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._dropped_lines = 0

    def feed(self, data: bytes) -> None:
        room = self._keep - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        if len(self._tail) > self._keep:
            extra = len(self._tail) - self._keep
            self._dropped += extra
            self._dropped_lines += self._tail.count(b"\n", 0, extra)
            del self._tail[:extra]

    def text(self, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
        """What was fed, decoded (UTF-8, errors replaced) and capped to `limit`
        characters. Returns (text, was_truncated)."""
        head = self._head.decode("utf-8", "replace")
        tail = self._tail.decode("utf-8", "replace")
        if not self._dropped:
            return cap_output(head + tail, limit)
        return _cut(head, tail, limit, self._dropped, self._dropped_lines), True


def _sizes(limit: int) -> tuple[int, int]:
    """(characters kept from the head, from the tail) under `limit`."""
    head = limit * 2 // 5
    return head, limit - head


def _cut(head: str, tail: str, limit: int, missing: int, missing_lines: int) -> str:
    """The start of `head` and the end of `tail` (see `_sizes`), and a note of what went
    between them (`missing`: bytes already dropped there, so the count is "about")."""
    h, t = _sizes(limit)
    cut = head[h:] + tail[:max(0, len(tail) - t)]
    about = "about " if missing else ""
    lines = cut.count("\n") + missing_lines
    note = (f"\n[... {about}{len(cut) + missing} characters ({lines} lines) cut from the "
            f"middle ...]\n")
    return head[:h] + note + tail[max(0, len(tail) - t):]
