"""The `skill` tool: the model loads a skill (a folder with a SKILL.md) when a task needs it.

Only each skill's name and description are in the system prompt; `skill(name)` returns
its SKILL.md and the list of its files, `skill(name, file=...)` one of them. A
repository's skills are in the workspace (the shell runs their scripts where they lie);
a user's are shown to the sandbox read-only at their own path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolError, ToolResult

MAX_FILES = 200
MAX_READ = 200_000


@dataclass(frozen=True)
class Skill:
    """name, description: from SKILL.md's front matter. root: the folder on this machine
    (for a repository's skill, relative to the workspace); shown: where the sandbox's
    shell finds it. scope: "project" | "user"."""
    name: str
    description: str
    root: Path
    shown: str
    scope: str


class SkillParams(BaseModel):
    name: str = Field(description="The skill's name, as listed under Skills.")
    file: str | None = Field(None, description="A file of the skill, relative to its folder; "
                                               "omit to get its SKILL.md and file list.")


class SkillTool(BaseTool):
    name = "skill"
    description = ("Load a skill listed under Skills in your instructions: returns its "
                   "SKILL.md and its files; with `file`, one of its files.")
    params = SkillParams
    mutating = False

    def __init__(self, skills: list[Skill]):
        self.skills = {s.name: s for s in skills}

    def run(self, args: SkillParams, ctx: ToolContext) -> ToolResult:
        skill = self.skills.get(args.name)
        if skill is None:
            names = ", ".join(sorted(self.skills)) or "none"
            raise ToolError(f"no skill {args.name!r}; the skills are: {names}")
        root = skill.root if skill.root.is_absolute() else Path(ctx.root) / skill.root
        if args.file:
            return ToolResult(output=_read(root, args.file), summary=f"skill {skill.name}: {args.file}")
        text = _read(root, "SKILL.md")
        files = _files(root)
        listing = "\n".join(f"- {f}" for f in files) or "(none)"
        out = (f"{text.rstrip()}\n\n---\nThe skill's folder: {skill.shown} (run its scripts "
               f"there with `shell`; read its files with skill(name, file=...)). Files:\n{listing}")
        return ToolResult(output=out, summary=f"loaded skill {skill.name}",
                          data={"skill": skill.name, "files": len(files)})


def _files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            out.append((Path(dirpath) / f).relative_to(root).as_posix())
            if len(out) >= MAX_FILES:
                return out
    return out


def _read(root: Path, rel: str) -> str:
    path = (root / rel)
    try:
        real, base = path.resolve(), root.resolve()
    except OSError as e:
        raise ToolError(f"cannot read {rel}: {e}") from None
    if not real.is_relative_to(base):
        raise ToolError(f"{rel} is outside the skill's folder")
    if not real.is_file():
        raise ToolError(f"the skill has no file {rel}")
    data = real.read_bytes()
    if b"\0" in data[:8000]:
        return f"({rel} is a binary file of {len(data)} bytes)"
    text = data[:MAX_READ].decode("utf-8", "replace")
    if len(data) > MAX_READ:
        text += f"\n… (cut at {MAX_READ} of {len(data)} bytes)"
    return text
