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
Rungs 3 and 4 fold look-alikes too. When no rung matches, the ladder is climbed again
with a blank first line of `old` dropped (models add one), and then, when `old` has
elided-context lines (`...`), piece by piece (see edit_elide).

An edit never joins lines the model did not ask to join: a line break at either end of
`old` that `new` lacks is kept, the match then beginning (ending) a line.

Lines of `new` that are identical to a line of `old` (context the model copied) are
written back as the file had them, so tolerance never rewrites untouched lines.
"""
from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass

from tools.base import ToolError
from tools.files.edit_elide import Finder, match_chains, pair_pieces, split_elided
from tools.files.edit_rungs import LADDER, Span, fold, split_lines


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
    if old != new and (kept := keep_line_breaks(old, new))[0] == kept[1]:
        raise ToolError(f"{name}: old_string and new_string differ only in a line break at "
                        f"their start or end, which edit_file keeps (it never joins lines on "
                        f"its own); to join lines, give the whole lines in both")
    rung, matches = _find_matches(text, old, new, name)
    if len(matches) > 1 and not replace_all:
        at = [line_of(text, m[0].start) for m in matches]
        where = f"at lines {_and_list(at)}" if len(set(at)) > 1 else f"all on line {at[0]}"
        raise ToolError(f"{name}: old_string matches {len(matches)} places, {where}; add "
                        f"surrounding lines to make it unique, or set replace_all=true")
    return rung, [s for m in _disjoint(matches) for s in m]


def _disjoint(matches: list[tuple[Span, ...]]) -> list[tuple[Span, ...]]:
    """The matches that do not overlap one before them (elided matches may)."""
    kept: list[tuple[Span, ...]] = []
    for m in matches:
        if not kept or m[0].start >= kept[-1][-1].end:
            kept.append(m)
    return kept


def _find_matches(text: str, old: str, new: str, name: str
                  ) -> tuple[str, list[tuple[Span, ...]]]:
    """(rung, matches): each match the spans it replaces (several for elided context)."""
    found = ladder_finder(text, old, new)(0)
    if found is not None:
        return found[0], [(s,) for s in found[1]]
    if len(split_elided(old)) == 1:
        raise ToolError(no_match_message(text, old, name))
    pieces = pair_pieces(old, new, name)
    rungs, chains, failed = match_chains([ladder_finder(text, o, n) for _, o, n in pieces])
    if failed is not None:
        k, after = failed
        where, piece, _ = pieces[k]
        raise ToolError(no_match_message(text, piece, name,
                                         what=f"the part of old_string {where}",
                                         after_line=line_of(text, after) if k else None))
    used = dict.fromkeys(r for rung in rungs for r in rung.split(" + ") if r != "exact")
    return " + ".join(["elided context", *used]), chains


# The line breaks (and blanks) a string starts with, and those it ends with; blanks
# before a first line break, and after a last one.
_LEAD = re.compile(r"\A\s*\n")
_TRAIL = re.compile(r"\n\s*\Z")
_LEAD_BLANKS = re.compile(r"\A[^\S\n]+(?=\n)")
_TRAIL_BLANKS = re.compile(r"(?<=\n)[^\S\n]+\Z")


def keep_line_breaks(old: str, new: str) -> tuple[str, str, bool, bool]:
    """`old` and `new` such that the edit leaves the neighbouring lines whole, and
    whether a match must then begin a line and end one.

    Models write "\\ndef f():..." for a block that starts a line, or end old_string with
    its last line's newline and new_string without: taken literally, the replacement
    would join the neighbouring line onto it, so that line break is left out of `old`
    and kept. A deletion (empty `new`) keeps its line breaks but must take whole lines,
    or what is left of them would be joined. Blanks that `new` has before its first or
    after its last line break, where `old` has that line break and none, would land
    on the neighbouring line: they are dropped.
    """
    at_start = at_end = False
    if not old.strip():
        return old, new, at_start, at_end  # only blanks and breaks: joining is the point
    if (lead := _LEAD.match(old)) and not _LEAD.match(new):
        if new or _TRAIL.search(old):
            old, at_start = old[lead.end():], True
        else:
            at_end = True
    if (trail := _TRAIL.search(old)) and not _TRAIL.search(new):
        if new:
            old, at_end = old[:trail.start()], True
        else:
            at_start = True
    if old.startswith("\n"):
        new = _LEAD_BLANKS.sub("", new)
    if old.endswith("\n"):
        new = _TRAIL_BLANKS.sub("", new)
    return old, new, at_start, at_end


def drop_leading_blank(old: str, new: str) -> tuple[str, str] | None:
    """`old` and `new` without the blank first line `old` has (`new` keeps its first
    line unless that is blank too); None when `old` has no blank first line to drop."""
    first, _, rest = old.partition("\n")
    if first.strip() or not rest.strip():
        return None
    new_first, sep, new_rest = new.partition("\n")
    return rest, (new_rest if sep and not new_first.strip() else new)


def ladder_finder(text: str, old: str, new: str) -> Finder:
    """The function that finds `old` in `text` at or after a position: the first rung
    with a match there, and its spans; then the same with a blank first line of `old`
    dropped. Each rung's matches are computed once, when first needed.
    """
    old, new, at_start, at_end = keep_line_breaks(old, new)
    tries = [("", old, new, at_start, at_end)]
    if (dropped := drop_leading_blank(old, new)) is not None:
        tries.append(("leading blank line + ", *dropped, True, at_end))
    cache: dict[tuple[int, int], tuple[list[Span], list[int]]] = {}  # spans, their starts

    def find(after: int) -> tuple[str, list[Span]] | None:
        for t, (note, o, n, first, last) in enumerate(tries):
            for r, (rung, finder, whole_lines) in enumerate(LADDER):
                if (t, r) not in cache:
                    spans = [s for s in finder(text, o, n)
                             if whole_lines or _on_line_bounds(text, s, first, last)]
                    cache[t, r] = spans, [s.start for s in spans]
                spans, starts = cache[t, r]
                if (k := bisect.bisect_left(starts, after)) < len(spans):
                    return note + rung, spans[k:]
        return None

    return find


def _on_line_bounds(text: str, s: Span, at_start: bool, at_end: bool) -> bool:
    """Whether `s` begins a line (if `at_start`) and ends one (if `at_end`; the end of a
    text that ends in a newline begins the empty line after it)."""
    ends_line = text[s.end] == "\n" if s.end < len(text) else not text.endswith("\n")
    return ((not at_start or s.start == 0 or text[s.start - 1] == "\n")
            and (not at_end or ends_line))


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


# --- when nothing matches: show the closest block ---------------------------------------

def closest_block(text: str, old: str) -> tuple[int, int, float] | None:
    """The run of lines most similar to `old`: (first line, last line, ratio 0..1).

    Windows of as many lines as `old` are compared on stripped, folded lines. On big
    inputs only the windows sharing the most lines with `old` are scored exactly.
    """
    old_lines, _ = split_lines(old)
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


def no_match_message(text: str, old: str, name: str, *, what: str = "old_string",
                     after_line: int | None = None, max_lines: int = 30) -> str:
    """The ToolError text when `old` (`what`, searched from `after_line`) is nowhere:
    the closest block, numbered."""
    where = f" at or after line {after_line}" if after_line else ""
    msg = f"{name}: {what} not found{where} (also tried ignoring whitespace, indentation " \
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
