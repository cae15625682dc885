"""CI outputs: `--apply branch:NAME` with `--author`, `--patch-out`, and the result
object validating against the schema shipped in the package (`ama schema result`)."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.ama_cli import wait_until_running
from .conftest import DONE, FIX, shell


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_branch_gets_exactly_one_commit_with_the_change_set_and_author(ama, repo, script, valid):
    head = git(repo, "rev-parse", "HEAD").strip()
    r = ama("-p", "fix add", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--apply", "branch:ama/fix-add", "--author", "CI Bot <ci-bot@example.com>",
            "--output-format", "json")
    assert r.code == 0, r.stderr
    res = valid(r.result)
    assert res["applied"] == {"mode": "branch", "branch": "ama/fix-add",
                              "commit": git(repo, "rev-parse", "ama/fix-add").strip()}
    assert git(repo, "rev-list", f"{head}..ama/fix-add").split() == [res["applied"]["commit"]]
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "ama/fix-add").strip() == \
        "CI Bot <ci-bot@example.com>|CI Bot <ci-bot@example.com>|Fixed add."
    assert git(repo, "diff", "--name-only", head, "ama/fix-add").split() == ["calc.py"]
    assert "return a + b" in git(repo, "show", "ama/fix-add:calc.py")
    assert "return a - b" in (repo / "calc.py").read_text()  # the tree is untouched
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_author_must_be_name_and_email(ama, repo, script):
    r = ama("-p", "x", "--model", script(DONE), "--cwd", str(repo), "--author", "ci-bot")
    assert r.code == 2 and 'write it as "Name <email>"' in r.stderr


def test_patch_out_holds_a_patch_git_applies(ama, repo, script, tmp_path, valid):
    out = tmp_path / "change.patch"
    r = ama("-p", "x", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox", "local",
            "--apply", "patch", "--patch-out", str(out), "--output-format", "json")
    assert r.code == 0, r.stderr
    assert valid(r.result)["applied"] == {"mode": "patch", "patch_out": str(out)}
    assert out.read_text() == r.result["changes"]["patch"]
    git(repo, "apply", "--check", str(out))


def test_ama_schema_result_prints_the_shipped_schema(ama, result_schema):
    import jsonschema

    r = ama("schema", "result")
    assert r.code == 0
    printed = json.loads(r.stdout)
    assert printed == result_schema
    jsonschema.Draft202012Validator.check_schema(printed)
    assert ama("schema", "nothing").code == 2


def test_the_schema_is_package_data():
    from importlib import resources

    assert (resources.files("agent") / "schemas" / "result.schema.json").is_file()
    from pathlib import Path

    text = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in text or '"**/*.json"' in text


LIST = {"tool_calls": [{"name": "list_files", "arguments": {}}]}


@pytest.mark.parametrize("subtype, code, turns, args", [
    ("success", 0, [FIX, DONE], []),
    ("success", 0, [FIX, DONE], ["--apply", "tree"]),
    ("success", 0, [FIX, DONE], ["--apply", "commit"]),
    ("success", 0, [FIX, DONE], ["--verify", "grep -q 'a + b' calc.py"]),
    ("error_bad_input", 2, [{"text": "x", "bogus": 1}], []),
    ("error_max_turns", 3, [LIST] * 4, ["--max-turns", "2"]),
    ("error_max_cost", 3, [{**LIST, "usage": {"cost_usd": 1.0}}] * 3, ["--max-cost", "0.5"]),
    ("error_max_time", 3, [shell("sleep 1.2"), DONE], ["--max-time", "1"]),
    ("error_permission_denied", 4, [shell("rm -rf x"), DONE], ["--allowed-tools", "shell(ls*)"]),
    ("error_verification_failed", 5, [FIX, DONE, DONE], ["--verify", "false", "--max-verify", "2"]),
    ("error_during_execution", 1, [shell('rm -rf "$PWD"'), shell("true"), DONE], []),
])
def test_real_results_validate_against_the_schema(ama, repo, script, valid, subtype, code,
                                                 turns, args):
    # ama-events ends with the same object; check it once, on the first case.
    fmt = "ama-events" if args == [] and subtype == "success" else "json"
    r = ama("-p", "x", "--model", script(*turns), "--cwd", str(repo), "--sandbox", "local",
            "--output-format", fmt, *args)
    assert (r.code, r.result["subtype"]) == (code, subtype), r.stderr
    valid(r.result)


def test_interrupted_and_attempt_results_validate(ama_home, repo, scripts, valid):
    import os
    import signal
    import sys
    import time

    model = scripts([shell("sleep 30"), DONE], [FIX, DONE])
    env = {**os.environ, "AMA_HOME": str(ama_home)}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "-p", "x", "--model", model,
                             "--cwd", str(repo), "--sandbox", "local", "--attempts", "2",
                             "--select", "smallest", "--output-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "sleep 30" not in "".join(
            p.read_text() for p in ama_home.glob("sessions/*-a0.jsonl")):
        time.sleep(0.05)
    wait_until_running(("sleep", "30"))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    res = valid(json.loads(out.splitlines()[-1]))
    assert res["subtype"] == "error_interrupted" and len(res["attempts"]) == 2
