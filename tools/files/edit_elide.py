"""Elided context in edit_file: `...` lines that stand for unchanged lines. Pure.

Models shorten a long old_string by writing `...` (or `# ...`, `// ...`) on a line of
its own for the lines they did not copy. As aider does, old_string and new_string are
both split at those lines; the k-th piece of old_string is replaced by the k-th piece of
new_string, each piece is found after the one before it, and the lines between the
pieces stay as the file has them. All pieces match or nothing is changed.
"""
from __future__ import annotations

import re
from typing import Callable, Protocol, Sequence

from tools.base import ToolError

# The whole line: `...`, `# ...` or `// ...`, with any indentation.
_ELISION = re.compile(r"^[ \t]*(?:(?:#|//)[ \t]*)?\.\.\.[ \t]*(?:\n|\Z)", re.MULTILINE)


class Located(Protocol):
    """A match of a piece: text[start:end] (edit_match.Span)."""

    start: int
    end: int


# search from -> (rung, the matches at or after it, in order), or None
Finder = Callable[[int], "tuple[str, Sequence[Located]] | None"]


def split_elided(s: str) -> list[str]:
    """`s` cut at its elision lines (which are dropped); one piece when there are none."""
    return _ELISION.split(s)


def pair_pieces(old: str, new: str, name: str) -> list[tuple[str, str, str]]:
    """The (where, old piece, new piece) triples to match in order; empty pairs left
    out. `where` names the piece's place in messages ("after the last '...' line").

    Raises ToolError when the two sides elide at a different number of places, or a
    piece of new_string has no piece of old_string to replace.
    """
    olds, news = split_elided(old), split_elided(new)
    if len(olds) != len(news):
        raise ToolError(
            f"{name}: old_string has {len(olds) - 1} elided-context line(s) ('...') and "
            f"new_string {len(news) - 1}; put a '...' line in new_string at each place it "
            f"stands in old_string, so the lines it stands for stay as they are")
    pairs = []
    for k, (o, n) in enumerate(zip(olds, news)):
        where = _piece_place(k, len(olds))
        if not o.strip():
            if n.strip():
                raise ToolError(
                    f"{name}: new_string has text {where}, where old_string has none to "
                    f"replace; copy a line of the file there into old_string")
            continue
        pairs.append((where, o, n))
    if not pairs:
        raise ToolError(f"{name}: old_string is only '...' lines; copy the lines to change "
                        f"from the file")
    return pairs


def match_chains(finders: Sequence[Finder]
                 ) -> tuple[list[str], list[tuple[Located, ...]], tuple[int, int] | None]:
    """Every way the pieces match in order, as chains of matches, one per place the
    first piece matches (chains may overlap).

    `finders[k]` finds piece k; each later piece is its nearest match after the piece
    before. Returns (rungs used, chains, and when no chain is complete: the furthest
    piece that did not match and where its search began).
    """
    first = finders[0](0)
    if first is None:
        return [], [], (0, 0)
    rungs, chains, failed = [first[0]], [], None
    for head in first[1]:
        chain = [head]
        for k, find in enumerate(finders[1:], 1):
            found = find(chain[-1].end)
            if found is None:
                if failed is None or k > failed[0]:
                    failed = (k, chain[-1].end)
                break
            rungs.append(found[0])
            chain.append(found[1][0])
        else:
            chains.append(tuple(chain))
    return rungs, chains, None if chains else failed


def _piece_place(k: int, count: int) -> str:
    """Where piece `k` (0-based) of `count` stands, as a message says it."""
    if k == 0:
        return "before the first '...' line"
    if k == count - 1:
        return "after the last '...' line"
    return f"after '...' line {k}"
