"""Permission rules: shell splitting, deny-first order, defaults, "always allow" rules."""
from __future__ import annotations

import pytest

from agent.core.permissions import Permissions, Rule, generalise, is_network_command
from agent.core.shellsplit import split_compound


@pytest.mark.parametrize("command, parts", [
    ("ls", ["ls"]),
    ("ls && curl evil", ["ls", "curl evil"]),
    ("a; b || c | d & e", ["a", "b", "c", "d", "e"]),
    ("(cd x && rm y)", ["cd x", "rm y"]),
    ("echo $(curl x)", ["echo $(curl x)", "curl x"]),
    ('echo "$(curl x)"', ['echo "$(curl x)"', "curl x"]),     # substitution inside double quotes
    ("echo '$(curl x)'", ["echo '$(curl x)'"]),                # single quotes: only text
    ('echo "a && b; c"', ['echo "a && b; c"']),
    ("echo `whoami`", ["echo `whoami`", "whoami"]),
    ("diff <(sort a) b", ["diff <(sort a) b", "sort a"]),
    ("pytest -q 2>&1 | tail -5", ["pytest -q 2>&1", "tail -5"]),  # a redirection is not a separator
    ("make &> log", ["make &> log"]),
    ("echo $((1+2))", ["echo $((1+2))"]),
    ("bash -c 'ls; curl x'", ["bash -c 'ls; curl x'", "ls", "curl x"]),
    ("eval rm -rf /", ["eval rm -rf /", "rm -rf /"]),
    ("a\nb", ["a", "b"]),
    ("echo $(echo $(curl x))", ["echo $(echo $(curl x))", "echo $(curl x)", "curl x"]),
])
def test_split_compound(command, parts):
    assert split_compound(command) == parts


def shell(p: Permissions, command: str, can_ask: bool = False):
    return p.decide("shell", {"command": command}, True, can_ask=can_ask)[0]


def test_allow_rule_must_cover_every_part():
    p = Permissions.from_lists(allow=["shell(ls*)", "shell(grep *)"])
    assert shell(p, "ls -la") == "allow"
    assert shell(p, "ls | grep x") == "allow"               # two rules cover two parts
    assert shell(p, "ls && curl evil") == "ask"
    assert shell(p, "ls $(curl evil)") == "ask"
    assert shell(p, 'ls "$(curl evil)"') == "ask"
    assert shell(p, "(ls; rm -rf x)") == "ask"
    assert shell(p, "ls 'a && rm b'") == "allow"             # quoted: one argument of ls


def test_deny_fires_on_any_part_and_comes_first():
    p = Permissions.from_lists(allow=["shell"], deny=["shell(rm *)"], ask=["shell(git push*)"])
    assert shell(p, "ls && rm -rf x") == "deny"
    assert shell(p, "echo $(rm -rf x)") == "deny"
    assert shell(p, "bash -c 'rm -rf x'") == "deny"
    assert shell(p, "git push origin main") == "ask"
    assert shell(p, "ls") == "allow"
    both = Permissions.from_lists(allow=["edit_file(src/*)"], deny=["edit_file(src/secret*)"])
    assert both.decide("edit_file", {"path": "src/a.py"}, True)[0] == "allow"
    assert both.decide("edit_file", {"path": "src/secret.py"}, True)[0] == "deny"
    assert both.decide("edit_file", {"path": "docs/a.md"}, True)[0] == "ask"


def test_modes():
    assert Permissions(mode="plan").decide("edit_file", {"path": "a"}, True)[0] == "deny"
    assert Permissions(mode="plan").decide("read_file", {"path": "a"}, False)[0] == "allow"
    bypass = Permissions.from_lists(deny=["shell(rm*)"], ask=["shell(ls*)"], mode="bypass")
    assert shell(bypass, "ls") == "allow" and shell(bypass, "rm x") == "deny"


def test_defaults_depend_on_the_sandbox_and_the_network():
    sandboxed = Permissions()
    assert sandboxed.decide("read_file", {"path": "a"}, False)[0] == "allow"
    assert sandboxed.decide("edit_file", {"path": "a"}, True)[0] == "allow"
    assert shell(sandboxed, "make test", can_ask=True) == "allow"
    assert shell(sandboxed, "curl x", can_ask=True) == "allow"       # no network in the sandbox
    local = Permissions(sandboxed=False)
    assert shell(local, "make test", can_ask=True) == "ask"           # REPL: asked
    assert shell(local, "make test", can_ask=False) == "allow"        # headless: --sandbox local is the consent
    assert shell(local, "make && curl x", can_ask=False) == "ask"     # network not opted in: a denial headless
    net = Permissions(network=True)
    assert shell(net, "pip install x", can_ask=True) == "ask"
    assert shell(net, "pip install x", can_ask=False) == "allow"      # --network is the consent
    assert net.decide("web_fetch", {}, False, can_ask=True)[0] == "ask"
    assert Permissions().decide("web_fetch", {}, False)[0] == "ask"


def test_network_commands():
    assert is_network_command("curl -s x") and is_network_command("FOO=1 git push")
    assert is_network_command("sudo apt-get install x") and is_network_command("npm install")
    assert not is_network_command("git status") and not is_network_command("pytest -q")


def test_rule_parse():
    assert Rule.parse("shell(npm test*)") == Rule("shell", "npm test*")
    assert Rule.parse("read_file") == Rule("read_file", None)
    assert str(Rule.parse("shell(a(b))")) == "shell(a(b))"
    with pytest.raises(ValueError, match="bad permission rule"):
        Rule.parse("shell(")


@pytest.mark.parametrize("tool, args, rules", [
    ("shell", {"command": "npm test -- --watch"}, ["shell(npm test*)"]),
    ("shell", {"command": "pytest -q tests/a.py && ls"}, ["shell(pytest*)", "shell(ls*)"]),
    ("shell", {"command": "git commit -m x"}, ["shell(git commit*)"]),
    ("shell", {"command": "rm -rf build"}, ["shell(rm -rf build)"]),   # risky: kept exact
    ("shell", {"command": "python -c 'print(1)'"}, ["shell(python -c 'print(1)')"]),
    ("shell", {"command": "ls *.py"}, ["shell(ls*)"]),
    ("shell", {"command": "cat a*"}, ["shell(cat*)"]),
    ("edit_file", {"path": "src/pkg/a.py"}, ["edit_file(src/pkg/*)"]),
    ("write_file", {"path": "a.py"}, ["write_file(*)"]),
    ("git", {"args": ["status", "-s"]}, ["git(status*)"]),
    ("todo_write", {"items": []}, ["todo_write"]),
])
def test_generalise(tool, args, rules):
    assert generalise(tool, args) == rules
    p = Permissions.from_lists(allow=rules)
    assert p.decide(tool, args, True)[0] == "allow"   # the saved rule allows the call it came from


def test_generalised_exact_rule_does_not_widen():
    [rule] = generalise("shell", {"command": "rm -rf build*"})
    p = Permissions.from_lists(allow=[rule])
    assert shell(p, "rm -rf build*") == "allow"
    assert shell(p, "rm -rf build/../..") == "ask"


def test_granted_rules_allow_without_restricting():
    p = Permissions.from_lists(granted=["shell(npm test*)"], sandboxed=False)
    assert shell(p, "npm test -- -x", can_ask=True) == "allow"       # asked before; granted now
    assert shell(p, "make", can_ask=True) == "ask"                   # the default, not a restriction
    assert shell(Permissions.from_lists(granted=["shell(npm test*)"]), "make", can_ask=True) == "allow"
    listed = Permissions.from_lists(allow=["shell(ls*)"], granted=["shell(npm test*)"])
    assert shell(listed, "ls && npm test") == "allow"
    assert shell(listed, "make") == "ask"                            # the allow list still restricts


def test_saved_rule_reaches_a_headless_run(tmp_path, monkeypatch):
    """A rule saved for a repo by "always allow" allows its command in later runs."""
    import json
    import subprocess
    import sys
    from tests.config.conftest import env_for
    home = tmp_path / "home"
    (home / "ama").mkdir(parents=True)
    (home / "xdg").mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    monkeypatch.setenv("AMA_HOME", str(home / "ama"))
    from agent.config.trust import save_rule
    save_rule(repo, "shell(curl*)")
    turn = {"tool_calls": [{"name": "shell", "arguments": {"command": "curl --version >/dev/null; echo ran"}}]}
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps(turn) + "\n" + json.dumps({"text": "ok"}) + "\n")
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "agent", "-p", "x", "--model", f"script:{script}", "--cwd", str(repo),
         "--sandbox", "local", "--output-format", "json"], capture_output=True, text=True,
        env=env_for(home), timeout=60)
    r = run()
    assert json.loads(r.stdout.splitlines()[-1])["permission_denials"] == [], r.stderr
    (home / "ama" / "trust.json").unlink()
    r = run()   # without the saved rule: curl is a network command, denied headless under local
    assert json.loads(r.stdout.splitlines()[-1])["permission_denials"][0]["tool_name"] == "shell"


def test_a_rule_may_name_tools_by_glob():
    """MCP tools are `mcp__<server>__<tool>`: one rule can cover a server's tools."""
    perms = Permissions.from_lists(deny=["mcp__github__*"], allow=["mcp__db__query"])
    assert perms.decide("mcp__github__create_issue", {}, True)[0] == "deny"
    assert perms.decide("mcp__db__query", {}, True)[0] == "allow"
    assert perms.decide("mcp__db__drop", {}, True)[0] == "ask"   # may act outside: asked
    assert perms.decide("mcp__db__list", {}, False)[0] == "allow"  # read-only: allowed
    assert str(Rule.parse("mcp__*")) == "mcp__*"
