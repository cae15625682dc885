"""Where a symbol is defined and used, from the same cached tags as the map."""
from __future__ import annotations

from dataclasses import dataclass

from tools.repomap.index import RepoIndex
from tools.repomap.tags import lines_of

MAX_DEFS = 30
MAX_USE_FILES = 40
MAX_LINES_PER_FILE = 12
MAX_SUGGESTIONS = 10


@dataclass(frozen=True)
class SymbolHits:
    """definitions: (rel, line, kind, source line); uses: (rel, lines) by path."""

    name: str
    definitions: tuple[tuple[str, int, str, str], ...]
    uses: tuple[tuple[str, tuple[int, ...]], ...]


def lookup(index: RepoIndex, name: str) -> SymbolHits:
    """Definitions and uses of `name`.

    `name` may be qualified (`QuerySet.filter`, `shapes::Circle`): the last part is the
    identifier, and definitions whose enclosing definitions match the qualifier are
    kept when there are any (otherwise all definitions of the identifier are).
    """
    parts = [p for p in name.replace("::", ".").replace("#", ".").split(".") if p]
    ident = parts[-1] if parts else name.strip()
    qualifier = parts[:-1]
    defs: list[tuple[str, int, str, str]] = []
    qualified: list[tuple[str, int, str, str]] = []
    uses: list[tuple[str, tuple[int, ...]]] = []
    for rel, tags in index.tags.items():
        file_defs = tags[0]
        for d in file_defs:
            if d[0] == ident:
                hit = (rel, d[1], d[2], d[3].strip())
                defs.append(hit)
                if qualifier and _enclosed_by(file_defs, d[4], qualifier[-1]):
                    qualified.append(hit)
        if ident in tags[1]:
            uses.append((rel, lines_of(tags, ident)))
    return SymbolHits(ident, tuple(qualified or defs), tuple(uses))


def _enclosed_by(defs, parent: int, name: str) -> bool:
    while parent >= 0:
        if defs[parent][0] == name:
            return True
        parent = defs[parent][4]
    return False


def format_hits(hits: SymbolHits, index: RepoIndex) -> str:
    """Plain text for the model: `path:line` entries, capped, with counts of the rest."""
    n_uses = sum(len(lines) for _rel, lines in hits.uses)
    if not hits.definitions and not hits.uses:
        similar = suggestions(index, hits.name)
        tail = f" Similar names: {', '.join(similar)}." if similar else ""
        return f"No definition or use of `{hits.name}` found in the mapped source files.{tail}"
    out = [f"`{hits.name}`: {len(hits.definitions)} definition(s); "
           f"{n_uses} use(s) in {len(hits.uses)} file(s)."]
    if hits.definitions:
        out.append("Defined at:")
        for rel, line, kind, text in hits.definitions[:MAX_DEFS]:
            out.append(f"  {rel}:{line}  ({kind}) {text}")
        if len(hits.definitions) > MAX_DEFS:
            out.append(f"  ... and {len(hits.definitions) - MAX_DEFS} more definitions")
    if hits.uses:
        out.append("Used at:")
        for rel, lines in hits.uses[:MAX_USE_FILES]:
            shown = ", ".join(str(n) for n in lines[:MAX_LINES_PER_FILE])
            more = f" (+{len(lines) - MAX_LINES_PER_FILE} more)" \
                if len(lines) > MAX_LINES_PER_FILE else ""
            out.append(f"  {rel}:{shown}{more}")
        if len(hits.uses) > MAX_USE_FILES:
            out.append(f"  ... and {len(hits.uses) - MAX_USE_FILES} more files")
    return "\n".join(out)


def suggestions(index: RepoIndex, ident: str) -> list[str]:
    """Defined names equal ignoring case, or containing `ident` (case-insensitive)."""
    low = ident.lower()
    exact: set[str] = set()
    partial: set[str] = set()
    for tags in index.tags.values():
        for d in tags[0]:
            name = d[0].lower()
            if name == low:
                exact.add(d[0])
            elif low and low in name:
                partial.add(d[0])
    return (sorted(exact) + sorted(partial, key=lambda s: (len(s), s)))[:MAX_SUGGESTIONS]
