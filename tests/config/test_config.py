"""Config layering, sources, and error messages that name the file, line and key."""
from __future__ import annotations

import json

import pytest

from agent.config.load import load_config, model_options, render_show
from agent.core.errors import BadInput

from tests.config.conftest import DONE


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_layers_in_order_with_sources(home, user_config, tmp_path, monkeypatch):
    write(user_config, 'model = "openai:gpt-5.2"\nmax_turns = 20\nmax_verify = 4\nnetwork = true\n'
                       '[permissions]\nallow = ["shell(npm test*)"]\n')
    project = tmp_path / "p"
    write(project / ".ama" / "config.toml", 'max_turns = 7\nmax_verify = 5\n\n[permissions]\n'
                                            'deny = ["shell(git push*)"]\n')
    monkeypatch.setenv("AMA_MAX_VERIFY", "6")
    cfg = load_config(project, trusted=True, flags={"network": False, "permissions.allow": ["read_file"]})
    assert cfg.get("model") == "openai:gpt-5.2"
    assert cfg.source("model") == f"user config {user_config}:1"
    assert cfg.get("max_turns") == 7 and cfg.source("max_turns").endswith(".ama/config.toml:1")
    assert cfg.get("max_verify") == 6 and cfg.source("max_verify") == "env AMA_MAX_VERIFY"
    assert cfg.get("network") is False and cfg.source("network") == "flag"
    assert cfg.get("max_cost") is None and cfg.source("max_cost") == "default"
    # permission lists add up across layers
    assert cfg.get("permissions.allow") == ["shell(npm test*)", "read_file"]
    assert cfg.get("permissions.deny") == ["shell(git push*)"]
    assert cfg.source("permissions.deny").endswith(".ama/config.toml:5")
    shown = render_show(cfg)
    assert "max_turns = 7" in shown and "env AMA_MAX_VERIFY" in shown


def test_project_config_needs_trust(home, tmp_path):
    project = tmp_path / "p"
    write(project / ".ama" / "config.toml", "max_turns = 7\n")
    cfg = load_config(project, trusted=False)
    assert cfg.get("max_turns") == 50
    assert "ignored until you trust" in cfg.notices[0]


def test_tables_providers_and_prices(home, user_config, monkeypatch):
    write(user_config, '[providers.openai]\nbase_url = "http://127.0.0.1:1/v1"\napi_key_env = "MY_KEY"\n'
                       '[prices."gpt-4.1"]\ninput = 2\noutput = 8\ncontext_window = 1000\n')
    monkeypatch.setenv("MY_KEY", "sk-test")
    cfg = load_config(None, trusted=False, flags={"context_window": 5000})
    assert cfg.source("prices.gpt-4.1.input") == f"user config {user_config}:5"
    opts = model_options(cfg, "openai:gpt-4.1")
    assert opts == {"base_url": "http://127.0.0.1:1/v1", "api_key": "sk-test", "context_window": 5000,
                    "prices": {"gpt-4.1": {"input": 2.0, "output": 8.0, "context_window": 1000}}}
    assert "base_url" not in model_options(cfg, "anthropic:x")
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(BadInput, match="names MY_KEY, which is not set"):
        model_options(cfg, "openai:gpt-4.1")


@pytest.mark.parametrize("text, message", [
    ('model = "x"\nmax_turn = 5\n', ":2: unknown key 'max_turn'"),
    ('model = "x"\n\n[permissions]\nallow = "shell"\n', ":4: permissions.allow = 'shell': "
                                                        "permissions.allow must be a list of strings"),
    ('max_turns = "ten"\n', ":1: max_turns = 'ten': max_turns must be an integer"),
    ('network = 1\n', ":1: network = 1: network must be true or false"),
    ('sandbox = "chroot"\n', ":1: sandbox = 'chroot': choose one of docker, bwrap, local"),
    ('[providers.openai]\nbase_uri = "x"\n', ":2: unknown key 'providers.openai.base_uri'"),
    ('[permissions]\nallow = ["a"]\ndeny = [1]\n', ":3: permissions.deny = [1]"),
    ('model = "x"\nmax_turns = \n', "invalid TOML: "),
])
def test_errors_name_file_line_and_key(home, user_config, text, message):
    write(user_config, text)
    with pytest.raises(BadInput) as e:
        load_config(None, trusted=False)
    assert str(user_config) in e.value.message and message in e.value.message


def test_toml_syntax_error_carries_the_line(home, user_config):
    write(user_config, 'model = "x"\n\nmax_turns = = 3\n')
    with pytest.raises(BadInput, match=r"line 3"):
        load_config(None, trusted=False)


def test_env_values_are_typed(home, monkeypatch):
    monkeypatch.setenv("AMA_NETWORK", "yes")
    monkeypatch.setenv("AMA_PERMISSIONS_DENY", "shell(rm*), shell(curl*)")
    monkeypatch.setenv("AMA_COMPACTION_THRESHOLD", "0.5")
    cfg = load_config(None, trusted=False)
    assert cfg.get("network") is True and cfg.get("compaction.threshold") == 0.5
    assert cfg.get("permissions.deny") == ["shell(rm*)", "shell(curl*)"]
    monkeypatch.setenv("AMA_MAX_TURNS", "many")
    with pytest.raises(BadInput, match="AMA_MAX_TURNS='many': max_turns must be an integer"):
        load_config(None, trusted=False)


def test_extra_config_file_and_assignments(home, tmp_path):
    extra = write(tmp_path / "ci.toml", "max_turns = 3\n")
    cfg = load_config(None, trusted=False, extra=[str(extra), "network=true", "verify=make test"])
    assert cfg.get("max_turns") == 3 and cfg.source("max_turns") == f"--config {extra}:1"
    assert cfg.get("network") is True and cfg.get("verify") == "make test"
    with pytest.raises(BadInput, match="unknown key 'nope'"):
        load_config(None, trusted=False, extra=["nope=1"])


# ---- through the real CLI ------------------------------------------------------------

def test_config_show_cli(ama, home, user_config, repo):
    write(user_config, 'max_turns = 9\n')
    r = ama("config", "show", "--cwd", str(repo), env={"AMA_MAX_COST": "2.5"})
    assert r.code == 0, r.stderr
    lines = {l.split(" = ")[0]: l for l in r.stdout.splitlines() if " = " in l}
    assert "9" in lines["max_turns"] and f"user config {user_config}:1" in lines["max_turns"]
    assert "# env AMA_MAX_COST" in lines["max_cost"]
    assert "# default" in lines["max_verify"]
    r = ama("config", "show", "--json", "--cwd", str(repo))
    assert json.loads(r.stdout)["values"]["max_turns"] == 9


def test_config_drives_a_run_and_flags_win(ama, user_config, repo, script):
    loop = {"tool_calls": [{"name": "list_files", "arguments": {}}]}
    write(user_config, 'max_turns = 2\nsandbox = "local"\n')
    r = ama("-p", "x", "--model", script(loop, loop, loop, DONE), "--cwd", str(repo),
            "--output-format", "json")
    assert r.code == 3 and r.result["num_turns"] == 2, r.stderr     # from the config
    r = ama("-p", "x", "--model", script(loop, loop, loop, DONE), "--cwd", str(repo),
            "--max-turns", "9", "--output-format", "json")
    assert r.code == 0 and r.result["num_turns"] == 4, r.stderr     # the flag wins


def test_config_permission_rules_apply(ama, user_config, repo, script):
    write(user_config, 'sandbox = "local"\n[permissions]\ndeny = ["shell(*rm *)"]\n')
    turn = {"tool_calls": [{"name": "shell", "arguments": {"command": "ls && rm -f calc.py"}}]}
    r = ama("-p", "x", "--model", script(turn, {"text": "blocked"}), "--cwd", str(repo),
            "--output-format", "json")
    assert r.code == 4, r.stderr
    assert "denied by rule shell(*rm *)" in r.result["permission_denials"][0]["reason"]


def test_bad_user_config_is_exit_2_naming_the_file(ama, user_config, repo, script):
    write(user_config, 'max_turns = 5\nmodle = "x"\n')
    r = ama("-p", "x", "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local")
    assert r.code == 2
    assert f"{user_config}:2: unknown key 'modle'" in r.stderr


def test_thinking_and_reasoning_effort_reach_the_providers(home, user_config, monkeypatch):
    from agent.models.registry import resolve_model

    write(user_config, 'thinking_budget = 4096\nreasoning_effort = "high"\n')
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cfg = load_config(None, trusted=False)
    opts = model_options(cfg, "anthropic:claude-sonnet-4-6")
    assert opts["thinking_budget"] == 4096 and opts["reasoning_effort"] == "high"
    assert resolve_model("anthropic:claude-sonnet-4-6", opts).thinking_budget == 4096
    assert resolve_model("openai:gpt-5.2", model_options(cfg, "openai:gpt-5.2")).reasoning_effort == "high"
    monkeypatch.setenv("AMA_THINKING_BUDGET", "adaptive")
    assert model_options(load_config(None, trusted=False), "anthropic:x")["thinking_budget"] == "adaptive"
    for bad in ("100", "lots"):
        monkeypatch.setenv("AMA_THINKING_BUDGET", bad)
        with pytest.raises(BadInput, match='thinking_budget must be a number of tokens, 1024 or more, or "adaptive"'):
            load_config(None, trusted=False)
