"""Skills: folders with a SKILL.md (front matter `name`, `description`), found in the
places of agent/extensions/places.py. Only names and descriptions reach the system
prompt; the `skill` tool (tools/skill.py) loads one when the model needs it."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from agent.extensions.frontmatter import FrontMatterError, split, text_field
from agent.extensions.places import places
from tools.skill import Skill

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_DESCRIPTION = 1024
MAX_SKILLS = 100


def find_skills(user_root: Path | None, trusted: bool, env: Mapping[str, str] | None = None
                ) -> tuple[list[Skill], list[str]]:
    """(skills, warnings). A repository's skills get paths relative to the repository
    (they are read in the workspace); a user's keep their absolute path."""
    found: dict[str, Skill] = {}
    warnings: list[str] = []
    for place in places("skills", user_root, trusted, env):
        if not place.path.is_dir():
            continue
        for manifest in sorted(place.path.glob("*/SKILL.md")):
            try:
                fields, _ = split(manifest.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, FrontMatterError) as e:
                warnings.append(f"{manifest}: not used: {e}")
                continue
            name = text_field(fields, "name") or manifest.parent.name
            description = text_field(fields, "description")
            if not NAME.match(name):
                warnings.append(f"{manifest}: skill name {name!r}: use letters, digits, . _ : -")
                continue
            if not description:
                warnings.append(f"{manifest}: no `description` in its front matter; the model "
                                f"would not know when to use it")
                continue
            if name in found or len(found) >= MAX_SKILLS:
                continue
            folder = manifest.parent
            if place.scope == "project":
                rel = folder.relative_to(user_root)
                found[name] = Skill(name, description[:MAX_DESCRIPTION], rel, rel.as_posix(),
                                    "project")
            else:
                real = folder.resolve()
                found[name] = Skill(name, description[:MAX_DESCRIPTION], real, str(real), "user")
    return list(found.values()), warnings
