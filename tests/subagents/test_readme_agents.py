"""The README's Subagents example works as written, from a trusted repository's
`.ama/agents/`: the model starts it with `task`, and (it inherits the session's model) the
session's script drives the subagent's turns too."""
from __future__ import annotations

import re
from pathlib import Path

from tests.ama_cli import commit_all
from tests.subagents.conftest import DONE, call, events, nested, results_of, task

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_agent_definition_runs(ama, repo, script):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Subagents"):readme.index("## Local engine")]
    block = re.search(r"```markdown\n(.*?)```", section, re.S).group(1)
    where, text = re.match(r"<!-- (\S+) -->\n(.*)", block, re.S).groups()
    (repo / where).parent.mkdir(parents=True)
    (repo / where).write_text(text)
    commit_all(repo, "agents")
    model = script(task("review the change", "review what changed", "reviewer"),
                   call("read_file", path="calc.py"), {"text": "calc.py:2: add subtracts"}, DONE)
    r = ama("-p", "review", "--trust", "--model", model, "--sandbox", "local", "--cwd", str(repo),
            "--output-format", "ama-events")
    assert r.code == 0, r.stderr
    lines = events(r)
    [answer] = results_of(lines, "task")
    assert (answer["output"], answer["is_error"]) == ("calc.py:2: add subtracts", False)
    [read] = results_of(nested(lines, answer["call_id"]), "read_file")
    assert "return a - b" in read["output"]
    assert r.result["num_turns"] == 4 and r.result["result"] == "Done."
