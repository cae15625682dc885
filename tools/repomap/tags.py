"""Extract definition and reference tags from one source file with tree-sitter.

The result is a `Tags` value made of plain tuples, dicts, strings and ints only, so
it can be stored with `marshal` (fast to load) and sent between processes as is:

    Tags = (defs, refs, ref_lines)
    defs: tuple of Def, sorted by line
    Def  = (name, line, kind, text, parent)
           name:   the identifier ("QuerySet")
           line:   1-based line of the name
           kind:   "class", "function", "method", "type", "constant", ... (from the query)
           text:   that source line, right-stripped, cut to MAX_TEXT characters
           parent: index in `defs` of the innermost enclosing definition, or -1
    refs: dict identifier -> how many lines use it
    ref_lines: those lines (1-based, ascending per identifier), identifier after
           identifier in `refs` order, as little-endian uint32 (`lines_of` reads them)

Counts in a dict and lines in one bytes value rather than a tuple per identifier:
the graph needs only the counts, and a dict of str -> int and a bytes object are
neither allocated per use nor walked by the garbage collector, which makes the
cache load of a large repo several times cheaper.

A reference on the same line and with the same name as a definition in the file is
dropped: queries like `(type_identifier) @name.reference.type` also match the name in
`struct Foo {`, which is not a use.
"""
from __future__ import annotations

import hashlib
import os
import sys
from array import array
from typing import Any, Iterable

from tools.repomap.languages import load

Def = tuple[str, int, str, str, int]
Tags = tuple[tuple[Def, ...], dict[str, int], bytes]

EMPTY: Tags = ((), {}, b"")
MAX_TEXT = 120
MAX_FILE_BYTES = 1_000_000  # larger files are generated or vendored; not worth a map line
_BINARY_SNIFF = 8192

# When two captures name the same identifier on the same line (a JS `const f = () =>`
# is both a constant and a function), the higher priority kind wins.
_KIND_PRIORITY = {"constant": 0, "variable": 0, "impl": 1}
_CONTAINERS = frozenset({"class", "interface", "impl"})


def digest(data: bytes) -> bytes:
    """The content hash the cache is keyed by (16 bytes)."""
    return hashlib.blake2b(data, digest_size=16).digest()


def extract(source: bytes, lang: str) -> Tags:
    """Tags of `source` parsed as `lang` (a key of `languages.QUERIES`)."""
    if b"\x00" in source[:_BINARY_SNIFF]:
        return EMPTY
    from tree_sitter import QueryCursor  # imported here: tree-sitter loads only on a parse

    parser, query = load(lang)
    tree = parser.parse(source)
    captures: dict[str, list[Any]] = QueryCursor(query).captures(tree.root_node)

    # (line, name) -> (kind, scope_start, scope_end, name_start)
    found: dict[tuple[int, str], tuple[str, int, int, int]] = {}
    refs: dict[str, list[int]] = {}
    for capture, nodes in captures.items():
        _, role, kind = capture.split(".", 2)
        if role == "definition":
            for node in nodes:
                key = (node.start_point[0] + 1, node.text.decode("utf-8", "replace"))
                old = found.get(key)
                if old is None or _KIND_PRIORITY.get(kind, 2) > _KIND_PRIORITY.get(old[0], 2):
                    scope = node.parent or node
                    found[key] = (kind, scope.start_byte, scope.end_byte, node.start_byte)
        elif role == "reference":
            for node in nodes:
                refs.setdefault(node.text.decode("utf-8", "replace"), []).append(
                    node.start_point[0] + 1)

    defs = _nest(source, found)
    def_keys = {(d[1], d[0]) for d in defs}
    return pack(defs, {name: [ln for ln in lines if (ln, name) not in def_keys]
                       for name, lines in refs.items()})


def pack(defs: tuple[Def, ...], refs: dict[str, Iterable[int]]) -> Tags:
    """Build a Tags value from definitions and {identifier: lines of use}."""
    counts: dict[str, int] = {}
    all_lines = array("I")
    for name in sorted(refs):
        kept = sorted(set(refs[name]))
        if kept:
            counts[name] = len(kept)
            all_lines.extend(kept)
    if sys.byteorder != "little":  # pragma: no cover - the cache is little-endian
        all_lines.byteswap()
    return tuple(defs), counts, all_lines.tobytes()


def lines_of(tags: Tags, name: str) -> tuple[int, ...]:
    """The lines of `tags` that use `name` (empty if none)."""
    refs = tags[1]
    if name not in refs:
        return ()
    offset = 0
    for other, count in refs.items():
        if other == name:
            break
        offset += count
    lines = array("I")
    lines.frombytes(tags[2][4 * offset:4 * (offset + refs[name])])
    if sys.byteorder != "little":  # pragma: no cover
        lines.byteswap()
    return tuple(lines)


def _nest(source: bytes, found: dict[tuple[int, str], tuple[str, int, int, int]]
          ) -> tuple[Def, ...]:
    """Order definitions by line and link each to its innermost enclosing definition.

    A definition's scope is its name node's parent (the class or function node), so a
    method's name lies inside its class's scope. A function nested in a class,
    interface or impl block is reported as a method.
    """
    # by scope start, wider scope first on ties, so a parent precedes its children
    order = sorted(found.items(), key=lambda kv: (kv[1][1], -kv[1][2]))
    parent_of: dict[tuple[int, str], tuple[int, str] | None] = {}
    stack: list[tuple[int, tuple[int, str]]] = []  # (scope_end, key)
    for key, (_kind, start, end, name_start) in order:
        while stack and stack[-1][0] <= name_start:
            stack.pop()
        parent_of[key] = stack[-1][1] if stack else None
        stack.append((end, key))

    keys = sorted(found)  # (line, name)
    index = {k: i for i, k in enumerate(keys)}
    out: list[Def] = []
    for key in keys:
        kind, _s, _e, name_start = found[key]
        parent = parent_of[key]
        if kind == "function" and parent is not None and found[parent][0] in _CONTAINERS:
            kind = "method"
        out.append((key[1], key[0], kind, _line_text(source, name_start),
                    index[parent] if parent is not None else -1))
    return tuple(out)


def _line_text(source: bytes, at: int) -> str:
    start = source.rfind(b"\n", 0, at) + 1
    end = source.find(b"\n", at)
    line = source[start:end if end >= 0 else len(source)]
    return line.decode("utf-8", "replace").rstrip()[:MAX_TEXT]


def read_and_extract(path: str, lang: str) -> tuple[bytes, Tags] | None:
    """(content digest, tags) of the file at `path`, or None if it cannot be read.

    Files over MAX_FILE_BYTES, and any file the extractor fails on, get empty tags
    (with a real digest, so they stay cached and are not retried until they change).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES:
        return digest(data), EMPTY
    try:
        return digest(data), extract(data, lang)
    except Exception:  # noqa: BLE001 - one odd file must not take the whole map down
        return digest(data), EMPTY


def extract_batch(root: str, items: list[tuple[str, str]]
                  ) -> list[tuple[str, bytes, Tags] | None]:
    """Worker entry point: tags for each (relative path, lang) under `root`.

    Returns one item per input: (relative path, digest, tags), or None where the file
    could not be read. Module-level so a process pool can pickle it by name.
    """
    out: list[tuple[str, bytes, Tags] | None] = []
    for rel, lang in items:
        got = read_and_extract(os.path.join(root, rel), lang)
        out.append(None if got is None else (rel, got[0], got[1]))
    return out
