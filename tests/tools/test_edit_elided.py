"""edit_file with elided context: `...` lines in old_string stand for unchanged lines."""
from __future__ import annotations

import pytest

from tools.base import ToolContext, ToolError
from tools.files.edit import EditFile
from tools.sandbox.local import LocalSandbox

SRC = "".join(f"    step_{i}()\n" for i in range(1, 9))
FUNC = "def run():\n    setup()\n" + SRC + "    return done()\n\n\ndef other():\n    pass\n"


@pytest.fixture
def ctx(tmp_path):
    (tmp_path / "m.py").write_text(FUNC)
    return ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))


def edit(ctx, old, new, **kw):
    tool = EditFile()
    return tool.run(tool.params(path="m.py", old_string=old, new_string=new, **kw), ctx)


@pytest.mark.parametrize("dots", ["...", "    ...", "# ...", "    # ...", "// ..."])
def test_elided_lines_are_kept(ctx, tmp_path, dots):
    res = edit(ctx, f"def run():\n    setup()\n{dots}\n    return done()\n",
               f"def run():\n    setup(fast=True)\n{dots}\n    return done(1)\n")
    assert (tmp_path / "m.py").read_text() == FUNC.replace("setup()", "setup(fast=True)") \
        .replace("done()", "done(1)")
    assert res.data["rung"].startswith("elided context")
    assert "piece by piece around the '...' lines" in res.output


def test_pieces_matched_in_order_with_the_ladder(ctx, tmp_path):
    # the last piece lost its indentation; it is re-indented, and found after the first
    edit(ctx, "setup()\n...\nstep_8()\nreturn done()\n",
         "setup()\n...\nstep_8()\nstep_9()\nreturn done()\n")
    assert "    step_8()\n    step_9()\n    return done()\n" in (tmp_path / "m.py").read_text()


def test_several_elisions(ctx, tmp_path):
    edit(ctx, "def run():\n...\n    step_4()\n...\n    return done()\n",
         "def run():\n...\n    step_4(x)\n...\n    return done()\n")
    assert (tmp_path / "m.py").read_text() == FUNC.replace("step_4()", "step_4(x)")


def test_a_piece_not_found_is_named_and_nothing_changes(ctx, tmp_path):
    with pytest.raises(ToolError) as e:
        edit(ctx, "def run():\n...\n    return finished()\n", "def run():\n...\n    return 1\n")
    msg = e.value.message
    assert "the part of old_string after the last '...' line not found at or after line 2" in msg
    assert "    11\t    return done()" in msg
    assert (tmp_path / "m.py").read_text() == FUNC


@pytest.mark.parametrize("old, new, message", [
    # pieces out of order
    ("    step_5()\n...\n    step_2()\n", "    step_5()\n...\n    step_2(x)\n",
     "after the last '...' line not found"),
    # new_string does not say what stands for the elided lines
    ("def run():\n...\n    return done()\n", "def run():\n    return 2\n",
     r"1 elided-context line\(s\).*new_string 0; put a '...' line in new_string"),
    # both functions' heads lead to the one `pass`: which head was meant?
    ("():\n...\n    pass\n", "():\n...\n    pass  # x\n",
     "matches 2 places, at lines 1 and 14"),
    ("...\n", "...\nx = 1\n", "text after the last '...' line, where old_string has none"),
], ids=["out-of-order", "unpaired", "ambiguous", "nothing-to-replace"])
def test_refused_elided_edits_change_nothing(ctx, tmp_path, old, new, message):
    with pytest.raises(ToolError, match=message):
        edit(ctx, old, new)
    assert (tmp_path / "m.py").read_text() == FUNC


def test_replace_all_with_elision_takes_the_matches_that_do_not_overlap(ctx, tmp_path):
    edit(ctx, "    step_1()\n...\n    step_2()\n", "    step_1()\n...\n    step_2(x)\n",
         replace_all=True)
    assert (tmp_path / "m.py").read_text() == FUNC.replace("step_2()", "step_2(x)")


def test_a_real_ellipsis_line_in_the_file_is_matched_as_text(tmp_path):
    (tmp_path / "p.py").write_text("class P(Protocol):\n    def f(self):\n        ...\n")
    ctx = ToolContext(root=tmp_path, sandbox=LocalSandbox(tmp_path))
    tool = EditFile()
    res = tool.run(tool.params(path="p.py", old_string="    def f(self):\n        ...\n",
                               new_string="    def f(self) -> int:\n        ...\n"), ctx)
    assert res.data["rung"] == "exact"
    assert (tmp_path / "p.py").read_text() == ("class P(Protocol):\n    def f(self) -> int:\n"
                                               "        ...\n")
