"""The disk cache: a second build parses nothing, an edit re-parses one file, and a
cache that cannot be trusted is ignored."""
from __future__ import annotations

import os
import time

from tools.repomap import cache as tag_cache
from tools.repomap.build import build_map
from tools.repomap.index import RACY_NS, scan
from tools.repomap.mapper import RepoMapper

from tests.repomap.conftest import hub_repo, write_tree


def age(root, seconds=60):
    """Move every file's mtime into the past, as for a checkout made a while ago."""
    past = time.time() - seconds
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (past, past))


def test_second_build_parses_nothing_and_gives_the_same_map(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    age(root)
    first = build_map(root, cache_dir=cache_dir)
    assert first.stats.parsed == first.stats.files == 7
    assert list(cache_dir.iterdir())  # one cache file was written

    second = build_map(root, cache_dir=cache_dir)  # a new mapper: state from disk only
    assert second.stats.parsed == 0
    assert second.stats.stat_hits == 7 and second.stats.hash_hits == 0
    assert second.text == first.text


def test_fresh_files_are_rehashed_not_trusted_on_mtime(tmp_path, cache_dir):
    # Files changed within RACY_NS of the scan could change again with the same
    # size and mtime; they are checked by content until they are old enough.
    root = hub_repo(tmp_path / "repo")
    build_map(root, cache_dir=cache_dir)
    again = build_map(root, cache_dir=cache_dir)
    assert again.stats.parsed == 0
    assert again.stats.hash_hits == 7


def test_editing_one_file_reparses_only_that_file(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    age(root)
    build_map(root, cache_dir=cache_dir)
    (root / "pkg/lonely.py").write_text(
        "class Hermit:\n    def stay_home(self):\n        return 0\n\n\n"
        "def brand_new_function():\n    return Hermit()\n")
    m = build_map(root, cache_dir=cache_dir, focus_files=["pkg/lonely.py"])
    assert m.stats.parsed == 1
    assert m.stats.stat_hits == 6
    assert "brand_new_function" in m.text

    again = build_map(root, cache_dir=cache_dir, focus_files=["pkg/lonely.py"])
    assert again.stats.parsed == 0 and "brand_new_function" in again.text


def test_same_size_same_mtime_edit_is_caught_by_the_content_hash(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    lonely = root / "pkg/lonely.py"
    build_map(root, cache_dir=cache_dir)
    st = os.stat(lonely)
    lonely.write_text(lonely.read_text().replace("Hermit", "Monk__"))  # same length
    os.utime(lonely, ns=(st.st_atime_ns, st.st_mtime_ns))
    m = build_map(root, cache_dir=cache_dir, focus_files=["pkg/lonely.py"])
    assert m.stats.parsed == 1
    assert "Monk__" in m.text and "Hermit" not in m.text


def test_in_process_update_after_edit_add_and_delete(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    age(root)
    mapper = RepoMapper(root, cache_dir=cache_dir)
    first = mapper.map()
    assert first.stats.parsed == 7
    unchanged = mapper.map()
    assert unchanged.stats.parsed == 0 and unchanged.stats.unchanged
    assert unchanged.text == first.text

    (root / "pkg/lonely.py").unlink()
    write_tree(root, {"pkg/fresh.py": "def fresh_start():\n    return 1\n"})
    m = mapper.map(focus_files=["pkg/fresh.py"])
    assert m.stats.parsed == 1 and not m.stats.unchanged
    assert "fresh_start" in m.text and "Hermit" not in m.text

    # the in-memory update agrees with a build from scratch
    assert mapper.map().text == build_map(root, cache_dir=None).text

    # a session's updates are written behind; once flushed, a new process finds them
    mapper.flush()
    fresh = build_map(root, cache_dir=cache_dir)
    assert fresh.stats.parsed == 0 and "fresh_start" in fresh.text


def test_removed_files_leave_the_cache(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    build_map(root, cache_dir=cache_dir)
    (root / "pkg/user0.py").unlink()
    index, stats = scan(root, cache_dir=cache_dir)
    assert "pkg/user0.py" not in index.tags and stats.files == 6
    (folder,) = cache_dir.iterdir()
    entries, _ = tag_cache.load(folder, _fingerprint())
    assert "pkg/user0.py" not in entries and len(entries) == 6


def _fingerprint():
    from tools.repomap.languages import fingerprint
    return fingerprint()


def test_corrupt_or_foreign_cache_is_ignored(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    build_map(root, cache_dir=cache_dir)
    (folder,) = cache_dir.iterdir()
    shards = sorted(folder.iterdir())
    assert shards and all(p.suffix == ".marshal" for p in shards)
    for p in shards:
        p.write_bytes(b"not a marshal file")
    m = build_map(root, cache_dir=cache_dir)
    assert m.stats.parsed == 7 and "Engine" in m.text

    # a cache written for other queries/grammars (another fingerprint) is stale
    entries, scanned = tag_cache.load(folder, _fingerprint())
    assert len(entries) == 7
    tag_cache.save(folder, "other-fingerprint", max(scanned), entries)
    assert build_map(root, cache_dir=cache_dir).stats.parsed == 7


def test_an_edit_rewrites_only_its_shard(tmp_path, cache_dir):
    files = {f"m{k:02d}.py": f"def func_{k}():\n    return {k}\n" for k in range(40)}
    root = write_tree(tmp_path / "repo", files)
    age(root)
    build_map(root, cache_dir=cache_dir)
    (folder,) = cache_dir.iterdir()
    shards = lambda: {p.name: p.stat().st_mtime_ns  # noqa: E731 - not ranks.marshal
                      for p in folder.iterdir() if p.name[0].isdigit()}
    before = shards()
    assert len(before) > 1  # shards that hold files; 40 files spread over several
    time.sleep(0.01)
    (root / "m07.py").write_text("def func_7():\n    return 'seven'\n")
    assert build_map(root, cache_dir=cache_dir).stats.parsed == 1
    after = shards()
    rewritten = sorted(n for n in before if after[n] != before[n])
    assert rewritten == [f"{tag_cache.shard_of('m07.py'):02d}.marshal"]


def test_copies_share_a_cache_through_cache_key(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    build_map(root, cache_dir=cache_dir, cache_key="user-repo")
    copy = hub_repo(tmp_path / "scratch")  # same content, other path, new mtimes
    m = build_map(copy, cache_dir=cache_dir, cache_key="user-repo")
    assert m.stats.parsed == 0 and m.stats.hash_hits == 7


def test_no_cache_dir_means_no_disk_writes(tmp_path):
    root = hub_repo(tmp_path / "repo")
    before = set(tmp_path.rglob("*"))
    m = build_map(root, cache_dir=None)
    assert m.stats.parsed == 7 and "Engine" in m.text
    assert set(tmp_path.rglob("*")) == before


def test_racy_margin_is_sane():
    assert RACY_NS >= 1_000_000_000


def test_unchanged_repo_reuses_its_ranks_from_disk(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    age(root)
    first = RepoMapper(root, cache_dir=cache_dir)
    text = first.map().text
    assert not first.ranks_from_disk
    first.flush()  # the ranks are written behind

    second = RepoMapper(root, cache_dir=cache_dir)
    assert second.map().text == text and second.ranks_from_disk
    # a focused map never uses them
    second.map(focus_files=["pkg/lonely.py"])

    (root / "pkg/lonely.py").write_text("class Hermit:\n    pass\n")
    third = RepoMapper(root, cache_dir=cache_dir)
    assert third.map().text != text and not third.ranks_from_disk


def test_warm_build_in_a_new_process_never_loads_the_parser(tmp_path, cache_dir):
    # The strongest form of "no file went through the parser": tree-sitter is not
    # even imported by a warm build, while an edit makes it parse exactly one file.
    import subprocess
    import sys
    from pathlib import Path as P
    root = hub_repo(tmp_path / "repo")
    age(root)
    build_map(root, cache_dir=cache_dir)
    code = (
        "import sys; sys.path.insert(0, sys.argv[3])\n"
        "from pathlib import Path\n"
        "from tools.repomap.build import build_map\n"
        "m = build_map(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))\n"
        "print(m.stats.parsed, 'tree_sitter' in sys.modules, 'class Engine:' in m.text)\n")
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code, str(root), str(cache_dir),
         str(P(__file__).resolve().parents[2])],
        capture_output=True, text=True, check=True).stdout.split()
    assert run() == ["0", "False", "True"]
    (root / "pkg/user3.py").write_text("def run_3():\n    return 3\n")
    assert run() == ["1", "True", "True"]
