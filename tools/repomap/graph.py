"""The reference graph, kept up to date file by file, and ranking over it.

Nodes are files. A use of identifier I in file A, where I is defined (outside a
function) in k files B1..Bk, gives edges A -> Bi of weight a(A, I) / k, with
a(A, I) = identifier_weight(I) * sqrt(uses of I in A); A -> A is dropped.

The graph is stored grouped by identifier (its users with their weights, its
definers), never as users x definers edges, and PageRank runs on the groups: per
iteration each identifier sums its users' rank shares once and hands the sum to each
definer, O(uses + definitions). `set_file` / `remove_file` touch only the groups of
the identifiers that file defines or uses, so one edited file costs little, and
`pagerank` can start from the previous ranks. Tests hold it equal to
`rank.pagerank` over the explicit edges (`edges`).
"""
from __future__ import annotations

import bisect
import heapq
import math
from operator import mul
from typing import Iterable, Sequence

from tools.repomap.languages import common_names, language_for
from tools.repomap.rank import DAMPING, FALLBACK, MAX_DEFINERS, identifier_weight, is_local
from tools.repomap.tags import Tags

# identifier -> (users, their a(user, I), definers as (file, a(file, I) or 0.0), k)
Group = tuple[tuple[int, ...], tuple[float, ...], tuple[tuple[int, float], ...], int]

_NO_FOCUS: frozenset[str] = frozenset()


class RefGraph:
    """Files, their tags, and the identifier-grouped reference graph between them."""

    def __init__(self) -> None:
        self.files: list[str] = []            # node index -> relative path
        self.index: dict[str, int] = {}
        self.tags: list[Tags | None] = []     # None: the file was removed
        self.names: list[dict[str, list[int]]] = []  # non-local def name -> def indices
        self.definers: dict[str, list[int]] = {}     # identifier -> sorted file indices
        self.users: dict[str, dict[int, float]] = {}  # defined identifier -> {user: a}
        #   (only identifiers that are defined and used; files using a name nobody
        #   defines are found by a scan when a definition appears)
        self.out_base: list[float] = []        # unfocused out-weight of each file
        self.common: list[frozenset[str]] = []  # names whose uses make no edges, per file
        self.groups: dict[str, Group] = {}
        self._iw: dict[str, float] = {}
        self._dirty_idents: set[str] = set()
        self._dirty_srcs: set[int] = set()

    # -- building -------------------------------------------------------------------

    def set_files(self, tags: dict[str, Tags]) -> None:
        """Add many files at once (the first build): definers first, then every use
        is looked up once, instead of a scan of all files per new identifier."""
        if self.files:
            for rel, t in tags.items():
                self.set_file(rel, t)
            return
        for rel, t in tags.items():
            i = self.index[rel] = len(self.files)
            self.files.append(rel)
            self.tags.append(t)
            names = _names(t)
            self.names.append(names)
            self.common.append(common_names(language_for(rel)))
            self.out_base.append(0.0)
            for ident in names:
                self.definers.setdefault(ident, []).append(i)  # i ascending: sorted
        definers, iw_of, users = self.definers, self._iw, self.users
        defined = definers.keys()
        for i, t in enumerate(self.tags):
            refs, own, total = t[1], self.names[i], 0.0  # type: ignore[index]
            for ident in (refs.keys() & defined) - self.common[i]:
                iw = iw_of.get(ident)
                if iw is None:
                    iw = iw_of[ident] = identifier_weight(ident, _NO_FOCUS)
                a = iw * math.sqrt(refs[ident])
                if ident in users:
                    users[ident][i] = a
                else:
                    users[ident] = {i: a}
                k = len(definers[ident])
                if k <= MAX_DEFINERS:
                    total += a * (k - (ident in own)) / k
            self.out_base[i] = total
        self._dirty_idents.update(users)

    def set_file(self, rel: str, tags: Tags) -> None:
        """Add or replace the tags of one file."""
        i = self.index.get(rel)
        if i is None:
            i = self.index[rel] = len(self.files)
            self.files.append(rel)
            self.tags.append(None)
            self.names.append({})
            self.out_base.append(0.0)
            self.common.append(common_names(language_for(rel)))
        self._replace(i, tags)

    def remove_file(self, rel: str) -> None:
        """Forget a file (its node stays, with no edges and no jumps)."""
        i = self.index.get(rel)
        if i is not None and self.tags[i] is not None:
            self._replace(i, None)

    def _replace(self, i: int, tags: Tags | None) -> None:
        old_tags, old_names = self.tags[i], self.names[i]
        old_refs = old_tags[1] if old_tags else {}
        names = _names(tags) if tags is not None else {}
        self.tags[i], self.names[i] = tags, names
        new_refs = tags[1] if tags else {}

        for ident in old_names.keys() - names.keys():
            dsts = self.definers[ident]
            dsts.remove(i)
            self._dirty_idents.add(ident)
            self._dirty_srcs.update(self.users.get(ident, ()))  # k changed for them
            if not dsts:
                del self.definers[ident]
                self.users.pop(ident, None)
        for ident in names.keys() - old_names.keys():
            dsts = self.definers.get(ident)
            if dsts is None:
                self.definers[ident] = [i]
                found = self._find_users(ident)
                if found:
                    self.users[ident] = found
            else:
                bisect.insort(dsts, i)
            self._dirty_idents.add(ident)
            self._dirty_srcs.update(self.users.get(ident, ()))
        for ident in ((old_refs.keys() | new_refs.keys()) & self.definers.keys()) \
                - self.common[i]:
            uses = new_refs.get(ident)
            used = self.users.get(ident)
            if uses:
                if used is None:
                    used = self.users[ident] = {}
                used[i] = self._a(ident, uses)
            elif used is not None:
                used.pop(i, None)
                if not used:
                    del self.users[ident]
            self._dirty_idents.add(ident)
        self._dirty_srcs.add(i)

    def _a(self, ident: str, uses: int) -> float:
        iw = self._iw.get(ident)
        if iw is None:
            iw = self._iw[ident] = identifier_weight(ident, _NO_FOCUS)
        return iw * math.sqrt(uses)

    def _find_users(self, ident: str) -> dict[int, float]:
        """Every file that uses a newly defined identifier (a scan of all files)."""
        out: dict[int, float] = {}
        for s, t in enumerate(self.tags):
            if t is not None and ident not in self.common[s]:
                uses = t[1].get(ident)
                if uses:
                    out[s] = self._a(ident, uses)
        return out

    def freeze(self) -> None:
        """Bring groups and out-weights up to date after `set_file` / `remove_file`."""
        definers = self.definers
        for s in self._dirty_srcs:
            t, own = self.tags[s], self.names[s]
            total = 0.0
            if t is not None:
                for ident in (t[1].keys() & definers.keys()) - self.common[s]:
                    dsts = definers[ident]
                    k = len(dsts)
                    if k > MAX_DEFINERS:
                        continue
                    total += self.users[ident][s] * (k - (ident in own)) / k
            self.out_base[s] = total
        for ident in self._dirty_idents:
            dsts = definers.get(ident)
            used = self.users.get(ident)
            if not dsts or not used or len(dsts) > MAX_DEFINERS or \
                    (len(dsts) == 1 and set(used) == {dsts[0]}):
                self.groups.pop(ident, None)
                continue
            srcs = tuple(sorted(used))  # sorted: the same float sums in every process
            self.groups[ident] = (srcs, tuple(used[s] for s in srcs),
                                  tuple((d, used.get(d, 0.0)) for d in dsts), len(dsts))
        self._dirty_idents.clear()
        self._dirty_srcs.clear()

    # -- ranking --------------------------------------------------------------------

    def pagerank(self, personalization: Sequence[float] | None = None,
                 focus_idents: frozenset[str] = _NO_FOCUS, *, start: Sequence[float] | None
                 = None, damping: float = DAMPING, tol: float = 1e-6, max_iter: int = 100
                 ) -> list[float]:
        """Ranks of all nodes (removed files get 0), summing to 1.

        personalization: jump weights per node (None: uniform over present files).
        focus_idents: their edges weigh x10 (the out-weights of their users adjust).
        start: ranks to start iterating from (the previous result after an update).
        """
        self.freeze()
        n = len(self.files)
        live = [t is not None for t in self.tags]
        if not any(live):
            return [0.0] * n
        if personalization is not None and any(w > 0 for w, ok in zip(personalization, live)
                                               if ok):
            p = [w if ok else 0.0 for w, ok in zip(personalization, live)]
        else:
            p = [1.0 if ok else 0.0 for ok in live]
        total_p = sum(p)
        p = [w / total_p for w in p]

        focus = {g: 10.0 for g in focus_idents if g in self.groups}
        inv_out = self._inv_out(focus)
        # per group: its users, weights, definers, and the factor m / k
        plan = [(srcs, aw, dsts, focus.get(g, 1.0) / k)
                for g, (srcs, aw, dsts, k) in self.groups.items()]
        dangling = [i for i in range(n) if live[i] and inv_out[i] == 0.0]

        if start is not None and 0 < len(start) <= n and sum(start) > 0:
            x = list(start) + [0.0] * (n - len(start))  # nodes only append
        else:
            x = p
        if x is not p:
            x = [v if ok else 0.0 for v, ok in zip(x, live)]
            s = sum(x)
            x = [v / s for v in x]
        for _ in range(max_iter):
            y = list(map(mul, x, inv_out))
            get = y.__getitem__
            new = [0.0] * n
            for srcs, aw, dsts, f in plan:
                total = sum(map(mul, map(get, srcs), aw))
                for dst, own in dsts:
                    new[dst] += f * (total - y[dst] * own)
            jump = (1.0 - damping) + damping * sum(x[i] for i in dangling)
            new = [damping * v + jump * pk for v, pk in zip(new, p)]
            err = sum(abs(a - b) for a, b in zip(new, x))
            x = new
            if err < n * tol:
                break
        return x

    def edges(self, focus_idents: frozenset[str] = _NO_FOCUS) -> dict[tuple[int, int], float]:
        """The explicit weighted edges the groups stand for (tests, debugging)."""
        self.freeze()
        out: dict[tuple[int, int], float] = {}
        for g, (srcs, aw, dsts, k) in self.groups.items():
            m = 10.0 if g in focus_idents else 1.0
            for s, a in zip(srcs, aw):
                for d, _own in dsts:
                    if d != s:
                        out[(s, d)] = out.get((s, d), 0.0) + m * a / k
        return out

    def top_definitions(self, ranks: Sequence[float], limit: int,
                        focus_idents: frozenset[str] = _NO_FOCUS,
                        focus_files: Iterable[str] = ()) -> list[tuple[float, str, int]]:
        """The best `limit` definitions as (score, rel, def index), best first.

        score = rank that reached the definition along its identifier's edges
              + FALLBACK x its file's rank / its file's definitions (halved if nested);
        a top-level definition of a focus file also gets its file's rank / its file's
        top-level definitions (the file's own outline competes with its neighbours);
        x10 plus the file's rank for identifiers in `focus_idents`. Only definitions
        that can make the cut are scored: all that received rank, the focused ones, and
        the fallback-only ones of files taken best first until the rest cannot compete.
        """
        self.freeze()
        if limit <= 0:
            return []
        focus = {g: 10.0 for g in focus_idents if g in self.groups}
        y = list(map(mul, ranks, self._inv_out(focus)))
        get = y.__getitem__
        flow: dict[tuple[int, str], float] = {}
        for g, (srcs, aw, dsts, k) in self.groups.items():
            f = focus.get(g, 1.0) / k
            total = sum(map(mul, map(get, srcs), aw))
            for dst, own in dsts:
                v = f * (total - y[dst] * own)
                if v > 0:
                    flow[(dst, g)] = v

        tags, names = self.tags, self.names
        base = [0.0] * len(self.files)
        for i, t in enumerate(tags):
            if t is not None and t[0]:
                base[i] = FALLBACK * ranks[i] / len(t[0])
        scored: dict[tuple[int, int], float] = {}

        def add(i: int, j: int, received: float) -> None:
            d = tags[i][0][j]  # type: ignore[index]
            v = received + (base[i] if d[4] < 0 else base[i] / 2)
            scored[(i, j)] = v * 10.0 + ranks[i] if d[0] in focus_idents else v

        for (i, g), v in flow.items():
            for j in names[i][g]:
                add(i, j, v)
        for g in focus_idents:
            for i in self.definers.get(g, ()):
                for j in names[i][g]:
                    if (i, j) not in scored:
                        add(i, j, 0.0)
        for rel in focus_files:
            i = self.index.get(rel)
            if i is None or tags[i] is None:
                continue
            top = [j for js in names[i].values() for j in js if tags[i][0][j][4] < 0]
            for j in top:
                received = flow.get((i, tags[i][0][j][0]), 0.0) + ranks[i] / len(top)
                add(i, j, received)
        # fallback-only definitions: files by base, best first, until `limit` of them
        # are in hand and the next file's base is below the limit-th best of them
        taken: list[float] = []  # min-heap of the best `limit` fallback scores
        for i in sorted(range(len(self.files)), key=base.__getitem__, reverse=True):
            if base[i] == 0.0 or (len(taken) >= limit and base[i] < taken[0]):
                break
            for js in names[i].values():
                for j in js:
                    if (i, j) not in scored:
                        add(i, j, 0.0)
                        v = scored[(i, j)]
                        if len(taken) < limit:
                            heapq.heappush(taken, v)
                        elif v > taken[0]:
                            heapq.heapreplace(taken, v)
        files = self.files
        best = heapq.nsmallest(limit, scored.items(),
                               key=lambda kv: (-kv[1], files[kv[0][0]], kv[0][1]))
        return [(v, files[i], j) for (i, j), v in best]

    def _inv_out(self, focus: dict[str, float]) -> list[float]:
        out = list(self.out_base)
        for g in focus:
            srcs, aw, dsts, k = self.groups[g]
            dset = {d for d, _ in dsts}
            for s, a in zip(srcs, aw):
                out[s] += 9.0 * a * (k - (s in dset)) / k
        return [1.0 / w if w > 0 else 0.0 for w in out]

    def jumps(self, focus_files: Iterable[str], focus_idents: Iterable[str]
              ) -> list[float] | None:
        """Personalisation: 1 on focus files and on files defining focus identifiers;
        None (uniform) when none of them is in the graph."""
        p = [0.0] * len(self.files)
        for rel in focus_files:
            i = self.index.get(rel)
            if i is not None:
                p[i] = 1.0
        for g in focus_idents:
            for i in self.definers.get(g, ()):
                p[i] = 1.0
        return p if any(p) else None


def _names(tags: Tags) -> dict[str, list[int]]:
    """Non-local definition name -> its indices in the file's defs."""
    defs = tags[0]
    names: dict[str, list[int]] = {}
    for j, d in enumerate(defs):
        if d[4] < 0 or not is_local(defs, j):
            if d[0] in names:
                names[d[0]].append(j)
            else:
                names[d[0]] = [j]
    return names


def rank_definitions(tags: dict[str, Tags], *, focus_files: Iterable[str] = (),
                     focus_idents: Iterable[str] = (), limit: int = 1024
                     ) -> tuple[list[tuple[float, str, int]], dict[str, float]]:
    """One-shot ranking of a {rel: tags} map: ([(score, rel, def index)] best first,
    {rel: file rank})."""
    graph = RefGraph()
    graph.set_files(tags)
    fidents = frozenset(focus_idents)
    focus_files = tuple(focus_files)
    ranks = graph.pagerank(graph.jumps(focus_files, fidents), fidents)
    return (graph.top_definitions(ranks, limit, fidents, focus_files),
            dict(zip(graph.files, ranks)))
