"""The README's Hooks example (its config table and guard script) works as written, from a
trusted repository's `.ama/`."""
from __future__ import annotations

import re
from pathlib import Path

from tests.ama_cli import commit_all
from tests.hooks.conftest import events, shell

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_hook_example_blocks_rm_and_rewrites_pytest(ama, repo, script):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Hooks"):readme.index("## MCP servers")]
    config = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    guard = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (repo / ".ama" / "hooks").mkdir(parents=True)
    (repo / ".ama" / "config.toml").write_text(config)
    path = repo / ".ama" / "hooks" / "guard.py"
    path.write_text(guard)
    path.chmod(0o755)
    commit_all(repo, "hooks")
    r = ama("-p", "tidy up", "--trust", "--model", script(shell("rm calc.py"), shell("pytest"),
                                                          {"text": "Done."}),
            "--sandbox", "local", "--cwd", str(repo), "--output-format", "ama-events")
    lines = events(r)
    hooks = [e for e in lines if e["type"] == "hook"]
    assert [h["outcome"] for h in hooks] == ["blocked", "ok"], r.stderr
    assert hooks[1]["updated_input"] == {"command": "pytest -q"}
    denied = r.result["permission_denials"]
    assert [d["tool_input"]["command"] for d in denied] == ["rm calc.py"]
    assert "rm is not allowed here; move files to trash/ instead" in denied[0]["reason"]
    assert r.result["changes"]["files"] == []
