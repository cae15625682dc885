"""Which files the repo map reads, in which language, with which tag query.

The tag queries are data files, `queries/<query>.scm`, one per language family
(TSX uses the TypeScript query; its grammar is a superset). Their captures follow the
tree-sitter tags convention: `@name.definition.<kind>` and `@name.reference.<kind>`
on the identifier node.

tree-sitter is imported only inside `load`, never at module import, so importing the
repo map costs nothing at CLI start-up.
"""
from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

QUERY_DIR = Path(__file__).with_name("queries")
COMMON_NAMES_FILE = Path(__file__).with_name("common_names.json")

# extension -> tree-sitter-language-pack grammar name
EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp",
    ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp",
    ".rb": "ruby", ".rake": "ruby",
}

# grammar name -> query file stem
QUERIES: dict[str, str] = {
    "python": "python", "javascript": "javascript", "typescript": "typescript",
    "tsx": "typescript", "go": "go", "rust": "rust", "java": "java", "c": "c",
    "cpp": "cpp", "ruby": "ruby",
}


def language_for(path: str) -> str | None:
    """The grammar name for a (relative) file path, or None if the map does not read it."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return EXTENSIONS.get(name[dot:].lower()) if dot > 0 else None


def query_source(lang: str) -> str:
    """The text of the tag query used for `lang`."""
    return (QUERY_DIR / f"{QUERIES[lang]}.scm").read_text(encoding="utf-8")


def fingerprint() -> str:
    """A short hash of everything that decides what tags a file yields.

    The query files and the grammar package version: when either changes, every cached
    tag list is stale.
    """
    h = hashlib.sha256()
    for stem in sorted(set(QUERIES.values())):
        h.update(stem.encode())
        h.update((QUERY_DIR / f"{stem}.scm").read_bytes())
    try:
        h.update(metadata.version("tree-sitter-language-pack").encode())
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        pass
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def common_names(lang: str | None) -> frozenset[str]:
    """Names too common in `lang` to tell which file a use means (builtins, methods
    of built-in types): `common_names.json`, by query family. Empty for None."""
    if lang is None:
        return frozenset()
    data = json.loads(COMMON_NAMES_FILE.read_text(encoding="utf-8"))
    return frozenset(data.get(QUERIES[lang], ()))


@functools.lru_cache(maxsize=None)
def load(lang: str) -> tuple[Any, Any]:
    """(parser, compiled query) for `lang`; built once per process.

    The memo holds immutable grammar objects only (a per-process compile cache), so
    it is safe to share between calls.
    """
    import tree_sitter
    from tree_sitter_language_pack import get_language

    language = get_language(lang)  # type: ignore[arg-type]
    return tree_sitter.Parser(language), tree_sitter.Query(language, query_source(lang))
