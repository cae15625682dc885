"""edit_file as a tool: what it preserves on disk, and what it tells the model."""
from __future__ import annotations

import stat

import pytest

from tools.base import ToolContext, ToolError
from tools.files.edit import EditFile
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


def edit(ctx, **args):
    tool = EditFile()
    return tool.run(tool.params(**args), ctx)


def test_simple_edit_reports_snippet_and_summary(ctx, tmp_path):
    (tmp_path / "a.py").write_text("".join(f"line{i}\n" for i in range(1, 21)))
    res = edit(ctx, path="a.py", old_string="line10\n", new_string="ten\nTEN\n")
    assert res.summary == "edited a.py (+2 −1)"
    assert "Edited a.py: 1 replacement." in res.output
    assert "    10\tten\n    11\tTEN" in res.output and "     7\tline7" in res.output
    assert "     6\t" not in res.output  # three lines of context, not more


def test_crlf_file_stays_crlf_with_lf_new_string(ctx, tmp_path):
    f = tmp_path / "w.txt"
    f.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    edit(ctx, path="w.txt", old_string="two\nthree", new_string="2\n3\n3.5")
    assert f.read_bytes() == b"one\r\n2\r\n3\r\n3.5\r\n"


def test_crlf_old_string_on_lf_file(ctx, tmp_path):
    f = tmp_path / "u.txt"
    f.write_bytes(b"one\ntwo\n")
    edit(ctx, path="u.txt", old_string="one\r\ntwo", new_string="1\r\n2")
    assert f.read_bytes() == b"1\n2\n"


def test_mixed_line_endings_outside_the_edit_untouched(ctx, tmp_path):
    f = tmp_path / "m.txt"
    f.write_bytes(b"a\r\nb\nc\r\nd\r\n")
    edit(ctx, path="m.txt", old_string="d", new_string="D")
    assert f.read_bytes() == b"a\r\nb\nc\r\nD\r\n"


def test_utf8_bom_preserved(ctx, tmp_path):
    f = tmp_path / "b.txt"
    f.write_bytes(b"\xef\xbb\xbfname = 'x'\n")
    edit(ctx, path="b.txt", old_string="'x'", new_string="'é'")
    assert f.read_bytes() == "\ufeffname = 'é'\n".encode("utf-8")


def test_latin1_preserved_and_unencodable_refused(ctx, tmp_path):
    f = tmp_path / "l.txt"
    f.write_bytes("prix: 5€? non, 5 francs, café\n".replace("€", "").encode("latin-1"))
    edit(ctx, path="l.txt", old_string="café", new_string="thé")
    assert f.read_bytes() == "prix: 5? non, 5 francs, thé\n".encode("latin-1")
    before = f.read_bytes()
    with pytest.raises(ToolError, match="latin-1"):
        edit(ctx, path="l.txt", old_string="thé", new_string="→")
    assert f.read_bytes() == before


def test_utf16_preserved(ctx, tmp_path):
    f = tmp_path / "w16.txt"
    f.write_bytes("x = 1\r\n".encode("utf-16"))
    edit(ctx, path="w16.txt", old_string="x = 1", new_string="x = 2")
    assert f.read_bytes() == "x = 2\r\n".encode("utf-16")


def test_final_newline_kept_when_edit_reaches_eof(ctx, tmp_path):
    f = tmp_path / "n.txt"
    f.write_text("a\nb\n")
    edit(ctx, path="n.txt", old_string="b\n", new_string="c")
    assert f.read_text() == "a\nc\n"


def test_missing_final_newline_stays_missing(ctx, tmp_path):
    f = tmp_path / "n.txt"
    f.write_text("a\nb")
    edit(ctx, path="n.txt", old_string="a", new_string="A")
    assert f.read_text() == "A\nb"


def test_mode_preserved_and_write_atomic(ctx, tmp_path):
    f = tmp_path / "run.sh"
    f.write_text("echo one\n")
    f.chmod(0o750)
    ino = f.stat().st_ino
    edit(ctx, path="run.sh", old_string="one", new_string="two")
    assert stat.S_IMODE(f.stat().st_mode) == 0o750
    assert f.stat().st_ino != ino
    assert [p.name for p in tmp_path.iterdir()] == ["run.sh"]


def test_same_strings_refused(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="the same"):
        edit(ctx, path="a.txt", old_string="x", new_string="x")


def test_empty_old_string_creates_missing_file(ctx, tmp_path):
    res = edit(ctx, path="pkg/new.py", old_string="", new_string="print(1)\n")
    assert (tmp_path / "pkg/new.py").read_text() == "print(1)\n"
    assert res.data["created"] is True


def test_empty_old_string_on_nonempty_file_refused(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("content\n")
    with pytest.raises(ToolError, match="not empty"):
        edit(ctx, path="a.txt", old_string="", new_string="x")
    assert (tmp_path / "a.txt").read_text() == "content\n"


def test_empty_old_string_fills_empty_file(ctx, tmp_path):
    (tmp_path / "e.txt").write_text("")
    edit(ctx, path="e.txt", old_string="", new_string="filled\n")
    assert (tmp_path / "e.txt").read_text() == "filled\n"


def test_missing_file_with_old_string(ctx):
    with pytest.raises(ToolError, match="no such file"):
        edit(ctx, path="nope.py", old_string="a", new_string="b")


def test_ambiguous_match_leaves_file_untouched(ctx, tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = 1\n" + "pass\n" * 8 + "x = 1\n")
    with pytest.raises(ToolError, match="at lines 1 and 10"):
        edit(ctx, path="a.py", old_string="x = 1", new_string="x = 2")
    assert f.read_text().count("x = 1") == 2


def test_no_match_names_the_file_and_the_closest_lines(ctx, tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    return compute(1, 2)\n")
    with pytest.raises(ToolError) as e:
        edit(ctx, path="a.py", old_string="    return compute(1, 3)", new_string="x")
    assert e.value.message.startswith("a.py: old_string not found")
    assert "closest is lines 2–2" in e.value.message


def test_tolerant_match_is_reported(ctx, tmp_path):
    (tmp_path / "a.py").write_text("class A:\n    def f(self):\n        return 1\n")
    res = edit(ctx, path="a.py", old_string="def f(self):\n    return 1",
               new_string="def f(self):\n    return 2")
    assert "indentation" in res.output and res.data["rung"] == "indentation"
    assert (tmp_path / "a.py").read_text() == "class A:\n    def f(self):\n        return 2\n"


def test_crlf_file_with_tolerant_match(ctx, tmp_path):
    f = tmp_path / "a.py"
    f.write_bytes(b"if x:\r\n    y = 1   \r\n    z = 2\r\n")
    edit(ctx, path="a.py", old_string="y = 1\nz = 2", new_string="y = 1\nz = 3")
    assert f.read_bytes() == b"if x:\r\n    y = 1   \r\n    z = 3\r\n"


def test_replace_all_counts(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("foo\nbar\nfoo\nfoo\n")
    res = edit(ctx, path="a.txt", old_string="foo", new_string="baz", replace_all=True)
    assert res.data["replacements"] == 3
    assert (tmp_path / "a.txt").read_text() == "baz\nbar\nbaz\nbaz\n"


def test_binary_and_directory_refused(ctx, tmp_path):
    (tmp_path / "b.bin").write_bytes(b"\x00\x01abc")
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="text files"):
        edit(ctx, path="b.bin", old_string="abc", new_string="x")
    with pytest.raises(ToolError, match="directory"):
        edit(ctx, path="d", old_string="a", new_string="b")


# --- never join lines the model did not ask to join (issue 14) ---------------------------

@pytest.mark.parametrize("before, old, new, after", [
    # "\ndef f():" for a block that starts a line: the line break before it stays
    ("import os\ndef f():\n    return 1\n\nx = f()\n", "\ndef f():\n    return 1",
     "def f():\n    return 2", "import os\ndef f():\n    return 2\n\nx = f()\n"),
    # ... and such a block may be the file's first line
    ("def f():\n    return 1\n", "\ndef f():\n", "def g():\n", "def g():\n    return 1\n"),
    # old_string ends with its line's newline, new_string without: the next line stays
    ("a = 1\nb = 2\nc = 3\n", "b = 2\n", "b = 20", "a = 1\nb = 20\nc = 3\n"),
    ("a = 1\nb = 2\n    c = 3\n", "b = 2\n    ", "b = 20", "a = 1\nb = 20\n    c = 3\n"),
    # a deletion written between newlines takes the line, not the lines around it
    ("a = 1\nb = 2\nc = 3\n", "\nb = 2\n", "", "a = 1\nc = 3\n"),
    # a deletion takes whole lines: "b = 2\n" at the end of "xb = 2" is no line of it
    ("a = 1\nb = 2\nc = 3\n", "= 2\n", "", None),
], ids=["leading", "first-line", "trailing", "trailing-indent", "delete", "delete-mid-line"])
def test_edits_never_join_lines(ctx, tmp_path, before, old, new, after):
    f = tmp_path / "m.py"
    f.write_text(before)
    if after is None:
        with pytest.raises(ToolError, match="not found"):
            edit(ctx, path="m.py", old_string=old, new_string=new)
        after = before
    else:
        edit(ctx, path="m.py", old_string=old, new_string=new)
    assert f.read_text() == after


def test_a_change_of_only_a_line_break_is_refused_with_what_to_send(ctx, tmp_path):
    f = tmp_path / "m.py"
    f.write_text("a = 1\nb = 2\n")
    with pytest.raises(ToolError, match="differ only in a line break.*give the whole lines"):
        edit(ctx, path="m.py", old_string="a = 1\n", new_string="a = 1")
    assert f.read_text() == "a = 1\nb = 2\n"


def test_spurious_blank_first_line_on_a_block_that_lost_its_indentation(ctx, tmp_path):
    f = tmp_path / "m.py"
    f.write_text("class A:\n    def f(self):\n        return 1\n")
    res = edit(ctx, path="m.py", old_string="\ndef f(self):\n    return 1\n",
               new_string="\ndef f(self):\n    return 2\n")
    assert f.read_text() == "class A:\n    def f(self):\n        return 2\n"
    assert "without the blank first line" in res.output and "re-indented" in res.output


def test_description_says_what_edit_file_tolerates():
    text = EditFile.description
    assert "'...'" in text and "'# ...'" in text and "line break" in text
