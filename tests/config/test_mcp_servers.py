"""MCP servers in config: `[mcp_servers.NAME]`, a trusted repo's `.mcp.json`, and which
servers this build starts (agent/config/mcp.py). In-process, no `mcp` SDK."""
from __future__ import annotations

import json

import pytest

from agent.config.load import load_config, render_show
from agent.config.mcp import server_specs
from agent.config.trust import check_trust, grant_trust
from agent.core.errors import BadInput


@pytest.fixture
def load(home):
    """load_config(repo) with only the test's config home (and `env`) in its environment."""
    def run(repo, trusted, env=None):
        return load_config(repo, trusted=trusted,
                           env={"XDG_CONFIG_HOME": str(home / "xdg"), "HOME": str(home), **(env or {})})
    return run


def test_user_servers_become_specs(load, user_config, repo):
    user_config.write_text(
        '# my tools\n[mcp_servers.fs]\ncommand = "npx"\nargs = ["-y", "fs"]\nenv = {A = "1"}\n'
        'tool_timeout = 5\nrequired = true\nenabled_tools = ["read"]\n\n'
        '[mcp_servers.gh]\nurl = "https://api.example/mcp"\nbearer_token_env = "GH_TOKEN"\n'
        'headers = {X-Org = "me"}\ndisabled_tools = ["delete_repo"]\n\n'
        '[mcp_servers.off]\ncommand = "x"\nenabled = false\n')
    plan = server_specs(load(repo, False), env={"GH_TOKEN": "t0k"})
    fs, gh = plan.start
    assert (fs.name, fs.command, fs.args, dict(fs.env), fs.tool_timeout, fs.startup_timeout,
            fs.required, fs.enabled_tools, fs.trusted) == \
        ("fs", "npx", ("-y", "fs"), {"A": "1"}, 5.0, 10.0, True, ("read",), True)
    assert fs.source == f"user config {user_config}"
    assert gh.url == "https://api.example/mcp" and gh.command is None
    assert dict(gh.headers) == {"X-Org": "me", "Authorization": "Bearer t0k"}
    assert gh.disabled_tools == ("delete_repo",) and gh.enabled_tools is None
    assert plan.refused == ()     # `off` is left out altogether


def test_missing_bearer_token_variable_is_bad_input_naming_it(load, user_config, repo):
    user_config.write_text('[mcp_servers.gh]\nurl = "https://x"\nbearer_token_env = "NOPE_TOKEN"\n')
    with pytest.raises(BadInput, match="NOPE_TOKEN.*not set"):
        server_specs(load(repo, False), env={})


@pytest.mark.parametrize("body, message", [
    ('[mcp_servers.a]\ncommand = 3\n', r"config.toml:2: mcp_servers.a.command = 3: .*must be a string"),
    ('[mcp_servers.a]\ncommand = "x"\nargs = "y"\n', r"mcp_servers.a.args must be a list of strings"),
    ('[mcp_servers.a]\ncommand = "x"\nenv = {K = 1}\n', r"mcp_servers.a.env.K must be a string"),
    ('[mcp_servers.a]\ncommand = "x"\nstartup_timeout = 0\n', r"startup_timeout must be greater than 0"),
    ('[mcp_servers.a]\ncommand = "x"\nrequired = "yes"\n', r"required must be true or false"),
    ('[mcp_servers.a]\ncommand = "x"\nflavour = "x"\n', r"config.toml:3: unknown key 'mcp_servers.a.flavour'"),
])
def test_bad_values_name_the_file_line_and_key(load, user_config, repo, body, message):
    user_config.write_text(body)
    with pytest.raises(BadInput, match=message):
        load(repo, False)


@pytest.mark.parametrize("body, message", [
    ('[mcp_servers.a]\nenabled = true\n', "either `command`.*not neither"),
    ('[mcp_servers.a]\ncommand = "x"\nurl = "http://h"\n', "not both"),
    ('[mcp_servers.a]\nurl = "http://h"\nargs = ["x"]\n', "args is for stdio servers only"),
    ('[mcp_servers.a]\ncommand = "x"\nheaders = {A = "b"}\n', "headers is for HTTP servers only"),
    ('[mcp_servers."a b"]\ncommand = "x"\n', "'a b': use letters, digits"),
])
def test_bad_servers_name_the_server_and_file(load, user_config, repo, body, message):
    user_config.write_text(body)
    with pytest.raises(BadInput, match=message) as e:
        server_specs(load(repo, False), env={})
    assert str(user_config) in str(e.value)


MCP_JSON = {"mcpServers": {
    "local": {"command": "${TOOL_BIN:-node}", "args": ["srv.js", "--home=${HOME_DIR}"],
              "env": {"KEY": "${API_KEY}"}},
    "web": {"type": "http", "url": "https://${HOST:-mcp.example}/mcp",
            "headers": {"Authorization": "Bearer ${API_KEY}"}}}}


def test_mcp_json_is_read_only_when_trusted_with_var_expansion(load, repo):
    (repo / ".mcp.json").write_text(json.dumps(MCP_JSON))
    env = {"HOME_DIR": "/h", "API_KEY": "k1"}
    untrusted = load(repo, trusted=False, env=env)
    assert not any(k.startswith("mcp_servers.") for k in untrusted.values)
    assert any(".mcp.json is ignored until you trust" in n for n in untrusted.notices)
    cfg = load(repo, trusted=True, env=env)
    assert cfg.get("mcp_servers.local.command") == "node"
    assert cfg.get("mcp_servers.local.args") == ["srv.js", "--home=/h"]
    assert cfg.get("mcp_servers.web.url") == "https://mcp.example/mcp"
    plan = server_specs(cfg, env={})
    local, web = sorted(plan.start, key=lambda s: s.name)
    assert dict(web.headers) == {"Authorization": "Bearer k1"} and not web.trusted
    assert web.source == f".mcp.json {repo / '.mcp.json'}" and not web.sandboxed
    assert local.name == "local" and dict(local.env) == {"KEY": "k1"}
    assert local.sandboxed and not local.trusted   # a repository's stdio server: in the sandbox


def test_mcp_json_unset_variable_is_bad_input_naming_it(load, repo):
    (repo / ".mcp.json").write_text(json.dumps(MCP_JSON))
    with pytest.raises(BadInput, match=r"mcpServers.local.args: \$\{HOME_DIR\} is not set"):
        load(repo, trusted=True, env={"API_KEY": "k"})


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"mcpServers": []}', "expected"),
    ('{"mcpServers": {"a": {"command": ["x"]}}}', "mcpServers.a.command must be str"),
    ('{"mcpServers": {"a": {"type": "sse", "url": "http://h"}}}', "ama speaks stdio and http"),
])
def test_bad_mcp_json_is_bad_input(load, repo, text, message):
    (repo / ".mcp.json").write_text(text)
    with pytest.raises(BadInput, match=message):
        load(repo, trusted=True)


def test_repo_toml_servers_and_a_users_server_the_repo_cannot_change(load, user_config, repo):
    user_config.write_text('[mcp_servers.gh]\nurl = "https://mine/mcp"\nbearer_token_env = "T"\n')
    (repo / ".ama").mkdir()
    (repo / ".ama" / "config.toml").write_text(
        '[mcp_servers.gh]\nurl = "https://evil/mcp"\n\n[mcp_servers.docs]\nurl = "https://docs/mcp"\n'
        '\n[mcp_servers.build]\ncommand = "make"\n')
    cfg = load(repo, trusted=True)
    assert cfg.get("mcp_servers.gh.url") == "https://mine/mcp"   # the user's token stays home
    assert any("gh is defined in your own config" in n for n in cfg.notices)
    plan = server_specs(cfg, env={"T": "x"})
    assert [s.name for s in plan.start] == ["gh", "docs", "build"]
    assert plan.start[1].source == f"project config {repo / '.ama' / 'config.toml'}"
    assert [s.sandboxed for s in plan.start] == [False, False, True] and plan.refused == ()


def test_user_server_with_sandbox_true_runs_in_the_sandbox(load, user_config, repo):
    user_config.write_text('[mcp_servers.s]\ncommand = "x"\nsandbox = true\n'
                           '[mcp_servers.h]\ncommand = "y"\n')
    s, h = server_specs(load(repo, False), env={}).start
    assert s.sandboxed and s.trusted and not h.sandboxed


def test_config_show_names_every_server_and_its_source_hiding_secrets(load, user_config, repo):
    user_config.write_text('[mcp_servers.fs]\ncommand = "npx"\nenv = {TOKEN = "s3cret"}\n')
    (repo / ".mcp.json").write_text(json.dumps(MCP_JSON))
    shown = render_show(load(repo, trusted=True, env={"HOME_DIR": "/h", "API_KEY": "k1"}))
    assert f"mcp_servers.fs.command = \"npx\"" in shown and f"user config {user_config}:2" in shown
    assert "mcp_servers.web.url" in shown and f".mcp.json {repo / '.mcp.json'}" in shown
    assert "s3cret" not in shown and "k1" not in shown and '"TOKEN": "***"' in shown


def test_changed_mcp_json_is_untrusted_again(load, repo, home):
    (repo / ".mcp.json").write_text(json.dumps(MCP_JSON))
    grant_trust(repo)
    assert check_trust(repo).trusted
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"x": {"command": "curl"}}}))
    check = check_trust(repo)
    assert not check.trusted and check.changed == (".mcp.json",)


def test_the_user_turns_a_repository_server_off(load, user_config, repo):
    user_config.write_text('[mcp_servers.web]\nenabled = false\n')
    (repo / ".mcp.json").write_text(json.dumps(MCP_JSON))
    plan = server_specs(load(repo, trusted=True, env={"HOME_DIR": "/h", "API_KEY": "k"}), env={})
    assert [s.name for s in plan.start] == ["local"]   # `web` is off; `local` runs sandboxed
