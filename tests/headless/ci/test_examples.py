"""examples/ci/: the GitHub Actions workflow and the GitLab CI job are valid YAML and
call `ama` only with flags and subcommands that `ama --help` documents."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

CI = Path(__file__).parents[3] / "examples" / "ci"
OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "(", ")"}


def shell_scripts(path: Path) -> list[str]:
    """Every shell script in a workflow: GitHub `run:` steps, GitLab `script:` lines."""
    doc = yaml.safe_load(path.read_text())
    scripts: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "run" and isinstance(value, str):
                    scripts.append(value)
                elif key in ("script", "before_script", "after_script"):
                    scripts.extend(value if isinstance(value, list) else [value])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(doc)
    return scripts


def ama_calls(script: str) -> list[list[str]]:
    """The argument lists of every `ama ...` command in a shell script."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, tok in enumerate(tokens):
            if tok == "ama" and (i == 0 or tokens[i - 1] in OPERATORS):
                args = []
                for t in tokens[i + 1:]:
                    if t in OPERATORS:
                        break
                    args.append(t)
                calls.append(args)
    return calls


def documented_flags(ama, *command: str) -> set[str]:
    r = ama(*command, "--help")
    assert r.code == 0, r.stderr
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout))


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_every_ama_flag_in_the_examples_is_documented(ama, name):
    from agent.cli.main import SUBCOMMANDS

    calls = [c for s in shell_scripts(CI / name) for c in ama_calls(s)]
    runs = [c for c in calls if c and c[0] not in SUBCOMMANDS]
    assert runs, f"{name} never runs `ama -p`"
    helps: dict[tuple[str, ...], set[str]] = {}
    for args in calls:
        command = tuple(args[:1]) if args and args[0] in SUBCOMMANDS else ()
        if command and len(args) > 1 and not args[1].startswith("-"):
            command = tuple(args[:2])  # e.g. `ama sandbox build`
        if command not in helps:
            helps[command] = documented_flags(ama, *command)
        for arg in args:
            if arg.startswith("-"):
                flag = arg.split("=", 1)[0]
                assert flag in helps[command], f"{name}: `ama {' '.join(command)}` has no {flag}"
    for args in runs:
        assert {"-p", "--task-file", "--untrusted", "--verify"} <= set(args), args
        assert any(a.startswith("branch:") for a in args), args


def test_the_checker_catches_an_unknown_flag(ama):
    # The control for the test above: a made-up flag is not in the help.
    assert "--no-such-flag" not in documented_flags(ama)
    assert ama_calls('x=1; ama -p --task-file t.md --bogus > out || code=$?') == [
        ["-p", "--task-file", "t.md", "--bogus"]]


def test_github_workflow_runs_on_labelled_issues_and_opens_a_pull_request():
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on == {"issues": {"types": ["labeled"]}}
    [job] = doc["jobs"].values()
    assert "github.event.label.name" in job["if"]
    scripts = "\n".join(shell_scripts(CI / "github-actions.yml"))
    assert "gh pr create" in scripts and 'git push origin "$BRANCH"' in scripts
    # Issue text reaches the shell only through `env:`, never pasted into a script.
    assert "github.event.issue.body" not in scripts and "github.event.issue.title" not in scripts


def test_gitlab_job_pushes_a_merge_request():
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    [job] = [v for v in doc.values() if isinstance(v, dict) and "script" in v]
    script = "\n".join(job["script"])
    assert "merge_request.create" in script and "--task-file task.md" in script
