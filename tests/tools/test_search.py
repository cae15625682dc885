"""list_files and grep through ripgrep: ignores, globs, caps, errors."""
from __future__ import annotations

import subprocess

import pytest

from tools.base import ToolContext, ToolError
from tools.files.search import Grep, ListFiles
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    (tmp_path / "src/pkg").mkdir(parents=True)
    (tmp_path / "src/main.py").write_text("def main():\n    return helper()\n")
    (tmp_path / "src/pkg/util.py").write_text("def helper():\n    return 42\n")
    (tmp_path / "README.md").write_text("# Demo\nCall main() to start.\n")
    (tmp_path / "debug.log").write_text("main() failed\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build/out.py").write_text("def main(): pass\n")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github/ci.yml").write_text("run: main\n")
    return tmp_path


def ls(ctx, tool=None, **args):
    tool = tool or ListFiles()
    return tool.run(tool.params(**args), ctx)


def grep(ctx, tool=None, **args):
    tool = tool or Grep()
    return tool.run(tool.params(**args), ctx)


def test_list_respects_gitignore_shows_hidden_skips_git(ctx, repo):
    out = ls(ctx).output.splitlines()
    assert out == [".github/ci.yml", ".gitignore", "README.md", "src/main.py",
                   "src/pkg/util.py"]


def test_gitignore_respected_without_a_git_repo(ctx, tmp_path):
    (tmp_path / ".gitignore").write_text("secret.txt\n")
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "a.txt").write_text("x")
    assert ls(ctx).output.splitlines() == [".gitignore", "a.txt"]


def test_list_subdir_and_pattern(ctx, repo):
    assert ls(ctx, path="src").output.splitlines() == ["src/main.py", "src/pkg/util.py"]
    assert ls(ctx, pattern="*.py").output.splitlines() == ["src/main.py", "src/pkg/util.py"]
    assert ls(ctx, pattern="src/pkg/**").output.splitlines() == ["src/pkg/util.py"]
    assert ls(ctx, pattern="*.rs").output == "no files match '*.rs'"


def test_list_cap_with_note(ctx, tmp_path):
    for i in range(12):
        (tmp_path / f"f{i:02}.txt").write_text("x")
    res = ls(ctx, ListFiles(max_files=5))
    lines = res.output.splitlines()
    assert lines[:5] == [f"f{i:02}.txt" for i in range(5)]
    assert lines[5].startswith("[7 more files not shown")
    assert res.data["count"] == 12


def test_list_missing_dir(ctx):
    with pytest.raises(ToolError, match="no such file"):
        ls(ctx, path="nope")


def test_grep_matches_as_path_line_text_sorted(ctx, repo):
    out = grep(ctx, pattern=r"main\(\)").output.splitlines()
    assert out == ["README.md:2:Call main() to start.", "src/main.py:1:def main():"]


def test_grep_hidden_files_but_not_ignored_or_git(ctx, repo):
    (repo / ".git" / "marker").write_text("run: main\n")
    assert grep(ctx, pattern="run: main").output == ".github/ci.yml:1:run: main"


def test_grep_glob_path_and_case(ctx, repo):
    assert grep(ctx, pattern="def", glob="*.py", path="src/pkg").output == \
        "src/pkg/util.py:1:def helper():"
    assert grep(ctx, pattern="DEMO").output == "no matches"
    assert grep(ctx, pattern="DEMO", ignore_case=True).output == "README.md:1:# Demo"


def test_grep_single_file(ctx, repo):
    assert grep(ctx, pattern="return", path="src/main.py").output == \
        "src/main.py:2:    return helper()"


def test_no_matches_is_not_an_error(ctx, repo):
    res = grep(ctx, pattern="zebra")
    assert res.output == "no matches" and res.data["count"] == 0


def test_invalid_regex_reports_rg_message(ctx, repo):
    with pytest.raises(ToolError, match="regex parse error"):
        grep(ctx, pattern="foo(")


def test_pattern_and_glob_starting_with_dash_are_not_flags(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("--files\n-v here\n")
    assert grep(ctx, pattern="--files").output == "a.txt:1:--files"
    assert grep(ctx, pattern="-v").output == "a.txt:2:-v here"
    assert grep(ctx, pattern="here", glob="--files").output == "no matches"


def test_grep_cap_with_note(ctx, tmp_path):
    (tmp_path / "many.txt").write_text("hit\n" * 25)
    res = grep(ctx, Grep(max_matches=10), pattern="hit")
    lines = res.output.splitlines()
    assert len(lines) == 11 and lines[9] == "many.txt:10:hit"
    assert lines[10].startswith("[15 more matches not shown")
    assert res.data["count"] == 25


def test_long_lines_are_previewed(ctx, tmp_path):
    (tmp_path / "min.js").write_text("var a=1;" * 5000 + "needle\n")
    out = grep(ctx, pattern="needle").output
    assert len(out) < 1000 and out.startswith("min.js:1:var a=1;")


def test_user_ripgrep_config_is_ignored(ctx, tmp_path, monkeypatch):
    cfg = tmp_path.parent / f"{tmp_path.name}-rgconfig"
    cfg.write_text("--files-with-matches\n")
    monkeypatch.setenv("RIPGREP_CONFIG_PATH", str(cfg))
    (tmp_path / "a.txt").write_text("x\n")
    assert grep(ctx, pattern="x").output == "a.txt:1:x"


def test_not_mutating():
    assert ListFiles().is_mutating(ListFiles.params()) is False
    assert Grep().is_mutating(Grep.params(pattern="x")) is False


def test_interrupt_stops_the_search_and_says_so(ctx, tmp_path):
    for i in range(50):
        (tmp_path / f"f{i:02}.txt").write_text("hit\n" * 100)
    ctx.cancel.set()
    out = grep(ctx, pattern="hit").output
    assert out.endswith("[search stopped early (time limit or interrupt); results are incomplete]")
    assert out.count("hit") < 5000
