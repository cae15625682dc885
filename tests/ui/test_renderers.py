"""Renderers into Console(file=StringIO(), width=...): diffs, tool calls, the plan, the
status line, streamed Markdown. Wide characters and very long lines included."""
from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console

from agent.ui.diff import render_hunk, render_summary
from agent.ui.markdown_stream import MarkdownStream
from agent.ui.plan import render_plan
from agent.ui.status import Status, status_text
from agent.ui.toolcalls import render_call, render_result
from tools.workspace.changeset import FileChange
from tools.workspace.hunks import compute_hunks
from tools.workspace.review import FileItem


def render(renderable, width: int = 60, color: bool = False) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="truecolor" if color else None,
                      force_terminal=color, highlight=False)
    console.print(renderable)
    return buf.getvalue()


def lines_fit(text: str, width: int) -> bool:
    return all(cell_len(line) <= width for line in text.splitlines())


def test_diff_numbers_and_signs():
    [h] = compute_hunks("a = 1\ntotal = a - b\nz\n", "a = 1\ntotal = a + b\nz\n")
    out = render(render_hunk(h, "hunk 1/1"))
    assert "hunk 1/1  @@ -1,3 +1,3 @@" in out
    assert "   2      -total = a - b" in out
    assert "        2 +total = a + b" in out
    assert "   1    1  a = 1" in out


def test_diff_word_highlight_only_on_changed_word():
    [h] = compute_hunks("total = alpha - beta\n", "total = alpha + beta\n")
    out = render(render_hunk(h), color=True)
    # The changed operator carries the strong word style; "alpha" is not highlighted.
    assert out.count("41m") == 1 and out.count("42m") == 1
    assert "41m-\x1b" in out and "42m+\x1b" in out


def test_diff_very_long_line_folds_without_losing_text():
    long_old, long_new = "x" * 500, "x" * 250 + "Y" + "x" * 249
    [h] = compute_hunks(long_old + "\n", long_new + "\n")
    out = render(render_hunk(h), width=80)
    assert lines_fit(out, 80)
    joined = "".join(l[10:] for l in out.splitlines()[1:])   # strip the gutter
    assert joined.count("x") >= 999 and "Y" in joined


def test_diff_wide_characters_fit_the_width():
    old = "名前 = '山田太郎'  # 🎉 emoji and CJK " * 4 + "\n"
    new = old.replace("山田", "鈴木")
    [h] = compute_hunks(old, new)
    out = render(render_hunk(h), width=50)
    assert lines_fit(out, 50)
    assert "鈴木" in out and "山田" in out


def test_summary_lists_files_and_kinds():
    items = [FileItem(FileChange("a.py", "modified", additions=3, deletions=1),
                      compute_hunks("a\n", "b\n")),
             FileItem(FileChange("img.png", "added", binary=True))]
    out = render(render_summary(items), width=80)
    assert "2 files changed, +3 −1" in out
    assert "a.py  +3 −1  1 hunk" in out
    assert "img.png  +0 −0  new file (binary)" in out


def test_tool_call_line_and_folded_output():
    out = render(render_call("shell", {"command": "pytest -q tests/\nsecond line"}), width=60)
    assert out.startswith("● shell  pytest -q tests/ …")
    long = render(render_call("read_file", {"path": "a/" * 100}), width=40)
    assert len(long.splitlines()) == 1 and lines_fit(long, 40) and "…" in long
    output = "\n".join(f"line {i}" for i in range(20)) + "\n[exit code 1]"
    res = render(render_result(output, False, "exit code 1 in 0.2s", {"exit_code": 1}, index=3))
    assert "⎿ ✗ exit code 1 in 0.2s" in res
    assert "line 5" in res and "line 6" not in res
    assert "… +15 lines (/expand 3)" in res


def test_tool_result_wide_chars_and_long_lines_fit():
    output = ("日本語のテキスト" * 30) + "\n" + "z" * 300
    res = render(render_result(output, False, "done"), width=50)
    assert lines_fit(res, 50)


def test_plan_checklist():
    todos = [{"content": "read the code", "status": "completed"},
             {"content": "fix add()", "status": "in_progress"},
             {"content": "run the tests — 测试", "status": "pending"}]
    out = render(render_plan(todos), width=40)
    assert out.splitlines() == ["Plan (1/3 done)", "  ☑ read the code", "  ◐ fix add()",
                                "  ☐ run the tests — 测试"]
    styled = render(render_plan(todos), color=True)
    assert "\x1b[2;9mread the code" in styled     # done: dim + struck through
    assert "\x1b[1mfix add()" in styled           # in progress: bold


def test_status_line():
    s = Status(model="anthropic:claude-sonnet-4-5", mode="plan", context_tokens=50_000,
               context_window=200_000, total_tokens=123_456, cost_usd=0.0421)
    assert status_text(s) == ("anthropic:claude-sonnet-4-5 · plan · ctx 25% · 123.5k tok · "
                              "$0.0421")
    assert status_text(Status(model="m" * 80), max_model=10).startswith("…mmmmmmmmm ·")


def test_markdown_stream_prints_finished_blocks_only():
    buf = io.StringIO()
    console = Console(file=buf, width=60, color_system=None, highlight=False)
    md = MarkdownStream(console)
    md.feed("# Title\nSome **bold** te")
    assert "Title" in buf.getvalue() and "Some" not in buf.getvalue()
    assert md.partial == "Some **bold** te"
    md.feed("xt.\n\n```python\nprint('a')\n\nx = 1\n")
    assert "Some bold text." in buf.getvalue()        # the paragraph ended: printed once
    assert "print" not in buf.getvalue()              # the fence is still open: live
    md.feed("```\nafter")
    assert "print('a')" in buf.getvalue() and "x = 1" in buf.getvalue()
    md.finish()
    out = buf.getvalue()
    assert out.count("Some bold text.") == 1 and "after" in out
    assert md.partial == ""


def test_markdown_stream_unclosed_fence_is_closed_at_finish():
    buf = io.StringIO()
    md = MarkdownStream(Console(file=buf, width=40, color_system=None))
    md.feed("```\ncode line")
    md.finish()
    assert "code line" in buf.getvalue() and "```" not in buf.getvalue()
