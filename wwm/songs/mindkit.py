"""What every recommender Mind needs: item domains, and an adapter from the file protocol's
states to a recommender's ``recommend`` / ``observe`` (no torch here).

A *recommender* has two methods::

    recommend(req: Request, k: int) -> list[str]          # ranked item ids, best first
    observe(req: Request, slate: list[str], reward: float | None,
            accepted: str | None, listened: str | None) -> None   # feedback for ``req``

:class:`RecommenderMind` (a ``wwm.program.Mind``) reads each state, hands the feedback the state
carries (reward, ``accepted:``, ``listened:``) to ``observe`` for the previous request, resolves
free text ("songs like …") to a seed, asks ``recommend`` and writes the action in the state's own
form (text, or XML when the state was XML).  It never raises on bad input: an unreadable or empty
state gets a fallback list (most popular items) and a comment saying why.

Domains: the song catalog (``world: songs``) and ML-100k (``world: replay ml-100k``).  One
recommender per domain is kept per process (``instances = "shared"`` serves every run from it).
"""
from __future__ import annotations

import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

try:
    from wwm.program import Mind as _ProgramMind
except Exception:  # pragma: no cover
    class _ProgramMind:  # type: ignore[no-redef]
        pass

from .request import Request, format_action, parse_state, resolve_request
from .understand import candidates, describe


@dataclass
class Domain:
    name: str                          # "songs" or "ml-100k"
    items: list[str]
    index: dict[str, int]
    features: np.ndarray | None        # item side information (rows = items), or None
    prior: np.ndarray                  # a popularity prior, for cold starts and ties
    catalog: object | None = None      # the song Catalog (free text, labels)
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.items)

    def indices(self, ids) -> list[int]:
        return [self.index[i] for i in ids if i in self.index]


_DOMAINS: dict[str, Domain] = {}
_LOCK = threading.Lock()


def domain_name(world: str) -> str | None:
    w = (world or "").strip().lower()
    if w == "songs" or w.startswith("songs"):
        return "songs"
    if w.startswith("replay"):
        rest = w[len("replay"):].strip()
        if rest in ("ml-100k", "ml100k"):
            return "ml-100k"
    return None


def songs_domain(catalog=None) -> Domain:
    from .catalog import load_catalog
    cat = catalog or load_catalog()
    return Domain(name="songs", items=list(cat.ids), index=dict(cat.index),
                  features=cat.item_features(), prior=cat.popularity / 100.0, catalog=cat,
                  fingerprint=cat.fingerprint())


def ml100k_domain(log=None, root=None) -> Domain:
    import hashlib

    from .replay import load_ml100k, load_ml100k_items
    log = log or load_ml100k(root)
    items = list(log.items)
    index = {x: k for k, x in enumerate(items)}
    info = load_ml100k_items(root)
    genres = sorted({g for v in info.values() for g in v["genres"]})
    gi = {g: k for k, g in enumerate(genres)}
    feats = np.zeros((len(items), len(genres) + 1))
    for k, x in enumerate(items):
        v = info.get(x)
        if v is None:
            continue
        for g in v["genres"]:
            feats[k, gi[g]] = 1.0
        try:
            feats[k, -1] = (float(v["year"]) - 1990.0) / 10.0
        except ValueError:
            pass
    train, _ = log.split()
    counts = np.zeros(len(items))
    for seq in train.values():
        for x in seq:
            counts[index[x]] += 1
    # prior: popularity in the training part of the log (fallback for empty requests, ties)
    fp = hashlib.sha256("\n".join(items).encode()).hexdigest()
    return Domain(name="ml-100k", items=items, index=index, features=feats,
                  prior=counts / max(1.0, counts.max()), catalog=None, fingerprint=fp)


def get_domain(name: str) -> Domain:
    with _LOCK:
        d = _DOMAINS.get(name)
        if d is None:
            if name == "songs":
                d = songs_domain()
            elif name == "ml-100k":
                d = ml100k_domain()
            else:
                raise KeyError(name)
            _DOMAINS[name] = d
        return d


def register_domain(d: Domain) -> None:
    with _LOCK:
        _DOMAINS[d.name] = d


def top_k(scores: np.ndarray, k: int, exclude: list[int] | None = None) -> list[int]:
    """Indices of the k highest scores (ties: lower index first), skipping ``exclude``."""
    s = np.asarray(scores, dtype=np.float64).copy()
    if exclude:
        s[exclude] = -np.inf
    k = min(k, int(np.isfinite(s).sum()))
    if k <= 0:
        return []
    part = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
    return sorted(part.tolist(), key=lambda i: (-s[i], i))


@dataclass
class _Pending:
    req: Request
    slate: list[str]
    domain: str


class RecommenderMind(_ProgramMind):
    """A ``wwm.program.Mind`` around per-domain recommenders (see the module docstring).

    ``factory(domain) -> recommender`` is called once per domain per process (recommenders are
    shared by every run in the process).  Subclass and set ``factory``, or pass it in.
    """

    factory: Callable[[Domain], object] | None = None
    k = 10
    _shared: dict[tuple, object] = {}

    def __init__(self, factory: Callable[[Domain], object] | None = None, k: int = 10):
        if factory is not None:
            self.factory = factory
        self.k = k
        self.pending: _Pending | None = None
        self.steps = 0

    # one recommender per (factory, domain) per process
    def recommender(self, dom: Domain):
        key = (type(self), self.factory, dom.name)   # holds the factory: ids are never reused
        with _LOCK:
            r = RecommenderMind._shared.get(key)
        if r is None:
            r = self.factory(dom)
            with _LOCK:
                r = RecommenderMind._shared.setdefault(key, r)
        return r

    def act(self, step) -> str:
        """``step``: a ``wwm.program.Step`` (or anything with ``.state`` and ``.reward``)."""
        state = getattr(step, "state", step)
        reward = getattr(step, "reward", None)
        return self.act_text(state, reward)

    def act_text(self, state: str, reward: float | None = None) -> str:
        self.steps += 1
        req = parse_state(state if isinstance(state, str) else None)
        if reward is None:
            reward = req.reward
        name = domain_name(req.world)
        if name is None:
            # no idea which items this World has: an empty answer with the reason
            self.pending = None
            return f"# this Mind knows the song World and replay ml-100k, not {req.world[:60]!r}\n"
        try:
            dom = get_domain(name)
        except Exception as e:  # data missing and not fetchable
            self.pending = None
            return f"# cannot load the {name} items: {str(e)[:200]}\n"
        rec = self.recommender(dom)
        # feedback for the previous request
        # a test state (replay World, mode: test) is read-only: nothing is learned from it
        if self.pending is not None and self.pending.domain == name and not req.errors \
                and req.mode != "test" and self.pending.req.mode != "test":
            try:
                rec.observe(self.pending.req, self.pending.slate, reward,
                            req.accepted, req.listened)
            except Exception:  # learning must never take the Mind down
                traceback.print_exc(file=sys.stderr)
        mask = None
        notes: list[str] = []
        if dom.catalog is not None:
            resolve_request(dom.catalog, req)
            if req.ask is not None and not req.seed:
                mask = candidates(dom.catalog, req.ask)
                notes = [n for n in req.notes if n.startswith("the catalog")]
        else:
            req.recent = [x for x in req.recent if x in dom.index]
        if mask is not None:
            notes.append(f"asked: {describe(req.ask)}")
        elif req.empty or (not req.history and req.text):
            kind = getattr(req.ask, "kind", None)
            notes.append("no particular song asked; popular picks" if kind == "plain" else
                         "nothing in the request matched the catalog; popular picks"
                         if req.text else "empty request; popular picks")
        note = "".join(f"# {n}\n" for n in notes)
        try:
            # an ask for an artist, genres or a mood: the recommender's order, among the songs
            # that fit (then the most popular of them)
            ids = rec.recommend(req, len(dom) if mask is not None else self.k)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            ids = []
        excl = dom.indices(req.history)
        if mask is not None:
            ids = [x for x in ids if mask[dom.index[x]]][: self.k]
            if len(ids) < self.k:
                fill = np.where(mask, dom.prior, -np.inf)
                ids += [dom.items[i] for i in top_k(fill, self.k, excl + dom.indices(ids))]
        if not ids:
            ids = [dom.items[i] for i in top_k(dom.prior + 1e-9 * -np.arange(len(dom)),
                                                self.k, excl)]
        ids = _dedupe(ids)[: self.k]
        self.pending = _Pending(req=req, slate=ids, domain=name)
        if req.xml:
            return format_action(ids, xml=True)
        return note + format_action(ids, catalog=dom.catalog)

    def end(self) -> None:
        fin = getattr(self.factory, "end_run", None)
        if callable(fin):
            fin()


def _dedupe(ids: list[str]) -> list[str]:
    seen: set = set()
    out = []
    for x in ids:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


@dataclass
class Feedback:
    """One observed outcome (kept by learners that replay their experience)."""
    history: list[str]
    slate: list[str] = field(default_factory=list)
    reward: float | None = None
    accepted: str | None = None
    listened: str | None = None
