"""The rungs of the edit_file ladder: the ways one old_string may match file text. Pure.

Each rung takes (text, old, new) and returns the non-overlapping matches as spans,
their replacements adapted to the file (see edit_match for the order they are tried in).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

# One character for one character, so positions in folded text are positions in the text.
_FOLD = str.maketrans({
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                    "\u2009\u200a\u202f\u205f\u3000", " "),
})


def fold(s: str) -> str:
    """Map typographic look-alikes to their ASCII forms (same length as `s`)."""
    return s.translate(_FOLD)


@dataclass(frozen=True)
class Span:
    """A match: text[start:end] is replaced by `replacement`."""

    start: int
    end: int
    replacement: str


def _find_all(hay: str, needle: str) -> list[int]:
    found, i = [], hay.find(needle)
    while i >= 0 and needle:
        found.append(i)
        i = hay.find(needle, i + len(needle))
    return found


def find_exact(text: str, old: str, new: str) -> list[Span]:
    return [Span(i, i + len(old), new) for i in _find_all(text, old)]


def find_unicode(text: str, old: str, new: str) -> list[Span]:
    folded_old = fold(old)
    if folded_old == old and fold(text) == text:
        return []  # nothing to fold: the exact rung already answered
    spans = []
    for i in _find_all(fold(text), folded_old):
        seg = text[i:i + len(old)]
        spans.append(Span(i, i + len(old), adapt(seg, old, new)))
    return spans


def split_lines(s: str) -> tuple[list[str], bool]:
    """Lines of `s` and whether it ended with a newline."""
    nl = s.endswith("\n")
    return (s[:-1] if nl else s).split("\n"), nl


def _indent(s: str) -> str:
    return s[:len(s) - len(s.lstrip(" \t"))]


def line_rung(same: Callable[[list[str], list[str]], "Callable[[str], str] | None"],
               *, loose_first: bool = False):
    """A rung that compares whole lines: `same(file_lines, old_lines)` returns the
    re-indent function for `new` when the window matches, else None.

    With `loose_first`, an unindented first line of `old` may also match an indented
    file line by content alone: the model copied it from after the indentation. The
    match then starts after that indentation and `new`'s first line goes there as is.
    """

    def find(text: str, old: str, new: str) -> list[Span]:
        old_lines, old_nl = split_lines(old)
        if not old.strip():
            return []
        lines, _ = split_lines(text)  # the empty "line" after a final newline is none
        starts = [0]
        for ln in lines[:-1]:
            starts.append(starts[-1] + len(ln) + 1)
        n = len(old_lines)
        mid_line_ok = loose_first and n > 1 and not _indent(old_lines[0]) \
            and old_lines[0].strip() != ""
        spans: list[Span] = []
        i = 0
        while i + n <= len(lines):
            window = lines[i:i + n]
            start, first_in_place = starts[i], False
            reindent = same(window, old_lines)
            if reindent is None and mid_line_ok and _indent(window[0]) \
                    and fold(window[0]).strip() == fold(old_lines[0]).strip():
                reindent = same(window[1:], old_lines[1:])
                if new:  # a deletion takes the whole line, its indentation too
                    start, first_in_place = start + len(_indent(window[0])), True
            if reindent is None:
                i += 1
                continue
            end = starts[i + n - 1] + len(lines[i + n - 1])
            if old_nl and end < len(text):
                end += 1
            seg = text[start:end]
            spans.append(Span(start, end, adapt(seg, old, new, reindent,
                                                first_in_place=first_in_place)))
            i += n
        return spans

    return find


def same_trailing(window: list[str], old_lines: list[str]):
    """`_keep` if the lines are equal up to trailing whitespace and look-alikes, else None."""
    if all(fold(f).rstrip() == fold(o).rstrip() for f, o in zip(window, old_lines)):
        return _keep
    return None


def same_shifted(window: list[str], old_lines: list[str]):
    """If the lines are equal but for one consistent indentation shift (and trailing
    whitespace, look-alikes), the function that re-indents a new line by that shift;
    else None."""
    shift: tuple[str, str] | None = None  # (prefix to add, prefix to remove)
    for f, o in zip(window, old_lines):
        if not o.strip():
            if f.strip():
                return None
            continue
        if fold(f).strip() != fold(o).strip():
            return None
        fi, oi = _indent(f), _indent(o)
        if fi.endswith(oi):
            s = (fi[:len(fi) - len(oi)], "")
        elif oi.endswith(fi):
            s = ("", oi[:len(oi) - len(fi)])
        else:
            return None
        if shift is None:
            shift = s
        elif s != shift:
            return None
    if shift is None:
        return None
    add, remove = shift
    return lambda line: _reindent(line, add, remove)


def _keep(line: str) -> str:
    return line


def _reindent(line: str, add: str, remove: str) -> str:
    if not line.strip():
        return line
    if remove:
        ind = _indent(line)
        return line[min(len(remove), len(ind)):]
    return add + line


def adapt(seg: str, old: str, new: str, reindent: Callable[[str], str] = _keep, *,
          first_in_place: bool = False) -> str:
    """The replacement for file text `seg` that matched `old` loosely.

    Lines of `new` equal to a line of `old` become the file's line at that place;
    the other lines of `new` go through `reindent` (all but the first when
    `first_in_place`: it continues a line whose indentation stays in the file).
    """
    old_lines, old_nl = split_lines(old)
    # `seg` has as many lines as `old`: its last newline ends a line only where old's does
    seg_lines = (seg[:-1] if old_nl and seg.endswith("\n") else seg).split("\n")
    new_lines, new_nl = split_lines(new)
    if not new:
        return ""
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal" and len(seg_lines) == len(old_lines):
            out.extend(seg_lines[i1:i2])
        else:
            out.extend(x if first_in_place and j == 0 else reindent(x)
                       for j, x in enumerate(new_lines[j1:j2], j1))
    return "\n".join(out) + ("\n" if new_nl else "")


# (name, finder, whether its matches are whole lines by construction)
LADDER: tuple[tuple[str, Callable[[str, str, str], list[Span]], bool], ...] = (
    ("exact", find_exact, False),
    ("unicode look-alikes", find_unicode, False),
    ("trailing whitespace", line_rung(same_trailing), True),
    ("indentation", line_rung(same_shifted, loose_first=True), True),
)
