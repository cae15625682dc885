"""Skills: found in their places, listed by name and description in the system prompt,
loaded with the `skill` tool, a user's skill readable and runnable in the sandbox."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from agent.extensions.skills import find_skills
from agent.session import SessionOptions, open_session
from tests.ama_cli import commit_all
from tools.base import ToolContext, ToolError
from tools.skill import SkillParams, SkillTool


def skill(folder: Path, name: str, description: str, body: str = "Do it this way.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\n---\n{body}\n")
    return folder


def test_places_names_and_what_is_not_used(home, repo):
    skill(repo / ".agents/skills/release", "release", "Cut a release: tag, changelog")
    skill(repo / ".claude/skills/release2", "release", "shadowed by the first")
    skill(repo / ".claude/skills/pdf", "pdf", "Read PDFs")
    skill(home / "xdg/amanuensis/skills/notes", "notes", "Take notes")
    skill(home / ".claude/skills/nodesc", "nodesc", "")
    found, warnings = find_skills(repo, trusted=True)
    assert [(s.name, s.scope, s.shown) for s in found] == [
        ("release", "project", ".agents/skills/release"), ("pdf", "project", ".claude/skills/pdf"),
        ("notes", "user", str((home / "xdg/amanuensis/skills/notes").resolve()))]
    assert len(warnings) == 1 and "no `description`" in warnings[0]
    assert [s.name for s in find_skills(repo, trusted=False)[0]] == ["notes"]   # repo's: trust


def test_the_tool_returns_skill_md_its_files_and_one_file_never_outside(home, repo, tmp_path):
    folder = skill(repo / ".agents/skills/release", "release", "Cut a release")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "tag.sh").write_text("git tag v1\n")
    (tmp_path / "secret").write_text("no")
    (folder / "link").symlink_to(tmp_path / "secret")
    tool = SkillTool(find_skills(repo, trusted=True)[0])
    ctx = ToolContext(root=repo, sandbox=None, cancel=threading.Event())
    out = tool.run(SkillParams(name="release"), ctx).output
    assert out.startswith("---\nname: release") and "Do it this way." in out
    assert "- scripts/tag.sh" in out and ".agents/skills/release" in out
    assert tool.run(SkillParams(name="release", file="scripts/tag.sh"), ctx).output == "git tag v1\n"
    for bad in ("../../../calc.py", "link"):
        with pytest.raises(ToolError, match="outside the skill's folder"):
            tool.run(SkillParams(name="release", file=bad), ctx)
    with pytest.raises(ToolError, match="no skill 'nope'; the skills are: release"):
        tool.run(SkillParams(name="nope"), ctx)


def test_the_prompt_lists_skills_and_a_users_skill_runs_in_the_sandbox(home, repo, script):
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    skill(repo / ".agents/skills/release", "release", "Cut a release: tag, changelog")
    commit_all(repo, "a skill")
    mine = skill(home / "xdg/amanuensis/skills/hello", "hello", "Say hello the house way")
    (mine / "hello.sh").write_text("echo hello from the skill\n")
    skills = tuple(find_skills(repo, trusted=True)[0])
    shown = next(s.shown for s in skills if s.name == "hello")
    model = script({"text": "", "tool_calls": [{"name": "skill", "arguments": {"name": "hello"}}]},
                   {"text": "", "tool_calls": [{"name": "shell",
                                                "arguments": {"command": f"bash {shown}/hello.sh"}}]},
                   {"text": "", "tool_calls": [{"name": "shell",
                                                "arguments": {"command": f"touch {shown}/x"}}]},
                   {"text": "done"})
    events = []
    session = open_session(SessionOptions(model=model, cwd=repo, sandbox="bwrap", skills=skills),
                           events.append)
    try:
        prompt = session.agent.system_prompt
        assert "- release: Cut a release: tag, changelog" in prompt
        assert "- hello: Say hello the house way" in prompt and "Do it this way" not in prompt
        from agent.session import run_session
        run_session(session, "greet")
    finally:
        session.close()
    outputs = [e.to_dict()["output"] for e in events if e.type == "tool_result"]
    assert "Do it this way." in outputs[0] and "- hello.sh" in outputs[0]
    assert "hello from the skill" in outputs[1]
    assert "Read-only file system" in outputs[2] and not (mine / "x").exists()
