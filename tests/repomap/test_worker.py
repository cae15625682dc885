"""The parallel cold parse: same tags as in-process, and safe from any caller."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tools.repomap.index import POOL_MIN_FILES
from tools.repomap.languages import language_for
from tools.repomap.tags import extract_batch
from tools.repomap.worker import parse_parallel

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_items():
    return [(p.name, language_for(p.name)) for p in sorted(FIXTURES.iterdir())
            if language_for(p.name)]


def test_workers_give_the_same_tags_as_in_process():
    items = fixture_items()
    serial = {g[0]: g[1:] for g in extract_batch(str(FIXTURES), items)}
    parallel = {rel: (dig, tags) for rel, dig, tags in
                parse_parallel(str(FIXTURES), items + [("missing.py", "python")], 3)}
    assert parallel == serial  # the unreadable file is simply absent


def test_cancel_stops_the_workers():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InterruptedError):
        list(parse_parallel(str(FIXTURES), fixture_items(), 2, cancel))


def test_a_caller_script_without_main_guard_is_not_rerun(tmp_path):
    # multiprocessing's spawn would import this script again in every worker
    for k in range(POOL_MIN_FILES + 10):
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / f"m{k}.py").write_text(f"def func_{k}():\n    return {k}\n")
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from pathlib import Path
        from tools.repomap.build import build_map
        m = build_map(Path({str(tmp_path / 'src')!r}), cache_dir=None, workers=2)
        print("RAN", m.stats.parsed, m.stats.workers)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.split() == ["RAN", str(POOL_MIN_FILES + 10), "2"]
