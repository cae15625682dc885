"""The edit ladder as pure functions: exact, look-alikes, trailing space, indentation."""
from __future__ import annotations

import pytest

from tools.base import ToolError
from tools.files.edit_match import apply_edit, closest_block
from tools.files.edit_rungs import fold

SRC = """\
def greet(name):
    if name:
        print("hello", name)
    return name


def part():
    return 1
"""


def test_exact_substring():
    out = apply_edit(SRC, 'print("hello", name)', 'print("hi", name)')
    assert out.rung == "exact"
    assert 'print("hi", name)' in out.text and out.text.count("\n") == SRC.count("\n")
    assert out.lines == ((3, 3),)


def test_several_matches_named_with_lines():
    text = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(ToolError, match=r"matches 2 places, at lines 1 and 3; add .*replace_all"):
        apply_edit(text, "x = 1", "x = 9")


def test_several_matches_on_one_line():
    with pytest.raises(ToolError, match="all on line 1"):
        apply_edit("aa aa\n", "aa", "b")


def test_replace_all():
    out = apply_edit("x = 1\ny = 2\nx = 1\n", "x = 1", "x = 9", replace_all=True)
    assert out.text == "x = 9\ny = 2\nx = 9\n"
    assert out.lines == ((1, 1), (3, 3))


def test_trailing_whitespace_in_file_tolerated_and_kept_on_context_lines():
    text = "a = 1   \nb = 2\t\nc = 3\n"
    out = apply_edit(text, "a = 1\nb = 2\n", "a = 1\nb = 20\n")
    assert out.rung == "trailing whitespace"
    assert out.text == "a = 1   \nb = 20\nc = 3\n"  # the unchanged line keeps its spaces


def test_trailing_whitespace_in_old_string_tolerated():
    out = apply_edit("a = 1\nb = 2\n", "a = 1  \nb = 2 ", "a = 1\nb = 3")
    assert out.text == "a = 1\nb = 3\n"


def test_indentation_shift_reindents_new_string():
    old = "if name:\n    print(\"hello\", name)\n"
    new = "if name:\n    log(name)\n    print(\"hello\", name)\n"
    out = apply_edit(SRC, old, new)
    assert out.rung == "indentation"
    assert "    if name:\n        log(name)\n        print(\"hello\", name)\n    return" in out.text


def test_indentation_shift_the_other_way():
    text = "class A:\n  def f(self):\n    return 1\n"
    out = apply_edit(text, "      def f(self):\n        return 1",
                     "      def f(self):\n        return 2")
    assert out.text == "class A:\n  def f(self):\n    return 2\n"


def test_inconsistent_indentation_is_not_a_match():
    text = "def f():\n    a = 1\n    b = 2\n    c = 3\n"
    with pytest.raises(ToolError, match="not found"):
        apply_edit(text, "    a = 1\n        b = 2\n    c = 3", "x")
    with pytest.raises(ToolError, match="not found"):  # first line loose, rest inconsistent
        apply_edit(text, "a = 1\n        b = 2\n    c = 3", "x")


def test_tabs_indentation_shift():
    text = "func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n"
    out = apply_edit(text, "if x {\n\treturn 1\n}", "if x {\n\treturn 2\n}")
    assert out.text == "func f() {\n\tif x {\n\t\treturn 2\n\t}\n}\n"


def test_curly_quotes_and_dashes_in_file():
    text = "msg = “it’s done” — ok\nnext = 1\n"
    out = apply_edit(text, "msg = \"it's done\" - ok\nnext = 1",
                     "msg = \"it's done\" - ok\nnext = 2")
    assert out.rung == "unicode look-alikes"
    # the untouched line keeps its typography, the changed one is as given
    assert out.text == "msg = “it’s done” — ok\nnext = 2\n"


def test_look_alikes_inside_a_line():
    text = "say(“hi”) and more\n"
    out = apply_edit(text, 'say("hi")', 'say("bye")')
    assert out.text == 'say("bye") and more\n'


def test_nbsp_and_en_dash_in_old_string():
    text = "a - b = c\n"
    out = apply_edit(text, "a\u00a0\u2013\u00a0b", "a + b")
    assert out.text == "a + b = c\n"


def test_fold_keeps_length():
    s = "‘’“”–—\u2212\u00a0\u202f"
    assert len(fold(s)) == len(s) and fold(s) == "''\"\"---  "


def test_no_match_shows_closest_block_with_similarity():
    with pytest.raises(ToolError) as e:
        apply_edit(SRC, "def greet(nam):\n    if nam:\n", "x")
    msg = e.value.message
    assert "not found" in msg and "closest is lines 1–2" in msg and "% similar" in msg
    assert "     1\tdef greet(name):" in msg


def test_no_match_and_nothing_close():
    with pytest.raises(ToolError, match="Read the file again"):
        apply_edit(SRC, "zzzz qqqq wwww", "x")


def test_old_string_with_trailing_newline_removes_whole_lines():
    out = apply_edit("a\nb\nc\n", "b\n", "")
    assert out.text == "a\nc\n"


def test_crlf_in_arguments_matches_lf_text():
    out = apply_edit("a\nb\nc\n", "a\r\nb\r\n", "a\r\nB\r\n")
    assert out.text == "a\nB\nc\n"


def test_first_rung_that_matches_wins():
    # an exact match exists; the indented look-alike elsewhere must not count as a second
    text = "x = 1\n    x = 1  \n"
    with pytest.raises(ToolError, match="2 places"):
        apply_edit(text, "x = 1", "x = 2")  # both are exact substrings
    out = apply_edit("x = 1\n  y = 1  \n", "x = 1\n", "x = 2\n")
    assert out.text == "x = 2\n  y = 1  \n"


def test_closest_block_on_a_big_file_is_fast_and_right():
    lines = [f"value_{i} = compute({i}, flag=True)" for i in range(20_000)]
    text = "\n".join(lines) + "\n"
    first, last, ratio = closest_block(text, "value_12345 = compute(12345, flag=False)\n"
                                             "value_12346 = compute(12346, flag=True)")
    assert (first, last) == (12346, 12347) and ratio > 0.9


def test_first_line_copied_from_after_its_indentation():
    text = "def f():\n        x = 1\n        y = 2\n"
    # first line without its indentation, the next with 4 of its 8 spaces
    out = apply_edit(text, "x = 1\n    y = 2", "x = 10\n    y = 20\n    z = 30")
    assert out.rung == "indentation"
    assert out.text == "def f():\n        x = 10\n        y = 20\n        z = 30\n"


def test_first_line_mid_line_keeps_the_file_line_when_unchanged():
    text = "if a:\n    call(1)\n    call(2)\n"
    out = apply_edit(text, "call(1)\n    call(2)  ", "call(1)\n    call(3)")
    assert out.text == "if a:\n    call(1)\n    call(3)\n"
