"""Text files as the tools see them: bytes ⇄ text with the file's format kept.

A file's *format* is its encoding (utf-8, utf-8 with BOM, utf-16 with BOM, or the
latin-1 fallback for bytes that are not utf-8) and its dominant line ending. Tools
work on text with `\\n` line endings and write it back in the file's own format, so
an edit never turns a CRLF file into LF or drops a BOM. All functions are pure.
"""
from __future__ import annotations

import codecs
import difflib
from dataclasses import dataclass

from tools.base import ToolError

SNIFF_BYTES = 8192


@dataclass(frozen=True)
class TextFormat:
    """How a text file is stored.

    encoding: a Python codec name: "utf-8", "utf-8-sig" (BOM), "utf-16" (BOM), "latin-1".
    newline:  "\\n" or "\\r\\n": the ending most of its lines use.
    """

    encoding: str = "utf-8"
    newline: str = "\n"


DEFAULT_FORMAT = TextFormat()


def binary_kind(data: bytes) -> str | None:
    """A short description if `data` looks binary (None for text).

    Text with a utf-16/32 BOM is text. Otherwise a NUL byte, or many control bytes,
    in the first few KB means binary.
    """
    head = data[:SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary data"
    if head:
        controls = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\b\x1b")
        if controls / len(head) > 0.10:
            return "binary data"
    return None


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"), (b"%PDF", "PDF document"), (b"PK\x03\x04", "zip archive"),
    (b"\x7fELF", "ELF executable"), (b"\x1f\x8b", "gzip archive"),
    (b"RIFF", "RIFF media"), (b"\x00asm", "WebAssembly module"),
)


def decode(data: bytes) -> tuple[str, TextFormat]:
    """Decode file bytes to (text, format). Line endings in `text` are left as stored.

    Callers check `binary_kind` first; this never fails (latin-1 takes any bytes).
    """
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        try:
            data.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            enc = "latin-1"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:  # a broken utf-16 file
        enc, text = "latin-1", data.decode("latin-1")
    return text, TextFormat(encoding=enc, newline=dominant_newline(text))


def dominant_newline(text: str) -> str:
    """"\\r\\n" when more lines end in CRLF than in a bare LF, else "\\n"."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf > text.count("\n") - crlf else "\n"


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def to_newline(text_lf: str, newline: str) -> str:
    """Turn every `\\n` of LF text into `newline` (leaving existing CRLFs alone)."""
    if newline == "\n":
        return text_lf
    return to_lf(text_lf).replace("\n", newline)


def encode(text: str, fmt: TextFormat, *, name: str = "file") -> bytes:
    """Encode text in the file's encoding; ToolError if a character does not fit."""
    try:
        return text.encode(fmt.encoding)
    except UnicodeEncodeError as e:
        bad = text[e.start:e.end]
        raise ToolError(f"{name}: the file is {fmt.encoding}-encoded and cannot hold "
                        f"{bad!r}; use characters that encoding has") from None


def line_stats(old: str, new: str) -> tuple[int, int]:
    """(lines added, lines removed) between two texts."""
    added = removed = 0
    sm = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def plus_minus(added: int, removed: int) -> str:
    return f"+{added} −{removed}"


def split_lines(text: str) -> list[str]:
    """Split on `\\n` only (as editors, grep and diff count lines), dropping a
    trailing `\\r` from each line and the empty piece after a final newline."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
