"""Events → ACP session updates, in process: an apply_patch run by the real tool on a
real tree, and the diff content the editor gets for each file it touched."""
from __future__ import annotations

import pytest

pytest.importorskip("acp")

from agent.acp.updates import TurnUpdates, tool_kind  # noqa: E402
from agent.core import events as ev  # noqa: E402
from tools.base import ToolContext  # noqa: E402
from tools.files import ApplyPatch  # noqa: E402
from tools.sandbox.local import LocalSandbox  # noqa: E402

PATCH = """*** Begin Patch
*** Update File: keep.py
@@
-x = 1
+x = 2
*** Update File: old.py
*** Move to: new.py
@@
-y = 1
+y = 3
*** Delete File: gone.py
*** Add File: added.py
+z = 4
*** End Patch
"""


def test_a_patch_shows_each_file_it_changed_as_a_diff(tmp_path):
    tree, user = tmp_path / "scratch", tmp_path / "user"
    tree.mkdir()
    for name, text in {"keep.py": "x = 1\n", "old.py": "y = 1\n", "gone.py": "w = 0\n"}.items():
        (tree / name).write_text(text)
    sent = []
    updates = TurnUpdates(sent.append, tree, user)
    tool = ApplyPatch()

    updates(ev.ToolCallProposed("c1", "apply_patch", {"patch": PATCH}))
    result = tool.run(tool.params(patch=PATCH), ToolContext(root=tree, sandbox=LocalSandbox(tree)))
    updates(ev.ToolFinished("c1", "apply_patch", result.output, False, result.summary, result.data))

    start, done = sent
    assert (start.session_update, start.kind, start.status) == ("tool_call", "edit", "in_progress")
    assert {loc.path for loc in start.locations} == {
        str(user / p) for p in ("keep.py", "old.py", "new.py", "gone.py", "added.py")}
    diffs = {c.path: (c.old_text, c.new_text) for c in done.content if c.type == "diff"}
    assert diffs == {str(user / "keep.py"): ("x = 1\n", "x = 2\n"),
                     str(user / "new.py"): ("y = 1\n", "y = 3\n"),
                     str(user / "gone.py"): ("w = 0\n", ""),
                     str(user / "added.py"): (None, "z = 4\n")}
    assert done.status == "completed"


def test_kinds():
    assert [tool_kind(n) for n in ("read_file", "apply_patch", "git", "find_symbol",
                                   "todo_write", "web_fetch", "mcp__github__search")] == \
        ["read", "edit", "execute", "search", "think", "fetch", "other"]
