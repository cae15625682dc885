"""Where does `old_string` sit in a file, and what replaces it? The edit_file ladder.

Pure functions on LF text (the caller turns CRLF files and CRLF arguments into LF
first, which is the CRLF-vs-LF rung). The ladder, first rung with any match wins:

1. exact            — `old` is a substring of the text.
2. unicode          — equal once typographic look-alikes are folded (curly quotes,
                      en/em dashes, minus sign, non-breaking and other odd spaces).
3. trailing space   — whole lines equal once trailing whitespace is ignored.
4. indentation      — whole lines equal apart from one consistent indentation shift;
                      `new` is re-indented by the same shift. An unindented first
                      line may be one copied from after its indentation.
Rungs 3 and 4 fold look-alikes too.

Lines of `new` that are identical to a line of `old` (context the model copied) are
written back as the file had them, so tolerance never rewrites untouched lines.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from tools.base import ToolError

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


@dataclass(frozen=True)
class EditOutcome:
    """The result of `apply_edit`.

    text:  the new text (LF).
    rung:  which rung matched ("exact", "unicode look-alikes", ...).
    lines: for each replacement, (first line, last line) it occupies in the new text,
           1-based; last < first when it is empty.
    """

    text: str
    rung: str
    lines: tuple[tuple[int, int], ...]


def apply_edit(text: str, old: str, new: str, *, replace_all: bool = False,
               name: str = "file") -> EditOutcome:
    """Replace `old` by `new` in `text`, climbing the ladder until something matches.

    Raises ToolError: no match (naming the closest block), or several matches
    without `replace_all` (naming their lines).
    """
    rung, spans = find_spans(text, old, new, replace_all=replace_all, name=name)
    return splice(text, spans, rung)


def find_spans(text: str, old: str, new: str, *, replace_all: bool = False,
               name: str = "file") -> tuple[str, list[Span]]:
    """(rung, spans) for replacing `old` by `new` in `text`; errors as `apply_edit`."""
    old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    for rung, finder in _LADDER:
        spans = finder(text, old, new)
        if spans:
            break
    else:
        raise ToolError(no_match_message(text, old, name))
    if len(spans) > 1 and not replace_all:
        at = [line_of(text, s.start) for s in spans]
        where = f"at lines {_and_list(at)}" if len(set(at)) > 1 else f"all on line {at[0]}"
        raise ToolError(f"{name}: old_string matches {len(spans)} places, {where}; add "
                        f"surrounding lines to make it unique, or set replace_all=true")
    return rung, spans


def _and_list(nums: list[int], most: int = 10) -> str:
    if len(nums) == 2:
        return f"{nums[0]} and {nums[1]}"
    return ", ".join(map(str, nums[:most])) + (", ..." if len(nums) > most else "")


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def splice(text: str, spans: list[Span], rung: str = "exact") -> EditOutcome:
    """Put each span's replacement in place; spans are sorted and disjoint."""
    out: list[str] = []
    lines: list[tuple[int, int]] = []
    pos = 0
    line = 1
    for s in spans:
        chunk = text[pos:s.start]
        out.append(chunk)
        line += chunk.count("\n")
        body = s.replacement
        last = line + body.rstrip("\n").count("\n") if body.strip("\n") else line - 1
        lines.append((line, last))
        out.append(body)
        line += body.count("\n")
        pos = s.end
    out.append(text[pos:])
    return EditOutcome(text="".join(out), rung=rung, lines=tuple(lines))


# --- the rungs: each returns the non-overlapping matches as spans -----------------------

def _find_all(hay: str, needle: str) -> list[int]:
    found, i = [], hay.find(needle)
    while i >= 0 and needle:
        found.append(i)
        i = hay.find(needle, i + len(needle))
    return found


def _exact(text: str, old: str, new: str) -> list[Span]:
    return [Span(i, i + len(old), new) for i in _find_all(text, old)]


def _unicode(text: str, old: str, new: str) -> list[Span]:
    folded_old = fold(old)
    if folded_old == old and fold(text) == text:
        return []  # nothing to fold: the exact rung already answered
    spans = []
    for i in _find_all(fold(text), folded_old):
        seg = text[i:i + len(old)]
        spans.append(Span(i, i + len(old), adapt(seg, old, new)))
    return spans


def _split(s: str) -> tuple[list[str], bool]:
    """Lines of `s` and whether it ended with a newline."""
    nl = s.endswith("\n")
    return (s[:-1] if nl else s).split("\n"), nl


def _indent(s: str) -> str:
    return s[:len(s) - len(s.lstrip(" \t"))]


def _line_rung(same: Callable[[list[str], list[str]], "Callable[[str], str] | None"],
               *, loose_first: bool = False):
    """A rung that compares whole lines: `same(file_lines, old_lines)` returns the
    re-indent function for `new` when the window matches, else None.

    With `loose_first`, an unindented first line of `old` may also match an indented
    file line by content alone: the model copied it from after the indentation. The
    match then starts after that indentation and `new`'s first line goes there as is.
    """

    def find(text: str, old: str, new: str) -> list[Span]:
        old_lines, old_nl = _split(old)
        if not old.strip():
            return []
        lines = text.split("\n")
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
                start, first_in_place = start + len(_indent(window[0])), True
            if reindent is None:
                i += 1
                continue
            end = starts[i + n - 1] + len(lines[i + n - 1])
            if old_nl and i + n < len(lines):
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
    seg_lines, _ = _split(seg)
    old_lines, _ = _split(old)
    new_lines, new_nl = _split(new)
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


_LADDER: tuple[tuple[str, Callable[[str, str, str], list[Span]]], ...] = (
    ("exact", _exact),
    ("unicode look-alikes", _unicode),
    ("trailing whitespace", _line_rung(same_trailing)),
    ("indentation", _line_rung(same_shifted, loose_first=True)),
)


# --- when nothing matches: show the closest block ---------------------------------------

def closest_block(text: str, old: str) -> tuple[int, int, float] | None:
    """The run of lines most similar to `old`: (first line, last line, ratio 0..1).

    Windows of as many lines as `old` are compared on stripped, folded lines. On big
    inputs only the windows sharing the most lines with `old` are scored exactly.
    """
    old_lines, _ = _split(old)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if not lines or not old.strip():
        return None
    key = lambda s: fold(s).strip()  # noqa: E731
    keys = [key(ln) for ln in lines]
    n = min(len(old_lines), len(lines))
    starts = list(range(len(lines) - n + 1))
    if len(lines) * n > 40_000:
        wanted = {key(o) for o in old_lines if key(o)}
        hits = [0]
        for k in keys:
            hits.append(hits[-1] + (k in wanted))
        starts.sort(key=lambda s: hits[s + n] - hits[s], reverse=True)
        starts = sorted(starts[:300])
    sm = difflib.SequenceMatcher(None, autojunk=False)
    sm.set_seq2("\n".join(key(o) for o in old_lines))
    best, best_at = 0.0, None
    for s in starts:
        sm.set_seq1("\n".join(keys[s:s + n]))
        if sm.real_quick_ratio() <= best or sm.quick_ratio() <= best:
            continue
        r = sm.ratio()
        if r > best:
            best, best_at = r, s
    if best_at is None:
        return None
    return best_at + 1, best_at + n, best


def no_match_message(text: str, old: str, name: str, *, max_lines: int = 30) -> str:
    """The ToolError text when `old` is nowhere: the closest block, numbered."""
    msg = f"{name}: old_string not found (also tried ignoring whitespace, indentation " \
          f"and quote/dash look-alikes)"
    near = closest_block(text, old)
    if near is None or near[2] < 0.3:
        return msg + ". Read the file again to see its current content."
    first, last, ratio = near
    lines = text.split("\n")
    shown = [f"{i:6}\t{lines[i - 1]}" for i in range(first, min(last, first + max_lines - 1) + 1)]
    if last > first + max_lines - 1:
        shown.append("   ...")
    return (f"{msg}; closest is lines {first}–{last} ({ratio:.0%} similar):\n"
            + "\n".join(shown) + "\nCopy old_string exactly from the file's current text.")
