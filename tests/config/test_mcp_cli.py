"""`ama mcp` and MCP servers in a run, end to end through the real CLI. The MCP client
here may be the stand-in that connects nothing: these tests hold the wiring (statuses,
warnings, exit 2 for a required server, the result object), not real connections."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.config.conftest import DONE

ROOT = Path(__file__).parents[2]


def _servers(result: dict) -> dict:
    return {s["name"]: s for s in result["mcp_servers"]}


def test_mcp_add_list_get_remove_keep_the_users_comments(ama, user_config):
    user_config.write_text("# my settings\nmax_turns = 7  # enough\n")
    r = ama("mcp", "add", "db", "-e", "DB_URL=sqlite:///x", "--", "uvx", "db-server", "--read-only")
    assert r.code == 0, r.stderr
    r = ama("mcp", "add", "docs", "--url", "https://docs.example/mcp", "--header", "X-Team=core",
            "--bearer-token-env", "DOCS_TOKEN")
    assert r.code == 0, r.stderr
    text = user_config.read_text()
    assert text.startswith("# my settings\nmax_turns = 7  # enough\n")
    assert 'args = ["db-server", "--read-only"]' in text
    r = ama("mcp", "list")
    assert r.code == 0 and "db" in r.stdout and "uvx db-server --read-only" in r.stdout
    assert "https://docs.example/mcp" in r.stdout and "runs on this machine" in r.stdout
    r = ama("mcp", "get", "docs")
    assert r.code == 0 and '"X-Team": "***"' in r.stdout and "core" not in r.stdout
    assert f"user config {user_config}" in r.stdout and "bearer_token_env" in r.stdout
    assert ama("mcp", "add", "db", "--", "x").code == 2    # already there
    r = ama("mcp", "remove", "db")
    assert r.code == 0 and "[mcp_servers.db]" not in user_config.read_text()
    assert "# my settings" in user_config.read_text() and "[mcp_servers.docs]" in user_config.read_text()
    r = ama("mcp", "remove", "db")
    assert r.code == 2 and "no MCP server 'db'" in r.stderr
    r = ama("mcp", "get", "nope")
    assert r.code == 2 and "no MCP server 'nope'" in r.stderr


def test_mcp_add_refuses_bad_input(ama, user_config):
    for args, message in ((("add", "a b", "--", "x"), "use letters"),
                          (("add", "a"), "not neither"),
                          (("add", "a", "--url", "http://h", "--", "x"), "not both"),
                          (("add", "a", "--url", "http://h", "--header", "novalue"), "KEY=VALUE"),
                          (("add", "a", "--url", "http://h", "-e", "A=1"), "--env is for stdio")):
        r = ama("mcp", *args)
        assert r.code == 2 and message in r.stderr, (args, r.stderr)
    assert not user_config.exists()


def test_config_show_names_servers_and_where_they_come_from(ama, user_config, repo):
    user_config.write_text('[mcp_servers.fs]\ncommand = "npx"\n')
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"web": {"type": "http", "url": "https://w"}}}))
    r = ama("config", "show", "--cwd", str(repo))
    assert "mcp_servers.fs.command" in r.stdout and "mcp_servers.web" not in r.stdout
    assert ".mcp.json is ignored until you trust" in r.stdout
    ama("-p", "x", "--model", "script:none", "--cwd", str(repo), "--trust")  # grants trust
    r = ama("config", "show", "--cwd", str(repo))
    assert f'mcp_servers.web.url = "https://w"' in r.stdout and f".mcp.json {repo}/.mcp.json" in r.stdout


def test_servers_are_reported_in_session_started_and_the_result(ama, user_config, repo, script):
    user_config.write_text('[mcp_servers.fs]\ncommand = "npx"\n\n[mcp_servers.off]\ncommand = "x"\n'
                           'enabled = false\n')
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {
        "repo_stdio": {"command": "python", "args": ["-c", "open('MARKER','w')"]},
        "repo_http": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}))
    model = script(DONE)
    r = ama("-p", "hi", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    started = next(e for e in events if e["type"] == "session_started")
    assert [s["name"] for s in started["mcp_servers"]] == ["fs"]   # the repo is not trusted
    assert set(_servers(r.result)) == {"fs"} and r.result["mcp_servers"][0]["tools"] == []
    assert "MCP server fs:" in r.stderr    # not connected: a warning naming it and why
    assert ".mcp.json is ignored until you trust this repository" in r.stderr
    assert "untrusted notes" not in r.stderr   # it holds servers, not instructions

    r = ama("-p", "hi", "--model", model, "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json", "--trust")
    assert r.code == 0, r.stderr
    servers = _servers(r.result)
    assert set(servers) == {"fs", "repo_stdio", "repo_http"}
    assert servers["repo_stdio"]["status"] == "disabled"
    assert "MCP server repo_stdio not started: it runs only in a sandbox (it is defined by the " \
           "repository), and this session has none (--sandbox local)" in r.stderr
    assert not (repo / "MARKER").exists()


def test_required_server_that_does_not_connect_exits_2_naming_it(ama, user_config, repo, script, home):
    user_config.write_text('[mcp_servers.tracker]\nurl = "http://127.0.0.1:9/mcp"\nrequired = true\n'
                           'startup_timeout = 2\n')
    r = ama("-p", "hi", "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local",
            "--output-format", "json")
    assert r.code == 2, r.stderr
    assert "MCP server tracker is required but did not connect" in r.stderr
    assert r.result["subtype"] == "error_bad_input" and "tracker" in r.result["result"]
    workspaces = home / "ama" / "workspaces"
    assert not workspaces.exists() or not any(workspaces.iterdir())   # nothing left behind


def test_settled_options_carry_the_servers_and_an_untrusted_task_starts_none(user_config, repo):
    from agent.session.settle import Flags, settle
    user_config.write_text('[mcp_servers.fs]\ncommand = "npx"\n')
    options, _ = settle(Flags(cwd=repo, model="script:x"), headless=False)
    assert [s.name for s in options.mcp_servers] == ["fs"] and options.mcp_refused == ()
    options, _ = settle(Flags(task="t", cwd=repo, model="script:x", untrusted=True), headless=True)
    assert options.mcp_servers == ()
    assert [(s.name, why.split(":")[0]) for s, why in options.mcp_refused] == [("fs", "--untrusted")]


_NO_MCP = ("\nassert not any(m == 'mcp' or m.startswith(('mcp.', 'tools.mcp.hub')) "
           "for m in sys.modules), 'mcp imported'")


def test_ama_help_does_not_import_mcp():
    code = ("import sys, agent.cli.main\nsys.argv = ['ama', '--help']\ntry:\n    agent.cli.main.main()\n"
            "except SystemExit:\n    pass" + _NO_MCP)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)


def test_scripted_run_without_servers_does_not_import_mcp(tmp_path, repo, home, script):
    model = script(DONE)
    code = ("import sys, agent.cli.main\nsys.argv = ['ama', '-p', 'hi', '--model', %r, '--cwd', %r, "
            "'--sandbox', 'local']\ntry:\n    agent.cli.main.main()\nexcept SystemExit as e:\n"
            "    assert e.code == 0, e.code" % (model, str(repo))) + _NO_MCP
    from tests.ama_cli import isolated_env
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT,
                   env=isolated_env(home, {"PYTHONPATH": str(ROOT)}))
