"""Ranking primitives: reference PageRank, identifier weights, what counts as local.

Files are nodes. A file A that uses an identifier defined in file B gives an edge
A -> B, weighted by how telling the identifier is and how often A uses it. PageRank
over that graph, with the random jumps landing on the files the conversation is
about (personalisation), ranks files; each file's rank then flows along its edges to
the definitions they point at, which ranks definitions.

`graph.RefGraph` holds the graph and runs the fast, incremental version of `pagerank`
on it; this plain one over explicit edges is the reference the tests hold it to.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

DAMPING = 0.85
# An identifier defined in more files than this (`get`, `__init__`, `run`) says almost
# nothing about which file a use means, and would add definers x users edges.
MAX_DEFINERS = 40
# Unreferenced definitions still get a little of their file's rank, so a small repo
# (or a file nothing imports yet) still shows its outline; nested ones get less.
FALLBACK = 0.02


def pagerank(n: int, edges: Mapping[tuple[int, int], float],
             personalization: Sequence[float] | None = None, *,
             damping: float = DAMPING, tol: float = 1e-6, max_iter: int = 100
             ) -> list[float]:
    """Weighted PageRank by power iteration over a sparse edge map.

    Args:
        n: number of nodes, 0..n-1.
        edges: (src, dst) -> weight > 0; a node's out-weights are normalised to 1.
        personalization: length-n jump weights (any non-negative scale); None: uniform.
            Rank of nodes without out-edges (dangling) also jumps by these weights.
        damping, tol, max_iter: as networkx (converged when the L1 change < n * tol).
    Returns:
        length-n ranks summing to 1.
    """
    if n == 0:
        return []
    p = _normalise(personalization, n)
    out_weight = [0.0] * n
    for (src, _dst), w in edges.items():
        out_weight[src] += w
    adjacency: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for (src, dst), w in edges.items():
        adjacency[src].append((dst, w / out_weight[src]))
    rows = list(adjacency.items())
    dangling = [i for i in range(n) if out_weight[i] == 0.0]

    x = list(p)
    for _ in range(max_iter):
        new = [0.0] * n
        for src, targets in rows:
            share = damping * x[src]
            for dst, w in targets:
                new[dst] += share * w
        jump = (1.0 - damping) + damping * sum(x[i] for i in dangling)
        new = [v + jump * pk for v, pk in zip(new, p)]
        err = sum(abs(a - b) for a, b in zip(new, x))
        x = new
        if err < n * tol:
            break
    return x


def _normalise(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None or sum(weights) <= 0:
        return [1.0 / n] * n
    total = float(sum(weights))
    return [w / total for w in weights]


def identifier_weight(ident: str, focus_idents: frozenset[str]) -> float:
    """How much one use of `ident` says about the file that defines it.

    Named in the conversation: x10. A long snake_case / camelCase name (specific): x10.
    Private-looking (`_x`): x0.1. (Ambiguity, a name defined in several files, is
    handled by splitting each use among the candidate definers.)
    """
    w = 1.0
    if ident in focus_idents:
        w *= 10.0
    if len(ident) >= 8 and ("_" in ident.strip("_") or
                            (ident[:1].islower() and any(c.isupper() for c in ident))):
        w *= 10.0
    if ident.startswith("_"):
        w *= 0.1
    return w


def is_local(defs: Sequence[tuple], j: int) -> bool:
    """True for a definition nested in a function or method (not reachable by name
    from other files, and noise in an outline)."""
    parent = defs[j][4]
    while parent >= 0:
        if defs[parent][2] in ("function", "method"):
            return True
        parent = defs[parent][4]
    return False


