"""Apply parsed patches to file contents in memory. Pure: texts in, texts out.

Each hunk is looked for after the previous one, climbing a ladder: exact lines,
then equal up to trailing whitespace and typographic look-alikes, then up to one
consistent indentation shift (added lines are re-indented to fit), then equal once
stripped. Where a unified hunk names its line (`@@ -40,...`), the match nearest to
it wins. Context lines are written back as the file has them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from tools.files.edit_match import closest_block
from tools.files.edit_rungs import fold, same_shifted, same_trailing
from tools.files.patch_ops import FilePatch, Hunk, PatchError


@dataclass
class Plan:
    """The outcome of a whole patch, before anything is written.

    final:  workspace path -> new LF text, or None where the file is to be gone.
            Only paths the patch touches appear.
    origin: moved file's new path -> the path it came from (its format and mode follow).
    modes:  path -> permission bits the patch sets.
    """

    final: dict[str, str | None] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)


def plan_patch(patches: list[FilePatch], files: Mapping[str, str | None]) -> Plan:
    """Apply every file patch, in order, to `files` (path -> LF text, None if absent).

    Raises PatchError for the first operation that cannot be done; nothing is partial
    because nothing here writes.
    """
    plan = Plan()
    state = dict(files)
    for fp in patches:
        if fp.op == "add":
            if state.get(fp.path) is not None:
                raise PatchError(_exists(fp.path, f"{fp.path}: cannot add, it already exists",
                                         "adding it",
                                         f"to change it, send '*** Update File: {fp.path}'"))
            state[fp.path] = fp.content
            plan.final[fp.path] = fp.content
            plan.origin.pop(fp.path, None)
        elif fp.op == "delete":
            if state.get(fp.path) is None:
                raise PatchError(f"{fp.path}: cannot delete, no such file")
            state[fp.path] = plan.final[fp.path] = None
        else:
            text = state.get(fp.path)
            if text is None:
                raise PatchError(f"{fp.path}: cannot update, no such file")
            new = apply_hunks(text, fp.hunks, fp.path) if fp.hunks else text
            dest = fp.move_to or fp.path
            if dest != fp.path:
                if state.get(dest) is not None:
                    raise PatchError(_exists(dest, f"{fp.path}: cannot move to {dest}, which "
                                                   f"already exists", "the move",
                                             "else move it to a path that is free"))
                state[fp.path] = plan.final[fp.path] = None
                plan.origin[dest] = plan.origin.pop(fp.path, fp.path)
                if fp.path in plan.modes:
                    plan.modes[dest] = plan.modes.pop(fp.path)
            state[dest] = plan.final[dest] = new
        if fp.new_mode is not None and fp.op != "delete":
            plan.modes[fp.move_to or fp.path] = fp.new_mode
    return plan


def _exists(path: str, what: str, then: str, otherwise: str) -> str:
    """The refusal of an add or a move onto the existing file `path`.

    Codex overwrites the file silently; ama refuses on purpose, since the model most
    often did not know the file was there, and says how to replace it on purpose.
    """
    return (f"{what}, and apply_patch never overwrites a file unasked. To replace it, "
            f"send '*** Delete File: {path}' (or its deletion in a unified diff) before "
            f"{then} in the same patch; {otherwise}")


def apply_hunks(text: str, hunks: tuple[Hunk, ...], name: str) -> str:
    """The text after all `hunks`; PatchError naming the hunk that does not fit."""
    had_nl = text.endswith("\n")
    lines = (text[:-1] if had_nl else text).split("\n") if text else []
    edits: list[tuple[int, int, list[str], Hunk]] = []
    cursor = 0
    for k, h in enumerate(hunks, 1):
        start, end, new = _locate(lines, h, cursor, name, k)
        edits.append((start, end, new, h))
        cursor = end
    out: list[str] = []
    pos = 0
    for start, end, new, _ in edits:
        out.extend(lines[pos:start])
        out.extend(new)
        pos = end
    out.extend(lines[pos:])
    final_nl = had_nl or not text
    if edits and edits[-1][1] == len(lines):  # the last hunk reaches the end of the file
        last = edits[-1][3]
        if last.new_no_newline:
            final_nl = False
        elif last.old_no_newline:
            final_nl = True
    return "\n".join(out) + ("\n" if final_nl and out else "")


Rung = Callable[[list[str], list[str]], "Callable[[str], str] | None"]


def _exact(window: list[str], old: list[str]):
    return _keep if window == old else None


def _stripped(window: list[str], old: list[str]):
    ok = all(fold(w).strip() == fold(o).strip() for w, o in zip(window, old))
    return _keep if ok else None


def _keep(line: str) -> str:
    return line


_RUNGS: tuple[Rung, ...] = (_exact, same_trailing, same_shifted, _stripped)


def _locate(lines: list[str], h: Hunk, cursor: int, name: str,
            k: int) -> tuple[int, int, list[str]]:
    """Where hunk `h` applies at or after `cursor`: (start, end, replacement lines)."""
    start = cursor
    if h.anchor is not None:
        key = fold(h.anchor).strip()
        found = next((i for i in range(cursor, len(lines)) if fold(lines[i]).strip() == key),
                     None)
        if found is None:
            raise PatchError(_failure(name, k, h, f"the line {h.anchor!r} (after '@@') was "
                                                  f"not found", lines, cursor))
        start = found  # the hunk may repeat the anchor as its first context line
    hint = h.old_start - 1 if h.old_start is not None else None
    body = list(h.lines)
    for attempt in range(2):
        old = [t for tag, t in body if tag != "+"]
        if not old:  # pure insertion
            if h.old_start is not None:  # `@@ -N,0 ...` inserts after line N
                at = min(max(h.old_start, cursor), len(lines))
            elif h.anchor is not None:
                at = start + 1
            else:
                at = len(lines)
            return at, at, [t for _, t in body]
        match = _seek(lines, old, start, hint, h.at_eof)
        if match is not None:
            at, reindent = match
            return at, at + len(old), _replacement(body, lines[at:at + len(old)], reindent)
        # a trailing blank context line is often an artefact of how the patch was written
        if attempt == 0 and body and body[-1] == (" ", ""):
            while body and body[-1] == (" ", ""):
                body.pop()
            continue
        break
    raise PatchError(_failure(name, k, h, "the expected lines were not found", lines, start))


def _seek(lines: list[str], old: list[str], start: int, hint: int | None,
          at_eof: bool) -> tuple[int, Callable[[str], str]] | None:
    n = len(old)
    last = len(lines) - n
    for rung in _RUNGS:
        if at_eof and last >= start and (f := rung(lines[last:], old)) is not None:
            return last, f
        found = [(i, f) for i in range(start, last + 1)
                 if (f := rung(lines[i:i + n], old)) is not None]
        if found:
            if hint is None:
                return found[0]
            return min(found, key=lambda m: abs(m[0] - hint))
    return None


def _replacement(body: list[tuple[str, str]], window: list[str],
                 reindent: Callable[[str], str]) -> list[str]:
    out: list[str] = []
    i = 0
    for tag, text in body:
        if tag == " ":
            out.append(window[i])
            i += 1
        elif tag == "-":
            i += 1
        else:
            out.append(reindent(text))
    return out


def _failure(name: str, k: int, h: Hunk, why: str, lines: list[str], start: int) -> str:
    old = h.old
    shown = "\n".join(f"  {t}" for t in old[:30]) + ("\n  ..." if len(old) > 30 else "")
    msg = f"{name}: hunk {k} ({h.header}) does not apply: {why}"
    if start:
        msg += f" (searched from line {start + 1}, after the previous hunk)"
    msg += f".\nExpected:\n{shown}" if old else "."
    near = closest_block("\n".join(lines), "\n".join(old)) if old else None
    if near is not None and near[2] >= 0.3:
        first, last, ratio = near
        got = "\n".join(f"{i:6}\t{lines[i - 1]}" for i in range(first, min(last, first + 29) + 1))
        msg += f"\nClosest in the file, lines {first}–{last} ({ratio:.0%} similar):\n{got}"
    return msg
