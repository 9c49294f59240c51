"""Online (and replayed) learning for the fungus model.

The learning signal is what the World reveals in the state after an action, never a made-up
target:

* ``listened``: the item the listener/user actually went on to play (the song World: the track
  accepted from the list, else the song they meant to play; the replay World: the logged next
  item).  It is the target of a cross-entropy step on ``P(next | history)``.
* ``reward`` and the list shown: when nothing in the list was accepted (reward <= 0), the shown
  items are pushed down with an unlikelihood term ``-log(1 - P(j | history))`` (weight
  ``neg_weight``), so the model also learns from rejection.

Each observation is stored in a bounded replay buffer; every ``observe`` takes one Adam step on
a minibatch of the new example plus ``batch - 1`` examples drawn (seeded) from the buffer.
:meth:`FungusLearner.fit_sequences` replays whole logged sequences (the replay World's training
part) in shuffled minibatches, for the ML-100k benchmark.

At scoring and training time the items of the request itself are masked out (the leave-one-out
protocol ranks only items the user has not had).
"""
from __future__ import annotations

import random
import time
from collections import deque
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from .model import PAD, FungusModel
from .weights import export_weights, import_weights


class FungusLearner:
    def __init__(self, items: list[str], item_features: np.ndarray | None = None,
                 domain: str = "songs", fingerprint: str = "", dim: int = 64, hidden: int = 256,
                 max_history: int = 50, dropout: float = 0.2, lr: float = 2e-3,
                 online_lr: float | None = None, batch: int = 32, buffer: int = 20000,
                 neg_weight: float = 0.1, weight_decay: float = 0.0, seed: int = 0,
                 decay: float = 0.05, scale: float = 1.0, online_item_lr: float | None = None,
                 device: str = "cpu"):
        self.items = list(items)
        self.index = {x: k for k, x in enumerate(self.items)}
        self.domain = domain
        self.fingerprint = fingerprint
        self.seed = int(seed)
        torch.manual_seed(self.seed)
        self.model = FungusModel(len(self.items), dim=dim, hidden=hidden, max_history=max_history,
                                 dropout=dropout, item_features=item_features, seed=self.seed,
                                 decay=decay, scale=scale)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.lr = lr
        self.online_lr = online_lr if online_lr is not None else lr
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.online_lr,
                                    weight_decay=weight_decay)
        # online: Adam for the shared parameters; per-item parameters (u, b) either with the
        # same Adam, or with Adagrad (``online_item_lr``), which moves an item's row only as far
        # as its own gradients say (Adam's normalisation would move every row every step)
        if online_item_lr:
            item = [self.model.item_emb.weight, self.model.out_bias]
            ids = {id(p) for p in item}
            dense = [p for p in self.model.parameters() if id(p) not in ids]
            self.online_opts = [torch.optim.Adam(dense, lr=self.online_lr,
                                                 weight_decay=weight_decay),
                                torch.optim.Adagrad(item, lr=online_item_lr)]
        else:
            self.online_opts = [self.opt]
        self.batch = int(batch)
        self.buffer: deque = deque(maxlen=int(buffer))
        self.neg_weight = float(neg_weight)
        self.rng = random.Random(self.seed)
        self.steps = 0            # optimizer steps
        self.samples = 0          # examples learned from
        self.last_loss: float | None = None

    # ------------------------------------------------------------------ encoding
    @property
    def L(self) -> int:
        return self.model.max_history

    def rows(self, ids: Iterable[str]) -> list[int]:
        """Embedding rows (1-based) of known ids, unknown ones dropped."""
        return [self.index[x] + 1 for x in ids if x in self.index]

    def _pad(self, rows: list[int]) -> list[int]:
        rows = rows[-self.L:]
        return [PAD] * (self.L - len(rows)) + rows

    def _mask(self, hist: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_items) True where the item is in the history (to be excluded)."""
        B = hist.shape[0]
        m = torch.zeros(B, self.model.n_items + 1, dtype=torch.bool, device=hist.device)
        m.scatter_(1, hist, True)
        m = m[:, 1:]
        if keep is not None:
            m[torch.arange(B, device=hist.device), keep] = False
        return m

    # ------------------------------------------------------------------ scoring
    @torch.no_grad()
    def scores(self, history: list[str]) -> np.ndarray:
        self.model.eval()
        x = torch.tensor([self._pad(self.rows(history))], device=self.device)
        s = self.model(x)[0]
        return s.cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def recommend(self, history: list[str], k: int = 10, exclude: Iterable[str] = ()) -> list[str]:
        s = self.scores(history)
        excl = [self.index[x] for x in set(history) | set(exclude) if x in self.index]
        if excl:
            s[excl] = -np.inf
        k = min(k, len(self.items) - len(excl))
        if k <= 0:
            return []
        top = np.argpartition(-s, k - 1)[:k]
        top = sorted(top.tolist(), key=lambda i: (-s[i], i))
        return [self.items[i] for i in top]

    @torch.no_grad()
    def score_rows(self, histories: list[list[int]]) -> torch.Tensor:
        """(B, n_items) scores for histories given as embedding rows (1-based), in eval mode."""
        self.model.eval()
        return self.model(torch.tensor([self._pad(h) for h in histories], device=self.device))

    @torch.no_grad()
    def rank_batch(self, histories: list[list[str]], k: int = 10) -> list[list[str]]:
        """Top-k for many histories at once (every item of each whole history excluded, not
        only the last ``max_history`` the model reads)."""
        self.model.eval()
        out = []
        for b in range(0, len(histories), 256):
            hs = histories[b:b + 256]
            x = torch.tensor([self._pad(self.rows(h)) for h in hs], device=self.device)
            s = self.model(x)
            for r, h in enumerate(hs):
                idx = [self.index[i] for i in h if i in self.index]
                if idx:
                    s[r, idx] = float("-inf")
            top = torch.topk(s, k, dim=1).indices.tolist()
            out.extend([[self.items[i] for i in row] for row in top])
        return out

    # ------------------------------------------------------------------ learning
    def _loss(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
              negs: list[list[int]] | None = None) -> torch.Tensor:
        logits = self.model(x)
        logits = logits.masked_fill(self._mask(x, keep=y), float("-inf"))
        ce = F.cross_entropy(logits, y, reduction="none")
        loss = (ce * w).sum() / w.sum().clamp_min(1e-9)
        if negs and self.neg_weight > 0 and any(negs):
            logp = torch.log_softmax(logits, dim=1)
            terms = []
            for b, nb in enumerate(negs):
                if nb:
                    p = logp[b, nb].exp().clamp(max=1 - 1e-6)
                    terms.append(-torch.log1p(-p).sum())
            if terms:
                loss = loss + self.neg_weight * torch.stack(terms).sum() / len(negs)
        return loss

    def observe(self, history: list[str], listened: str | None, slate: list[str] | None = None,
                reward: float | None = None, accepted: str | None = None) -> float | None:
        """Learn from one outcome: ``listened`` is the revealed next item for ``history``."""
        if listened is None or listened not in self.index:
            return None
        rows = self._pad(self.rows(history))
        target = self.index[listened]
        negs = []
        if slate and (reward is not None and reward <= 0) and accepted is None:
            negs = [self.index[x] for x in slate if x in self.index and x != listened]
        self.buffer.append((rows, target, negs))
        self.samples += 1
        batch = [self.buffer[-1]]
        if len(self.buffer) > 1 and self.batch > 1:
            n = len(self.buffer) - 1
            for _ in range(min(self.batch - 1, n)):
                batch.append(self.buffer[self.rng.randrange(n)])
        return self.step(batch)

    def step(self, batch: list[tuple]) -> float:
        """One online step (the online learning rate and optimisers) on ``batch``: examples as the
        replay buffer holds them, ``(padded history rows, target index, rejected indices)``."""
        x = torch.tensor([b[0] for b in batch], device=self.device)
        y = torch.tensor([b[1] for b in batch], device=self.device)
        w = torch.ones(len(batch), device=self.device)
        self.model.train()
        if self.online_opts[0] is self.opt:
            for g in self.opt.param_groups:
                g["lr"] = self.online_lr
        loss = self._loss(x, y, w, [b[2] for b in batch])
        for o in self.online_opts:
            o.zero_grad()
        loss.backward()
        for o in self.online_opts:
            o.step()
        self.steps += 1
        self.last_loss = float(loss.item())
        return self.last_loss

    def fit_sequences(self, sequences: dict[str, list[str]] | list[list[str]], epochs: int = 10,
                      batch_size: int = 512, lr: float | None = None,
                      progress: Callable[[dict], None] | None = None,
                      evaluate: Callable[["FungusLearner"], dict] | None = None,
                      time_budget: float | None = None, final_lr: float = 0.1) -> list[dict]:
        """Replay logged sequences: every position t >= 1 of every sequence is a next-item
        example (history = items before t).  The learning rate decays linearly from ``lr`` to
        ``final_lr * lr`` over the epochs.  ``evaluate`` may end the schedule early (early
        stopping) by returning ``stop: True``.  Returns per-epoch records."""
        seqs = list(sequences.values()) if isinstance(sequences, dict) else list(sequences)
        X, Y = [], []
        for s in seqs:
            rows = self.rows(s)
            for t in range(1, len(rows)):
                X.append(self._pad(rows[:t]))
                Y.append(rows[t] - 1)
        if not X:
            return []
        X = torch.tensor(X, device=self.device)
        Y = torch.tensor(Y, device=self.device)
        g = torch.Generator().manual_seed(self.seed)
        lr0 = lr if lr is not None else self.lr
        total = epochs * ((len(X) + batch_size - 1) // batch_size)
        done = 0
        w = torch.ones(batch_size, device=self.device)
        history = []
        t0 = time.time()
        for ep in range(epochs):
            self.model.train()
            perm = torch.randperm(len(X), generator=g).to(self.device)
            tot, nb = 0.0, 0
            for b in range(0, len(X), batch_size):
                i = perm[b:b + batch_size]
                frac = done / max(1, total - 1)
                for grp in self.opt.param_groups:
                    grp["lr"] = lr0 * (1.0 - (1.0 - final_lr) * frac)
                done += 1
                loss = self._loss(X[i], Y[i], w[: len(i)])
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                self.steps += 1
                tot += float(loss.item())
                nb += 1
            self.samples += len(X)
            rec = {"epoch": ep + 1, "loss": tot / max(1, nb), "seconds": time.time() - t0,
                   "examples": len(X)}
            if evaluate is not None:
                rec.update(evaluate(self))
            history.append(rec)
            if progress is not None:
                progress(rec)
            if rec.pop("stop", False) or \
                    (time_budget is not None and time.time() - t0 > time_budget):
                break
        for grp in self.opt.param_groups:
            grp["lr"] = self.online_lr
        return history

    # ------------------------------------------------------------------ weights
    def save(self, path) -> str:
        """Checkpoint (weights only, safetensors); returns the file's SHA-256."""
        return export_weights(self.model, path, self.domain, self.fingerprint, self.steps,
                              self.samples)

    def load(self, path_or_bytes, expect_sha256: str | None = None) -> dict:
        """Load checked weights (refuses pickles, wrong shapes, another item list)."""
        meta = import_weights(self.model, path_or_bytes, items_sha256=self.fingerprint or None,
                              expect_sha256=expect_sha256)
        try:
            self.steps = int(meta.get("steps", self.steps))
            self.samples = int(meta.get("samples", self.samples))
        except ValueError:
            pass
        return meta

    export = save
    import_ = load
