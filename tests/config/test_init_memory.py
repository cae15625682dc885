"""`ama init`: the model looks at the repo and writes AGENTS.md into the user's tree."""
from __future__ import annotations

from agent.session.memory import init_instruction
from agent.config.trust import check_trust, grant_trust

from tests.config.conftest import DONE

AGENTS = "# calc\n\nRun the tests with `python -m unittest`.\n"
WRITE = {"text": "", "tool_calls": [{"name": "write_file", "arguments": {"path": "AGENTS.md",
                                                                          "content": AGENTS}}]}


def test_init_instruction_shows_the_repo(home, repo):
    (repo / "pyproject.toml").write_text("[project]\nname = 'calc'\n")
    text = init_instruction(repo)
    assert "calc.py" in text and "pyproject.toml" in text and "write_file" in text
    assert "The current AGENTS.md" not in text
    (repo / "AGENTS.md").write_text("old notes\n")
    assert "old notes" in init_instruction(repo)


def test_ama_init_writes_agents_md(ama, home, repo, script):
    read = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}
    r = ama("init", "--cwd", str(repo), "--model", script(read, WRITE, DONE), "--sandbox", "local")
    assert r.code == 0, r.stderr
    assert (repo / "AGENTS.md").read_text() == AGENTS
    assert f"wrote {repo / 'AGENTS.md'}" in r.stdout
    # It exists now: a second init needs --force.
    r = ama("init", "--cwd", str(repo), "--model", script(WRITE, DONE, name="b.jsonl"), "--sandbox", "local")
    assert r.code == 2 and "--force" in r.stderr


def test_init_keeps_a_trusted_repo_trusted(ama, home, repo, script):
    (repo / "AGENTS.md").write_text("old\n")
    grant_trust(repo, repo)
    r = ama("init", "--force", "--cwd", str(repo), "--model", script(WRITE, DONE), "--sandbox", "local")
    assert r.code == 0, r.stderr
    assert (repo / "AGENTS.md").read_text() == AGENTS and check_trust(repo, repo).trusted


def test_init_fails_clearly_when_nothing_is_written(ama, home, repo, script):
    r = ama("init", "--cwd", str(repo), "--model", script(DONE), "--sandbox", "local")
    assert r.code == 1 and "did not write AGENTS.md" in r.stderr
    assert not (repo / "AGENTS.md").exists()
