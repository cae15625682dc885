"""Editing the user's config file in place (`ama mcp add|remove`), with tomlkit so that
the user's comments, order and formatting survive. The file is replaced atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from agent.core.errors import BadInput


def read_document(path: Path):
    """The file as a tomlkit document (empty when it does not exist). BadInput if it is
    not TOML."""
    import tomlkit
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    except OSError as e:
        raise BadInput(f"{path}: cannot read it ({e.strerror or e})") from None
    except Exception as e:   # tomlkit's parse errors carry the line and column
        raise BadInput(f"{path}: invalid TOML: {e}; fix it before ama edits it") from None


def write_document(path: Path, doc) -> None:
    import tomlkit
    from tools.workspace.atomic_files import FileWrite, write_atomically
    try:
        write_atomically(path.parent, [FileWrite(path.name, tomlkit.dumps(doc).encode("utf-8"))])
    except OSError as e:
        raise BadInput(f"{path}: cannot write it ({e.strerror or e})") from None


def set_table(path: Path, section: str, name: str, values: Mapping[str, Any]) -> None:
    """`[section.name]` = `values` in the file at `path`. BadInput if it exists already."""
    import tomlkit
    doc = read_document(path)
    outer = doc.get(section)
    if outer is None:
        outer = tomlkit.table(is_super_table=True)
        doc[section] = outer
    if name in outer:
        raise BadInput(f"{section}.{name} is already defined in {path}; remove it first "
                       f"(ama mcp remove {name})")
    table = tomlkit.table()
    for key, value in values.items():
        if isinstance(value, Mapping):   # env, headers: one line, not a table of their own
            inline = tomlkit.inline_table()
            inline.update(value)
            value = inline
        table[key] = value
    outer[name] = table
    write_document(path, doc)


def remove_table(path: Path, section: str, name: str) -> bool:
    """Remove `[section.name]` from the file; False when it was not there."""
    doc = read_document(path)
    outer = doc.get(section)
    if outer is None or name not in outer:
        return False
    del outer[name]
    if not outer:
        del doc[section]
    write_document(path, doc)
    return True
