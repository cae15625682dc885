"""Ranking: the grouped, incremental PageRank equals the plain one; a much-used file
ranks above an unused one; personalisation moves the ranking."""
from __future__ import annotations

import random

import pytest

from tools.repomap.build import build_map
from tools.repomap.graph import RefGraph, rank_definitions
from tools.repomap.rank import pagerank
from tools.repomap.tags import extract, pack

from tests.repomap.conftest import hub_repo, write_tree


def dense_pagerank(n, edges, p=None, damping=0.85, iters=500):
    """The textbook formula on a dense matrix, for checking the sparse version."""
    p = [1.0 / n] * n if p is None else [w / sum(p) for w in p]
    out = [sum(edges.get((i, j), 0.0) for j in range(n)) for i in range(n)]
    x = list(p)
    for _ in range(iters):
        dangling = sum(x[i] for i in range(n) if out[i] == 0)
        x = [(1 - damping) * p[j] + damping * dangling * p[j]
             + damping * sum(x[i] * edges.get((i, j), 0.0) / out[i]
                             for i in range(n) if out[i] > 0)
             for j in range(n)]
    return x


def test_pagerank_matches_the_dense_formula():
    rng = random.Random(7)
    n = 12
    edges = {(rng.randrange(n), rng.randrange(n)): rng.uniform(0.1, 3) for _ in range(30)}
    edges = {k: v for k, v in edges.items() if k[0] != k[1]}
    jumps = [rng.choice([0.0, 1.0, 2.0]) for _ in range(n)]
    jumps[0] = 1.0
    for p in (None, jumps):
        got = pagerank(n, edges, p, tol=1e-12, max_iter=1000)
        want = dense_pagerank(n, edges, p)
        assert sum(got) == pytest.approx(1.0)
        assert got == pytest.approx(want, abs=1e-9)


def test_pagerank_simple_shapes():
    assert pagerank(3, {(0, 1): 1, (1, 2): 1, (2, 0): 1}) == pytest.approx([1 / 3] * 3)
    star = pagerank(4, {(1, 0): 1, (2, 0): 1, (3, 0): 1})
    assert star[0] > max(star[1:]) and star[1] == pytest.approx(star[3])


def random_repo(rng: random.Random, n_files: int = 25) -> dict[str, tuple]:
    """Synthetic tags: each file defines a few names and uses names from elsewhere."""
    pool = [f"name_{k}" for k in range(40)] + ["x", "Helper", "_private", "get", "append"]
    tags = {}
    for f in range(n_files):
        defs = tuple((name, i + 1, "function", f"def {name}():", -1)
                     for i, name in enumerate(sorted(rng.sample(pool, rng.randint(0, 4)))))
        refs = {name: range(100, 100 + rng.randint(1, 4))
                for name in rng.sample(pool, rng.randint(0, 8))}
        tags[f"f{f:02d}.py"] = pack(defs, refs)
    return tags


@pytest.mark.parametrize("seed", range(5))
def test_grouped_pagerank_equals_plain_pagerank_over_the_same_edges(seed):
    rng = random.Random(seed)
    tags = random_repo(rng)
    g = RefGraph()
    g.set_files(tags)
    focus_idents = frozenset({"name_3", "Helper"}) if seed % 2 else frozenset()
    jumps = g.jumps(["f03.py"], focus_idents) if seed % 2 else None
    edges = g.edges(focus_idents)
    assert edges, "the synthetic repo should have references"
    want = pagerank(len(g.files), edges, jumps, tol=1e-13, max_iter=1000)
    got = g.pagerank(jumps, focus_idents, tol=1e-13, max_iter=1000)
    assert got == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_incremental_updates_equal_a_fresh_build(seed):
    rng = random.Random(100 + seed)
    tags = random_repo(rng)
    g = RefGraph()
    g.set_files(tags)
    ranks = g.pagerank()
    # edit three files, remove one, add one
    changed = dict(tags)
    for rel in rng.sample(sorted(tags), 3):
        changed[rel] = random_repo(rng, 1)["f00.py"]
        g.set_file(rel, changed[rel])
    gone = sorted(tags)[seed]
    del changed[gone]
    g.remove_file(gone)
    changed["new.py"] = random_repo(rng, 1)["f00.py"]
    g.set_file("new.py", changed["new.py"])

    fresh = RefGraph()
    fresh.set_files(changed)
    want = dict(zip(fresh.files, fresh.pagerank(tol=1e-13, max_iter=1000)))
    got = dict(zip(g.files, g.pagerank(start=ranks, tol=1e-13, max_iter=1000)))
    assert got.pop(gone) == 0.0
    assert got == pytest.approx(want, abs=1e-10)
    fresh_edges = {(fresh.files[s], fresh.files[d]): w for (s, d), w in fresh.edges().items()}
    inc_edges = {(g.files[s], g.files[d]): w for (s, d), w in g.edges().items()}
    assert inc_edges == pytest.approx(fresh_edges)


def test_file_used_by_many_ranks_above_file_used_by_none(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    tags = {}
    for p in sorted(root.rglob("*.py")):
        tags[p.relative_to(root).as_posix()] = extract(p.read_bytes(), "python")
    ranked, file_ranks = rank_definitions(tags)
    assert file_ranks["pkg/core.py"] > file_ranks["pkg/lonely.py"]
    assert file_ranks["pkg/core.py"] == max(file_ranks.values())
    assert (ranked[0][1], tags[ranked[0][1]][0][ranked[0][2]][0]) in {
        ("pkg/core.py", "make_engine"), ("pkg/core.py", "Engine")}

    text = build_map(root, cache_dir=cache_dir).text
    assert text.index("pkg/core.py:") < text.index("pkg/lonely.py:")
    assert text.splitlines()[0] == "pkg/core.py:"


def test_personalisation_toward_a_file_and_an_identifier(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    write_tree(root, {"pkg/extra.py": "def helper_tool():\n    return 2\n",
                      "pkg/use_extra.py": "from pkg.extra import helper_tool\n\n\n"
                                          "def go():\n    return helper_tool()\n"})
    plain = build_map(root, cache_dir=cache_dir, max_tokens=40).text
    assert "Hermit" not in plain  # lonely.py does not make a small map

    by_file = build_map(root, cache_dir=cache_dir, focus_files=["pkg/lonely.py"],
                        max_tokens=40)
    assert by_file.focus_files == ("pkg/lonely.py",)
    assert by_file.text.splitlines()[0] == "pkg/lonely.py:"

    by_ident = build_map(root, cache_dir=cache_dir, focus_idents=["Hermit"], max_tokens=40)
    assert by_ident.text.splitlines()[:2] == ["pkg/lonely.py:", "   1│class Hermit:"]

    # an absolute path and a folder name the same files
    abs_focus = build_map(root, cache_dir=cache_dir, focus_files=[str(root / "pkg/lonely.py")],
                          max_tokens=40)
    assert abs_focus.focus_files == ("pkg/lonely.py",)
    sandbox_view = build_map(root, cache_dir=cache_dir, focus_files=["/workspace/pkg/lonely.py"])
    assert sandbox_view.focus_files == ("pkg/lonely.py",)
    folder = build_map(root, cache_dir=cache_dir, focus_files=["pkg"], max_tokens=40)
    assert "pkg/core.py" in folder.focus_files and len(folder.focus_files) == 9


def test_unknown_focus_gives_the_plain_map(tmp_path, cache_dir):
    root = hub_repo(tmp_path / "repo")
    plain = build_map(root, cache_dir=cache_dir).text
    assert build_map(root, cache_dir=cache_dir, focus_files=["nope.py"],
                     focus_idents=["NoSuchName"]).text == plain


def test_common_names_make_no_edges():
    # `get` is a dict method in Python: a call to it says nothing about store.py
    tags = {
        "store.py": pack((("get", 1, "function", "def get(key):", -1),), {}),
        "a.py": pack((), {"get": (3, 4, 5)}),
    }
    g = RefGraph()
    g.set_files(tags)
    assert g.edges() == {}
    tags["a.py"] = pack((), {"fetch_record": (3,)})
    tags["store.py"] = pack((("fetch_record", 1, "function", "def fetch_record(key):", -1),), {})
    g = RefGraph()
    g.set_files(tags)
    assert list(g.edges()) == [(1, 0)]


def test_local_definitions_are_not_ranked_or_linked():
    src = b"def outer():\n    def helper_fn():\n        pass\n    return helper_fn()\n"
    tags = {"a.py": extract(src, "python"), "b.py": pack((), {"helper_fn": (1,)})}
    ranked, _ = rank_definitions(tags)
    names = [tags[rel][0][j][0] for _s, rel, j in ranked]
    assert names == ["outer"]
