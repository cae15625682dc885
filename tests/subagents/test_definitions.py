"""Agent definitions as files: how they are read (agent/extensions/agents.py), which of them
a session can use (agent/session/subagent.py), and how the `task` tool lists them."""
from __future__ import annotations

from agent.models.registry import PROVIDERS
from agent.extensions.agents import find_agents
from agent.session.subagent import TaskTool, usable
from tests.subagents.conftest import define_agent
from tools.registry import default_tools


def env_for(home):
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg")}


def test_front_matter_tools_model_and_body(tmp_path):
    home, repo = tmp_path / "home", tmp_path / "repo"
    folder = repo / ".ama" / "agents"
    define_agent(folder, "listed", tools="[read_file, grep]", model="inherit", body="Look.")
    define_agent(folder, "claude", tools="Read, Grep, Bash, Read", model="openai:gpt-5.2")
    (folder / "yaml.md").write_text("---\ndescription: >\n  two\n  lines\ntools:\n  - git\n---\nDo.\n")
    define_agent(folder, "open", body="Anything.")
    found, warnings = find_agents(repo, True, env_for(home))
    assert warnings == []
    by = {a.name: a for a in found}
    assert (by["listed"].tools, by["listed"].model, by["listed"].prompt) == (("read_file", "grep"),
                                                                               None, "Look.")
    assert by["claude"].tools == ("read_file", "grep", "shell") and by["claude"].model == "openai:gpt-5.2"
    assert (by["yaml"].description, by["yaml"].tools) == ("two lines", ("git",))
    assert by["open"].tools is None and by["open"].scope == "project"


def test_what_cannot_be_a_definition_is_a_warning_naming_the_file(tmp_path):
    home, repo = tmp_path / "home", tmp_path / "repo"
    folder = repo / ".ama" / "agents"
    nameless = folder / "quiet.md"
    define_agent(folder, "x").write_text("---\ntools: grep\n---\nbody\n")
    nameless.write_text("---\ndescription: says nothing\n---\n\n")
    builtin = define_agent(folder, "explore")
    found, warnings = find_agents(repo, True, env_for(home))
    assert found == []
    assert sorted(warnings) == sorted([
        f"{builtin}: explore is the built-in agent; rename the file",
        f"{nameless}: not used: its body (the agent's instructions) is empty",
        f"{folder / 'x.md'}: not used: no `description` in its front matter; the model would "
        f"not know when to use it"])


def test_an_untrusted_repositorys_folder_is_not_read_the_users_is(tmp_path):
    home, repo = tmp_path / "home", tmp_path / "repo"
    define_agent(repo / ".ama" / "agents", "mine")
    define_agent(repo / ".claude" / "agents", "theirs")
    define_agent(home / ".claude" / "agents", "users")
    assert [a.name for a in find_agents(repo, False, env_for(home))[0]] == ["users"]
    assert sorted(a.name for a in find_agents(repo, True, env_for(home))[0]) == ["mine", "theirs",
                                                                               "users"]


def test_the_session_uses_only_definitions_whose_tools_and_model_it_has(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    folder = tmp_path / "xdg" / "amanuensis" / "agents"
    define_agent(folder, "good", tools="read_file, task", model="anthropic:claude-haiku-4-5")
    define_agent(folder, "mcp", tools="mcp__github__create_issue")
    define_agent(folder, "alias", model="haiku")
    found, _ = find_agents(None, False, env)
    ok, warnings = usable(tuple(found), {t.name: t for t in default_tools()})
    assert [d.name for d in ok] == ["good"]
    assert warnings[0] == (f"{folder / 'alias.md'}: agent alias not used: model 'haiku' has no "
                           f"provider; write it as PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5 "
                           f"(providers: {', '.join(PROVIDERS)})")
    assert warnings[1].startswith(f"{folder / 'mcp.md'}: agent mcp not used: no tool "
                                  f"mcp__github__create_issue here (the tools: read_file, ")


def test_the_task_tool_lists_the_agents_for_the_model(tmp_path):
    from agent.session.options import SessionOptions
    from agent.session.subagent import task_tool
    from tools.sandbox.local import LocalSandbox
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    define_agent(tmp_path / "xdg" / "amanuensis" / "agents", "reviewer",
                 description="Reviews a diff for bugs", tools="read_file, git")
    found, _ = find_agents(None, False, env)
    options = SessionOptions(model="script:x.jsonl", cwd=tmp_path, agents=tuple(found))
    tool, warnings = task_tool(options, default_tools(), LocalSandbox(tmp_path))
    assert isinstance(tool, TaskTool) and warnings == []
    lines = tool.description.splitlines()
    assert lines[-2:] == ["- explore: looks but cannot change anything (read, grep, list files, "
                          "repo map, symbols)", "- reviewer: Reviews a diff for bugs"]
    reviewer, explore = tool.agents["reviewer"], tool.agents["explore"]
    assert [t.name for t in explore.tools] == ["read_file", "grep", "list_files", "repo_map",
                                               "find_symbol"]
    assert explore.read_only and not reviewer.read_only          # git can commit
    assert "Reviews" not in explore.prompt and reviewer.prompt.rstrip().endswith(
        "Find what you are asked to find.")
