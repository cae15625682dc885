"""read_file: numbered windows, notes, binary and huge files, directories."""
from __future__ import annotations

import pytest

from tools.base import ToolContext, ToolError
from tools.files import read as read_mod
from tools.files.read import ReadFile
from tools.sandbox.local import LocalSandbox


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


def read(ctx, tool=None, **args):
    tool = tool or ReadFile()
    return tool.run(tool.params(**args), ctx)


def test_numbered_lines_like_cat_n(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\nbeta\n")
    out = read(ctx, path="a.txt").output
    assert out == "     1\talpha\n     2\tbeta"


def test_window_and_continuation_note(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    res = read(ctx, path="a.txt", offset=4, limit=3)
    lines = res.output.splitlines()
    assert lines[:3] == ["     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "showing lines 4–6 of 10" in lines[3] and "offset=7" in lines[3]
    assert res.data["last_line"] == 6 and res.data["total_lines"] == 10


def test_no_note_when_everything_shown(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\ny\n")
    assert "[" not in read(ctx, path="a.txt", offset=2).output


def test_crlf_bom_and_latin1_shown_as_text(ctx, tmp_path):
    (tmp_path / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\n")
    (tmp_path / "latin.txt").write_bytes("café\n".encode("latin-1"))
    assert read(ctx, path="crlf.txt").output == "     1\tone\n     2\ttwo"
    assert read(ctx, path="bom.txt").output == "     1\thello"
    assert read(ctx, path="latin.txt").output == "     1\tcafé"


def test_line_numbers_count_only_newlines(ctx, tmp_path):
    # \x0c and \u2028 must not start new lines, or numbers drift from grep's
    (tmp_path / "a.txt").write_text("a\x0cb\u2028c\nd\n")
    assert read(ctx, path="a.txt").output.split("\n")[1] == "     2\td"


def test_offset_past_end_is_an_error(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="past the end.*1 lines"):
        read(ctx, path="a.txt", offset=5)


def test_empty_file(ctx, tmp_path):
    (tmp_path / "e.txt").write_text("")
    assert "empty file" in read(ctx, path="e.txt").output


def test_binary_file_described_not_dumped(ctx, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    (tmp_path / "img.png").write_bytes(png)
    (tmp_path / "blob.bin").write_bytes(b"abc\x00def" * 100)
    out = read(ctx, path="img.png").output
    assert "PNG image" in out and f"{len(png):,} bytes" in out and "\x00" not in out
    assert "binary" in read(ctx, path="blob.bin").output


def test_utf16_with_bom_is_text(ctx, tmp_path):
    (tmp_path / "u16.txt").write_bytes("hi there\n".encode("utf-16"))
    assert read(ctx, path="u16.txt").output == "     1\thi there"


def test_directory_points_to_list_files(ctx, tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="list_files"):
        read(ctx, path="d")


def test_missing_file(ctx):
    with pytest.raises(ToolError, match="no such file"):
        read(ctx, path="nope.txt")


def test_long_line_is_cut(ctx, tmp_path):
    (tmp_path / "min.js").write_text("x" * 50_000 + "\nshort\n")
    out = read(ctx, path="min.js").output
    assert "line cut: 50,000 characters" in out
    assert len(out) < 3000 and "     2\tshort" in out


def test_output_cap_stops_the_window(ctx, tmp_path):
    (tmp_path / "wide.txt").write_text(("y" * 1500 + "\n") * 2000)
    out = read(ctx, path="wide.txt").output
    assert len(out) <= read_mod.MAX_OUTPUT_CHARS + 200
    assert "output capped" in out and "continue with offset=" in out


def test_huge_file_is_streamed(ctx, tmp_path):
    # Lower the threshold rather than writing a 16 MB file: the streaming path is
    # the one under test, and it must give the same numbered lines.
    tool = ReadFile(whole_file_bytes=1000)
    (tmp_path / "big.log").write_text("".join(f"entry {i}\n" for i in range(1, 5001)))
    res = read(ctx, tool, path="big.log", offset=4990, limit=5)
    assert res.output.splitlines()[0] == "  4990\tentry 4990"
    assert "4990–4994" in res.output and "offset=4995" in res.output
    tail = read(ctx, tool, path="big.log", offset=4999, limit=5)
    assert "[" not in tail.output and tail.output.endswith("entry 5000")


def test_huge_single_line_is_not_loaded_whole(ctx, tmp_path):
    tool = ReadFile(whole_file_bytes=1000, line_read=10_000)
    (tmp_path / "one.txt").write_text("z" * 100_000 + "\nnext\n")
    out = read(ctx, tool, path="one.txt").output
    assert "line cut" in out and out.endswith("     2\tnext")


def test_not_mutating():
    assert ReadFile().is_mutating(ReadFile.params(path="x")) is False


def test_fifo_is_refused_without_hanging(ctx, tmp_path):
    import os
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        read(ctx, path="pipe")
