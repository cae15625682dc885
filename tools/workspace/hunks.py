"""Hunks of one text file, as pure functions: compute them, split one, apply any subset,
apply them to a file that changed meanwhile (by context), let the user edit one, and
find the words that differ between two lines (for highlighting)."""
from __future__ import annotations

import difflib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

CONTEXT = 3


@dataclass(frozen=True)
class Hunk:
    """One hunk of a text file. `lines` keep their diff prefix (' ', '-', '+').

    old_start is 0-based into the old file's lines; old_len lines are replaced.
    """
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[str, ...]

    @property
    def header(self) -> str:
        return (f"@@ -{self.old_start + (1 if self.old_len else 0)},{self.old_len} "
                f"+{self.new_start + (1 if self.new_len else 0)},{self.new_len} @@")

    @property
    def old_lines(self) -> list[str]:
        return [l[1:] for l in self.lines if l[:1] in (" ", "-")]

    @property
    def new_lines(self) -> list[str]:
        return [l[1:] for l in self.lines if l[:1] in (" ", "+")]

    @property
    def additions(self) -> int:
        return sum(l.startswith("+") for l in self.lines)

    @property
    def deletions(self) -> int:
        return sum(l.startswith("-") for l in self.lines)

    def text(self) -> str:
        """The hunk as unified-diff text (header and lines, newline-terminated)."""
        return self.header + "\n" + "".join(_show(l) for l in self.lines)


def _show(line: str) -> str:
    """A diff line for display: newline-terminated, with git's marker when it had none."""
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def compute_hunks(old: str, new: str, context: int = CONTEXT) -> list[Hunk]:
    """The hunks that turn `old` into `new` (lines keep their line endings)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    hunks = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        lines: list[str] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + l for l in a[i1:i2]]
            else:
                lines += ["-" + l for l in a[i1:i2]] + ["+" + l for l in b[j1:j2]]
        i1, j1 = group[0][1], group[0][3]
        i2, j2 = group[-1][2], group[-1][4]
        hunks.append(Hunk(i1, i2 - i1, j1, j2 - j1, tuple(lines)))
    return hunks


def split_hunk(h: Hunk) -> list[Hunk]:
    """The hunk cut where context lines separate its changes (the "s" of `git add -p`).

    The parts partition the hunk's lines: the context between two runs of changes opens
    the later part. So any subset of the parts applies exactly (`apply_hunks`), and all of
    them together do what `h` does. A hunk with one run of changes comes back as [h].
    """
    starts = [0]  # index into h.lines where each part begins
    seen_change, run_start = False, None  # run_start: where the current run of context began
    for i, line in enumerate(h.lines):
        if line[:1] == " ":
            run_start = i if run_start is None else run_start
            continue
        if seen_change and run_start is not None:  # context between two changes opens a part
            starts.append(run_start)
        seen_change, run_start = True, None
    if len(starts) == 1:
        return [h]
    parts, old_at, new_at = [], h.old_start, h.new_start
    for begin, end in zip(starts, starts[1:] + [len(h.lines)]):
        lines = h.lines[begin:end]
        old_len = sum(l[:1] in (" ", "-") for l in lines)
        new_len = sum(l[:1] in (" ", "+") for l in lines)
        parts.append(Hunk(old_at, old_len, new_at, new_len, lines))
        old_at, new_at = old_at + old_len, new_at + new_len
    return parts


class HunkConflict(Exception):
    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def apply_hunks(old: str, hunks: list[Hunk]) -> str:
    """Apply hunks computed against `old` itself (positions are exact)."""
    a = old.splitlines(keepends=True)
    out, pos = [], 0
    for h in sorted(hunks, key=lambda h: h.old_start):
        out += a[pos:h.old_start]
        out += h.new_lines
        pos = h.old_start + h.old_len
    out += a[pos:]
    return "".join(out)


def apply_hunks_fuzzy(current: str, hunks: list[tuple[int, Hunk]]) -> str:
    """Apply hunks to a file that may have changed since they were computed.

    Each hunk's old lines (context included) must appear in `current`; the occurrence
    nearest the hunk's original position wins. Raises HunkConflict(index) for the first
    hunk that does not apply (`hunks` holds (index, hunk) pairs for the message).
    """
    lines = current.splitlines(keepends=True)
    offset = 0
    for index, h in sorted(hunks, key=lambda p: p[1].old_start):
        want = h.old_lines
        expected = h.old_start + offset
        found = _find_block(lines, want, expected)
        if found is None:
            raise HunkConflict(index, f"hunk {index + 1} ({h.header}) no longer applies: "
                                      f"those lines changed in your copy")
        lines[found:found + len(want)] = h.new_lines
        offset = found - h.old_start + len(h.new_lines) - len(want)
    return "".join(lines)


def _find_block(lines: list[str], want: list[str], expected: int) -> int | None:
    if not want:  # a pure insertion into an empty region: trust the position
        return min(max(expected, 0), len(lines))
    n = len(want)
    starts = [i for i in range(len(lines) - n + 1) if lines[i:i + n] == want]
    if not starts:
        return None
    return min(starts, key=lambda i: abs(i - expected))


# ---- editing one hunk --------------------------------------------------------------

_EDIT_HELP = ("# Edit the hunk: change or delete '+' lines, turn '-' lines into ' ' lines to\n"
              "# keep them. Context (' ') and '-' lines must stay as they are. Lines\n"
              "# starting with '#' are ignored. Empty the file to leave the hunk undecided.\n")


def hunk_edit_text(h: Hunk) -> str:
    """The text shown in $EDITOR for a hunk."""
    return _EDIT_HELP + h.header + "\n" + "".join(l if l.endswith("\n") else l + "\n"
                                                 for l in h.lines)


def parse_edited_hunk(original: Hunk, text: str) -> Hunk | None:
    """The hunk the user wrote in the editor; None if they emptied it.

    Raises ValueError (with a message for the user) if the old side changed.
    """
    body = [l for l in text.splitlines(keepends=True)
            if not l.startswith("#") and not l.startswith("@@") and not l.startswith("\\")]
    if not any(l.strip() for l in body):
        return None
    lines: list[str] = []
    for raw in body:
        if raw in ("\n", ""):
            raw = " \n"   # editors strip trailing spaces from empty context lines
        if raw[0] not in " -+":
            raise ValueError(f"line {raw.rstrip()!r} does not start with ' ', '-' or '+'")
        lines.append(raw)
    # Lines at the end of a file may have had no final newline; the editor adds one.
    no_newline = {l for l in original.lines if not l.endswith("\n")}
    fixed = [l[:-1] if l[:-1] in no_newline else l for l in lines]
    edited = Hunk(original.old_start, original.old_len, original.new_start, 0, tuple(fixed))
    if edited.old_lines != original.old_lines:
        raise ValueError("the edit changed context or '-' lines; only '+' lines may change, "
                         "and '-' lines may become ' ' lines")
    return replace(edited, new_len=len(edited.new_lines))


def edit_hunk(h: Hunk, editor: str | None = None) -> Hunk | None:
    """Open the hunk in $EDITOR (VISUAL, EDITOR, else vi) and return the edited hunk."""
    editor = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=False, encoding="utf-8") as fh:
        fh.write(hunk_edit_text(h))
        path = fh.name
    try:
        subprocess.run(f'{editor} "{path}"', shell=True, check=True)
        return parse_edited_hunk(h, Path(path).read_text(encoding="utf-8"))
    finally:
        os.unlink(path)


_WORD = re.compile(r"\w+|\s+|[^\w\s]")


def word_spans(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character spans that differ between two lines, word by word: (in old, in new)."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    pa = [0]
    for t in a:
        pa.append(pa[-1] + len(t))
    pb = [0]
    for t in b:
        pb.append(pb[-1] + len(t))
    sa, sb = [], []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            sa.append((pa[i1], pa[i2]))
        if j2 > j1:
            sb.append((pb[j1], pb[j2]))
    return sa, sb
