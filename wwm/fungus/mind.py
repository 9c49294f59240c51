"""The fungus Mind: a FungusLearner per item domain behind the file protocol.

In-process (benchmarks, tests)::

    mind = FungusMind(home=None, seed=0)
    action = mind.act(state_text)        # learns from the reward/listened in state_text first
    mind.learn(request, slate, reward, accepted, listened)   # or feed feedback yourself

Served (minds/fungus/mind.py, ``instances = "shared"``): one process, one model per domain in
memory, every run's feedback trains it; weights are checkpointed (safetensors, weights only) to
``HOME/<domain>.safetensors`` every ``checkpoint_every`` learning steps and when a run ends, and
loaded at start.  A checkpoint that fails the checks (pickle, wrong shapes, other catalog) is
logged and set aside (renamed ``<domain>.refused.safetensors``); the Mind then starts fresh.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np

from wwm.songs.baselines import ItemKNNRec
from wwm.songs.mindkit import Domain, RecommenderMind, top_k
from wwm.songs.request import Request

from .gate import OnlineGate
from .learner import FungusLearner
from .weights import WeightsError

#: hyper-parameters per domain (see docs/songs.md)
HYPER = {
    # songs: chosen on song-World runs with seeds 1 and 2 (communities mixed, metal, club,
    # hiphop; 200 requests); the reported figures use other seeds (bench/recsys.py)
    "songs": dict(dim=64, hidden=256, max_history=20, dropout=0.1, lr=2e-3, online_lr=3e-3,
                  online_item_lr=0.05, scale=5.0, memory=5.0, batch=32, neg_weight=0.1,
                  decay=2.0, gate={"model": 1.0, "artist": 1.0}, gate_lr=1.0),
    "ml-100k": dict(dim=64, hidden=256, max_history=50, dropout=0.2, lr=2e-3, online_lr=1e-4,
                    batch=32, neg_weight=0.1, decay=0.05),
}


class FungusRecommender:
    """recommend/observe over a FungusLearner, with checkpoints."""

    def __init__(self, domain: Domain, home: str | os.PathLike | None = None, seed: int = 0,
                 checkpoint_every: int = 500, **hyper):
        self.domain = domain
        params = dict(HYPER.get(domain.name, HYPER["songs"]))
        params.update(hyper)
        # the co-listening memory: exact counts of which songs the same listener played, read
        # from the recent items (weights recency**d), added to the model's scores; it learns
        # from the first feedback on, while the network's weights move slowly
        self.memory_weight = float(params.pop("memory", 0.0))
        self.memory_recency = float(params.pop("memory_recency", 0.5))
        self.memory = ItemKNNRec(domain, seed=seed, content_weight=0.0) \
            if self.memory_weight else None
        # the gate between the model (network + memory) and the catalog's artist credits
        gate = params.pop("gate", None)
        self.gate = OnlineGate(gate, lr=params.pop("gate_lr", 1.0),
                                                g2=params.pop("gate_g2", 10.0)) if gate else None
        self._cache: tuple | None = None
        self.learner = FungusLearner(domain.items, domain.features, domain=domain.name,
                                     fingerprint=domain.fingerprint, seed=seed, **params)
        self.home = Path(home) if home else None
        self.checkpoint_every = int(checkpoint_every)
        self.learning = True
        self._since = 0
        self._lock = threading.Lock()
        if self.home is not None:
            self._load_checkpoint()

    @property
    def checkpoint_path(self) -> Path | None:
        return self.home / f"{self.domain.name}.safetensors" if self.home else None

    def _load_checkpoint(self) -> None:
        p = self.checkpoint_path
        if p is None or not p.exists():
            return
        try:
            meta = self.learner.load(p)
            print(f"fungus: loaded {p} (steps {meta.get('steps')})", file=sys.stderr)
        except (WeightsError, OSError) as e:
            print(f"fungus: refused checkpoint {p}: {e}; starting fresh", file=sys.stderr)
            try:
                os.replace(p, p.with_name(p.stem + ".refused" + p.suffix))
            except OSError:
                pass

    def checkpoint(self) -> str | None:
        p = self.checkpoint_path
        if p is None:
            return None
        with self._lock:
            return self.learner.save(p)

    def model_scores(self, history: list[str]) -> np.ndarray:
        """The network's logits plus the co-listening memory of the last 5 items."""
        s = self.learner.scores(history)
        if self.memory is not None:
            for d, j in enumerate(reversed(self.domain.indices(history)[-5:])):
                s += self.memory_weight * self.memory_recency ** d * self.memory._cooc_row(j)
        return s

    def sources(self, history: list[str]) -> np.ndarray:
        """(K, n_items): the gate's score sources for this history (kept for the feedback)."""
        key = tuple(history)
        if self._cache is None or self._cache[0] != key:
            rows = {"model": lambda: self.model_scores(history),
                    "artist": lambda: self.same_artist(self.domain.indices(history)[-1])}
            self._cache = (key, np.stack([rows[n]() for n in self.gate.names]))
        return self._cache[1]

    def same_artist(self, j: int) -> np.ndarray:
        """1 for the songs sharing an artist with song j (the catalog's credits), else 0."""
        z = np.zeros(len(self.domain))
        if self.domain.catalog is not None:
            z[self.domain.catalog.same_artist(j)] = 1.0
        return z

    def recommend(self, req: Request, k: int = 10) -> list[str]:
        with self._lock:
            hist = self.domain.indices(req.history)
            if hist:
                s = self.gate.combine(self.sources(req.history)) if self.gate is not None \
                    else self.model_scores(req.history)
                return [self.domain.items[i] for i in top_k(s, k, hist)]
            # nothing to go on ("any metal?"): the learned item biases, the catalog's
            # popularity breaking ties (an untrained model has all biases at 0)
            s = self.learner.scores([]) + 1e-3 * self.domain.prior
        return [self.domain.items[i] for i in top_k(s, k)]

    def observe(self, req: Request, slate: list[str], reward, accepted, listened) -> None:
        if not self.learning:
            return
        with self._lock:
            hist = self.domain.indices(req.history)
            if self.gate is not None and hist and listened in self.domain.index:
                # first the gate learns how well each source predicted this outcome, then the
                # sources learn from it
                self.gate.update(self.sources(req.history), self.domain.index[listened], hist)
            self._cache = None
            if self.memory is not None:
                self.memory.observe(req, slate, reward, accepted, listened)
            loss = self.learner.observe(req.history, listened, slate, reward, accepted)
        if loss is not None:
            self._since += 1
            if self.home is not None and self._since >= self.checkpoint_every:
                self._since = 0
                self.checkpoint()

    def end_run(self) -> None:
        if self.home is not None and self._since:
            self._since = 0
            self.checkpoint()


class FungusMind(RecommenderMind):
    """The fungus Mind (one object per run; the recommenders are shared per process unless
    ``private=True``)."""

    def __init__(self, home: str | os.PathLike | None = None, seed: int = 0, k: int = 10,
                 private: bool = False, checkpoint_every: int = 500, **hyper):
        self._home, self._seed, self._hyper = home, seed, hyper
        self._ckpt_every = checkpoint_every
        self._private: dict[str, FungusRecommender] | None = {} if private else None
        super().__init__(factory=self._make, k=k)

    def _make(self, dom: Domain) -> FungusRecommender:
        return FungusRecommender(dom, home=self._home, seed=self._seed,
                                 checkpoint_every=self._ckpt_every, **self._hyper)

    def recommender(self, dom: Domain):
        if self._private is None:
            key = (str(self._home), self._seed, dom.name)
            r = _SHARED.get(key)
            if r is None:
                r = _SHARED[key] = self._make(dom)
            return r
        r = self._private.get(dom.name)
        if r is None:
            r = self._private[dom.name] = self._make(dom)
        return r

    def learn(self, req: Request, slate: list[str], reward, accepted, listened,
              domain: str = "songs") -> None:
        from wwm.songs.mindkit import get_domain
        self.recommender(get_domain(domain)).observe(req, slate, reward, accepted, listened)

    def end(self) -> None:
        recs = list(self._private.values()) if self._private is not None else \
            [r for (h, s, _), r in _SHARED.items() if h == str(self._home) and s == self._seed]
        for r in recs:
            r.end_run()


_SHARED: dict[tuple, FungusRecommender] = {}


def serve(argv: list[str] | None = None) -> None:
    """Serve the fungus Mind (minds/fungus/mind.py).  Parameters (``[params]`` in wwm.toml or
    ``--key value``): ``home`` (checkpoint folder; default SERVER_DIR/var), ``seed``,
    ``checkpoint_every``, ``threads`` (torch CPU threads, default 1), ``device`` (cpu, the
    default; cuda; auto: cuda when torch sees a GPU)."""
    import torch

    from wwm.program import serve_mind
    from wwm.songs.serve import server_params
    p = server_params(argv, {"seed": 0, "checkpoint_every": 500, "threads": 1, "device": "cpu"})
    torch.set_num_threads(max(1, int(p["threads"])))
    home = p.get("home")
    if not home:
        sd = os.environ.get("WWM_SERVER_DIR") or os.getcwd()
        home = os.path.join(sd, "var")
    elif not os.path.isabs(home) and os.environ.get("WWM_SERVER_DIR"):
        home = os.path.join(os.environ["WWM_SERVER_DIR"], home)
    device = str(p["device"])
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = dict(home=home, seed=int(p["seed"]), checkpoint_every=int(p["checkpoint_every"]),
               device=device)

    class ServedFungusMind(FungusMind):
        def __init__(self):
            super().__init__(**cfg)

    serve_mind(ServedFungusMind)
