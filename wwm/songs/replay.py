"""A replay World over any (user, item, time) interaction log, leave-one-out by time.

Each user's interactions are sorted by time (ties keep the log's order).  The last one is the
user's **test** item; the others are **training** history.  Two modes:

* ``mode="test"`` (the benchmark): one request per user (users in an order seeded by the run's
  seed); the state is the user's whole training history; the Mind ranks up to 10 item ids; the
  reward is the NDCG@10 gain of the held-out item, ``1/log2(rank+1)`` if it is at rank <= 10,
  else 0 (so the mean reward is NDCG@10, and the hit rate HR@10 is reported beside it).
* ``mode="train"``: a time-ordered replay of all training interactions as next-item requests
  (the state is the user's history before that interaction), so a learning Mind can learn
  through the loop; same reward.

In train mode the next state reveals what the user actually did: ``listened: ITEM`` (the
logged next item) and ``accepted: ITEM|none`` (ITEM when the Mind had it in its list).  A test
run is **read-only**: its states say ``mode: test`` and reveal no held-out item (no
``listened:``/``accepted:`` lines), so no Mind can learn from one user's test item before it
scores the next user; the Minds of this project also learn nothing at all from a test state.  Bad actions get the
song World's penalties (-1 for an invalid action, -0.1 per unknown or duplicate id).
Item ids are the log's own ids (strings).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from .listeners import rng_for
from .metrics import RankingScore, gain
from .request import Request, format_state
from .world import BAD_ENTRY_PENALTY, INVALID_REWARD, _ProgramWorld, check_action


@dataclass
class InteractionLog:
    """Per-user item sequences, time-ordered."""
    name: str
    sequences: dict[str, list[str]]      # user -> items, oldest first
    items: list[str]                      # every item id, in a stable order
    times: dict[str, list[float]] | None = None   # user -> times, aligned with sequences

    @classmethod
    def from_rows(cls, rows, name: str = "log") -> "InteractionLog":
        """rows: iterable of (user, item, time); sorted per user by (time, position)."""
        per: dict[str, list[tuple[float, int, str]]] = {}
        for pos, (u, i, t) in enumerate(rows):
            per.setdefault(str(u), []).append((float(t), pos, str(i)))
        ordered = {u: sorted(v) for u, v in per.items()}
        seqs = {u: [x[2] for x in v] for u, v in ordered.items()}
        times = {u: [x[0] for x in v] for u, v in ordered.items()}
        items = sorted({i for s in seqs.values() for i in s}, key=_natural)
        return cls(name=name, sequences=seqs, items=items, times=times)

    @classmethod
    def from_file(cls, path: str | os.PathLike, name: str | None = None, user: str | None = None,
                  item: str | None = None, time: str | None = None,
                  limit_users: int | None = None) -> "InteractionLog":
        """Read a delimited file with a header (RecBole atomic ``.inter``: tab-separated,
        ``user_id:token item_id:token … timestamp:float``; or any CSV/TSV with columns named
        user/item/time or given explicitly)."""
        p = Path(path)
        with open(p, encoding="utf-8", newline="") as f:
            head = f.readline()
            delim = "\t" if "\t" in head else ","
            cols = [c.strip().split(":")[0] for c in head.rstrip("\r\n").split(delim)]

            def pick(given, *cands):
                if given is not None:
                    return cols.index(given)
                for c in cands:
                    if c in cols:
                        return cols.index(c)
                raise ValueError(f"{p}: no column among {cands} in {cols}")
            ui = pick(user, "user_id", "user", "userId", "uid")
            ii = pick(item, "item_id", "item", "itemId", "movieId", "track_id", "iid")
            ti = pick(time, "timestamp", "time", "ts", "datetime")
            rows = []
            users: set = set()
            for rec in csv.reader(f, delimiter=delim):
                if not rec:
                    continue
                u = rec[ui]
                if limit_users is not None and u not in users and len(users) >= limit_users:
                    continue
                users.add(u)
                rows.append((u, rec[ii], float(rec[ti])))
        return cls.from_rows(rows, name=name or p.stem)

    def split(self) -> tuple[dict[str, list[str]], dict[str, str]]:
        """Leave-one-out by time: (train histories, test item) for users with >= 2 items."""
        train, test = {}, {}
        for u, s in self.sequences.items():
            if len(s) >= 2:
                train[u], test[u] = s[:-1], s[-1]
        return train, test

    @property
    def users(self) -> list[str]:
        return sorted(self.sequences, key=_natural)


def _natural(x: str):
    return (0, int(x), "") if x.isdigit() else (1, 0, x)


def load_ml100k(root: str | os.PathLike | None = None, limit_users: int | None = None,
                fetch: bool = True) -> InteractionLog:
    """MovieLens 100k from the data cache (fetched with ``wwm data fetch ml-100k``)."""
    from wwm.data import DataError, ensure, find_dataset
    d = Path(root) if root is not None else find_dataset("ml-100k")
    if d is None:
        if not fetch:
            raise DataError("ml-100k is not fetched: run `wwm data fetch ml-100k`")
        d = ensure("ml-100k")
    return InteractionLog.from_file(Path(d) / "ml-100k.inter", name="ml-100k",
                                    limit_users=limit_users)


def load_ml100k_items(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Item side information (title, year, genres) of ML-100k, by item id."""
    from wwm.data import ensure, find_dataset
    d = Path(root) if root is not None else (find_dataset("ml-100k") or ensure("ml-100k"))
    out = {}
    with open(Path(d) / "ml-100k.item", encoding="utf-8", errors="replace") as f:
        head = f.readline().rstrip("\n").split("\t")
        cols = [c.split(":")[0] for c in head]
        for line in f:
            rec = line.rstrip("\n").split("\t")
            if len(rec) < len(cols):
                rec += [""] * (len(cols) - len(rec))
            r = dict(zip(cols, rec))
            out[r["item_id"]] = {"title": r.get("movie_title", ""),
                                 "year": r.get("release_year", ""),
                                 "genres": r.get("class", "").split()}
    return out


class ReplayWorld(_ProgramWorld):
    """Replays an :class:`InteractionLog`; see the module docstring."""

    def __init__(self, log: InteractionLog, mode: str = "test", steps: int | None = None,
                 xml: bool = False, max_history: int | None = None, shuffle: bool = True):
        super().__init__()
        if mode not in ("test", "train"):
            raise ValueError("mode must be 'test' or 'train'")
        self.log = log
        self.mode = mode
        self.xml = bool(xml)
        self.max_history = max_history
        self.shuffle = shuffle
        self.item_set = set(log.items)
        self.train, self.test = log.split()
        self.requested_steps = steps
        self.seed = 1
        self._build(1)

    def _build(self, seed: int) -> None:
        if self.mode == "test":
            users = sorted(self.train, key=_natural)
            if self.shuffle:
                order = rng_for("replay", self.log.name, seed).permutation(len(users))
                users = [users[k] for k in order]
            self.queue = [(u, len(self.train[u])) for u in users]     # (user, position of target)
        else:
            # every training interaction after a user's first, in global time order
            # (ties: user, then position), each asked as "what comes next?"
            times = self.log.times or {}
            ev = []
            for u, seq in self.train.items():
                tu = times.get(u)
                for pos in range(1, len(seq)):
                    ev.append((tu[pos] if tu else float(pos), _natural(u), pos, u))
            ev.sort()
            self.queue = [(u, pos) for _, _, pos, u in ev]
        n = len(self.queue)
        self.max_steps = min(n, int(self.requested_steps)) if self.requested_steps else n

    def _target(self, k: int) -> tuple[str, list[str], str]:
        u, pos = self.queue[k]
        seq = self.train[u] if self.mode == "train" else self.train[u] + [self.test[u]]
        hist = seq[:pos]
        if self.max_history:
            hist = hist[-self.max_history:]
        return u, hist, seq[pos]

    def _request(self, k: int, accepted=None, listened=None, errors=None, notes=None) -> Request:
        u, hist, _ = self._target(k)
        return Request(world=f"replay {self.log.name}", mode=self.mode, listener=u, step=k + 1,
                       steps=self.max_steps, recent=hist, accepted=accepted, listened=listened,
                       errors=list(errors or []), notes=list(notes or []))

    def _render(self, req: Request) -> str:
        return format_state(req, None, xml=self.xml, history_line=True)

    def reset(self, seed: int = 1) -> str:
        self.seed = int(seed)
        self._build(self.seed)
        self.t = 0
        self.metrics = RankingScore(k=10)
        self.invalid = 0
        self.penalised = 0
        self.reward_sum = 0.0
        self.done = False
        return self._render(self._request(0))

    def step(self, action: str) -> tuple[str, float, bool]:
        if self.done:
            return self._render(Request(world=f"replay {self.log.name}", step=self.t,
                                        steps=self.max_steps, errors=["the run has ended"])), \
                0.0, True
        k = self.t
        u, hist, target = self._target(k)
        chk = check_action(action if isinstance(action, str) else "",
                           lambda x: x.strip() if x.strip() in self.item_set else None)
        self.t += 1
        self.done = self.t >= self.max_steps
        if chk.error is not None:
            reward = INVALID_REWARD
            self.invalid += 1
            self.metrics.add(None, reward)
            self.reward_sum += reward
            errors = [chk.error + f"; reward {INVALID_REWARD:g}"]
            accepted = None
        else:
            rank = next((r for r, j in enumerate(chk.slate, 1) if j == target), None)
            reward = gain(rank) - BAD_ENTRY_PENALTY * chk.bad
            reward = max(INVALID_REWARD, round(reward, 6))
            if chk.bad:
                self.penalised += 1
            self.metrics.add(rank, reward)
            self.reward_sum += reward
            errors = []
            accepted = target if rank is not None else None
        note = chk.note() if chk.error is None else None
        listened = target
        if self.mode == "test":          # read-only: the held-out item is never revealed
            accepted = listened = None
        if self.done:
            req = Request(world=f"replay {self.log.name}", mode=self.mode, listener=u,
                          step=self.t,
                          steps=self.max_steps, accepted=accepted, listened=listened,
                          errors=errors, notes=([note] if note else []) + ["the run is over"])
        else:
            req = self._request(self.t, accepted=accepted, listened=listened, errors=errors,
                                notes=[note] if note else None)
        return self._render(req), reward, self.done

    def score(self) -> str:
        mean = self.reward_sum / self.t if self.t else 0.0
        return (f"{mean:.6f}\n"
                f"steps: {self.t}\n"
                f"mean_reward: {mean:.6f}\n"
                f"hr@10: {self.metrics.hr:.6f}\n"
                f"ndcg@10: {self.metrics.ndcg_mean:.6f}\n"
                f"invalid: {self.invalid}\n"
                f"penalised: {self.penalised}\n"
                f"mode: {self.mode}\n")

    def summary(self) -> dict:
        return {"steps": self.t, "mean_reward": self.reward_sum / self.t if self.t else 0.0,
                "hr@10": self.metrics.hr, "ndcg@10": self.metrics.ndcg_mean,
                "invalid": self.invalid, "penalised": self.penalised, "mode": self.mode}

    def end(self) -> None:
        pass


def leave_one_out_arrays(log: InteractionLog) -> tuple[list[str], dict[str, list[str]],
                                                       dict[str, str]]:
    """(users sorted, train, test) for in-process benchmarks."""
    train, test = log.split()
    return sorted(train, key=_natural), train, test


__all__ = ["InteractionLog", "ReplayWorld", "load_ml100k", "load_ml100k_items",
           "leave_one_out_arrays"]
