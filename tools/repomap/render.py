"""Render ranked definitions as a compact outline cut to a token budget.

    django/db/models/query.py:
     291│class QuerySet(AltersData):
    1495│    def filter(self, *args, **kwargs):

Files appear best first; inside a file, lines in source order, each definition with
its enclosing definitions (a method shows its class), indentation as in the source.
The budget is met by binary search on how many of the best definitions to show.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from tools.repomap.tags import Tags


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four characters a token for code."""
    return (len(text) + 3) // 4


def outline(ranked: Sequence[tuple[float, str, int]], tags: Mapping[str, Tags]) -> str:
    """The outline of exactly the definitions in `ranked` (plus their parents)."""
    order: list[str] = []
    chosen: dict[str, set[int]] = {}
    for _score, rel, j in ranked:
        picked = chosen.get(rel)
        if picked is None:
            picked = chosen[rel] = set()
            order.append(rel)
        defs = tags[rel][0]
        while j >= 0 and j not in picked:
            picked.add(j)
            j = defs[j][4]
    parts: list[str] = []
    for rel in order:
        defs = tags[rel][0]
        parts.append(f"{rel}:")
        seen_lines: set[int] = set()
        for j in sorted(chosen[rel], key=lambda k: defs[k][1]):
            line, text = defs[j][1], defs[j][3]
            if line not in seen_lines:  # two names on one line (`a = b = 1`) print once
                seen_lines.add(line)
                parts.append(f"{line:>4}│{text}")
    return "\n".join(parts) + "\n" if parts else ""


def render(ranked: Sequence[tuple[float, str, int]], tags: Mapping[str, Tags],
           max_tokens: int) -> str:
    """The outline of the longest prefix of `ranked` that fits in `max_tokens`.

    Every definition costs at least one token, so the prefix is at most `max_tokens`
    long and the search renders O(log max_tokens) outlines of bounded size.
    """
    lo, hi = 0, min(len(ranked), max(max_tokens, 0))
    best = ""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        text = outline(ranked[:mid], tags)
        if estimate_tokens(text) <= max_tokens:
            lo, best = mid, text
        else:
            hi = mid - 1
    return best
