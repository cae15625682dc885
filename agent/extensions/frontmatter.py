"""Markdown with a YAML front matter block, as Claude Code's commands, skills and agent
definitions are written:

    ---
    description: Fix an issue
    argument-hint: [issue-number]
    ---
    The body.

`split(text)` -> (fields, body). Field values that YAML reads as something other than a
string (`argument-hint: [n]` is a YAML list) come back as the text that was written.
"""
from __future__ import annotations

import re
from typing import Any

_BLOCK = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


class FrontMatterError(ValueError):
    """The front matter is neither a YAML mapping nor `key: value` lines."""


def split(text: str) -> tuple[dict[str, Any], str]:
    """(front matter fields, body). No block: ({}, text)."""
    match = _BLOCK.match(text.lstrip("\ufeff"))
    if not match:
        return {}, text
    raw, body = match.group(1), text.lstrip("\ufeff")[match.end():]
    lines = {m.group(1): m.group(2).strip() for m in
             re.finditer(r"^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$", raw, re.M)}
    import yaml   # only when a file has front matter
    try:
        fields = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError:
        # Files written for Claude Code hold lines YAML refuses (`argument-hint: [n] [m]`);
        # read them as it does: one `key: value` per line.
        fields = dict(lines)
    if not isinstance(fields, dict):
        raise FrontMatterError("its front matter is not a list of `key: value` lines")
    out = {}
    for key, value in fields.items():
        key = str(key)
        if not isinstance(value, (str, dict)) and key in lines and lines[key]:
            value = lines[key]      # as written: `[issue-number]`, `42`, `yes`
        out[key] = value
    return out, body


def text_field(fields: dict[str, Any], key: str, default: str = "") -> str:
    value = fields.get(key, default)
    return value.strip() if isinstance(value, str) else default


def list_field(fields: dict[str, Any], key: str) -> tuple[str, ...]:
    """A field that holds names: a YAML list, or one string separated by commas
    (`allowed-tools: Bash(git add:*), Bash(git status:*)`), commas inside (...) kept."""
    value = fields.get(key)
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return tuple(p.strip().strip("'\"") for p in parts if p.strip())
