"""The song-request World: simulated listeners ask for songs, a Mind answers with up to 10
track ids, the listener's choice model gives the reward.  See docs/songs.md.

Use it in-process (``SongWorld(community="metal").reset(1)`` / ``.step(action)``) or serve it
with ``wwm.program.serve_world`` (worlds/songs/world.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

try:  # the Program 1 helper (stdlib); the World also works without it, in-process
    from wwm.program import World as _ProgramWorld
except Exception:  # pragma: no cover
    class _ProgramWorld:  # type: ignore[no-redef]
        def __init__(self) -> None:
            self.total_reward = 0.0
            self.steps = 0

from .catalog import Catalog, load_catalog
from .listeners import Community, Listener, choose, rng_for
from .metrics import RankingScore
from .request import (MAX_ACTION_ITEMS, FormatError, Request, format_state, noisy_text,
                      parse_action)

INVALID_REWARD = -1.0       # unreadable / empty / over-long action, or no known id at all
BAD_ENTRY_PENALTY = 0.1     # per unknown or duplicate id inside an otherwise valid list
RECENT = 5                  # recent listens shown in a request


@dataclass
class SlateCheck:
    slate: list            # per slot: a catalog key, or None for a bad entry
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def bad(self) -> int:
        return len(self.unknown) + len(self.duplicates)

    def note(self) -> str | None:
        parts = []
        if self.unknown:
            shown = ", ".join(x[:40] for x in self.unknown[:3])
            parts.append(f"{len(self.unknown)} unknown id(s) ignored ({shown})")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicate(s) ignored")
        return "; ".join(parts) + f"; penalty {BAD_ENTRY_PENALTY:g} each" if parts else None


def check_action(payload: str, lookup: Callable[[str], object | None],
                 max_items: int = MAX_ACTION_ITEMS) -> SlateCheck:
    """Validate an action against a catalog.  ``lookup(id)`` gives the catalog key or None.

    The result's ``error`` is set for an invalid action (reward -1): unreadable, empty, more
    than ``max_items`` entries, or no known id.  Unknown and duplicate ids keep their slot (later
    items do not move up) and cost ``BAD_ENTRY_PENALTY`` each."""
    try:
        parsed = parse_action(payload)
    except FormatError as e:
        return SlateCheck([], error=f"unreadable action: {e}")
    ids = parsed.ids
    if not ids:
        return SlateCheck([], error="empty action: expected up to "
                          f"{max_items} track ids, best first")
    if len(ids) > max_items:
        return SlateCheck([], error=f"over-long action: {len(ids)} ids (at most {max_items})")
    seen: set = set()
    out = SlateCheck([])
    for x in ids:
        key = lookup(x)
        if key is None:
            out.slate.append(None)
            out.unknown.append(x)
        elif key in seen:
            out.slate.append(None)
            out.duplicates.append(x)
        else:
            seen.add(key)
            out.slate.append(key)
    if all(k is None for k in out.slate):
        out.error = "no known id in the action (" + (out.note() or "") + ")"
    return out


class SongWorld(_ProgramWorld):
    """Song requests from a community of simulated listeners.

    Parameters: ``community`` (name; presets mixed, metal, club, country, hiphop, or any name),
    ``steps`` (run length), ``xml`` (states as XML), ``size`` (listeners in the community),
    ``session`` (mean requests per listener session), shares of request kinds
    (``p_seed``, ``p_text``; the rest are history-only requests).
    """

    def __init__(self, community: str = "mixed", steps: int = 200, xml: bool = False,
                 catalog: Catalog | None = None, size: int = 100, session: float = 5.0,
                 p_seed: float = 0.45, p_text: float = 0.25):
        super().__init__()
        self.catalog = catalog or load_catalog()
        self.community = Community(self.catalog, community, size=size)
        self.max_steps = max(1, int(steps))
        self.xml = bool(xml)
        self.session = max(1.0, float(session))
        self.p_seed, self.p_text = float(p_seed), float(p_text)
        self.seed = 1
        self._reset_stats()

    # ------------------------------------------------------------------ bookkeeping
    def _reset_stats(self) -> None:
        self.t = 0                   # requests answered (valid or not)
        self.metrics = RankingScore(k=10)
        self.accepted_n = 0
        self.invalid = 0
        self.penalised = 0
        self.reward_sum = 0.0
        self.rewards: list[float] = []
        self.done = False

    def _rng(self, *what) -> np.random.Generator:
        return rng_for("songs-run", self.community.name, self.seed, *what)

    # ------------------------------------------------------------------ requests
    def _new_session(self, rng) -> None:
        c = self.community
        self.listener: Listener = c.listeners[int(rng.integers(c.size))]
        self.recent: list[int] = []
        for _ in range(int(rng.integers(1, 4))):
            self.recent.append(c.sample_track(self.listener, rng, None, self.recent))
        self.last: int | None = None

    def _next_request(self, rng) -> None:
        """Choose the next request (new session or the same listener going on)."""
        if self.t == 0 or rng.random() < 1.0 / self.session:
            self._new_session(rng)
        c = self.community
        r = rng.random()
        self.kind = "seed" if r < self.p_seed else "text" if r < self.p_seed + self.p_text \
            else "history"
        if self.kind == "history":
            self.seed_idx = None
        elif self.last is not None:
            self.seed_idx = self.last
        else:
            self.seed_idx = c.sample_track(self.listener, rng, None, self.recent)
        self.exclude = sorted(set(self.recent) | ({self.seed_idx} if self.seed_idx is not None
                                                   else set()))
        cat = self.catalog
        text = None
        if self.kind == "seed":
            text = f"songs like {cat.tracks[self.seed_idx].label}"
        elif self.kind == "text":
            text = noisy_text(cat.tracks[self.seed_idx], _PyRandom(rng))
        # a history-only request has no free text: the recent listens say it all
        self.show_recent = not (self.kind == "text" and rng.random() < 0.5)
        self.text = text

    def _request(self, accepted: str | None = None, listened: str | None = None,
                 errors: list[str] | None = None, notes: list[str] | None = None) -> Request:
        ids = self.catalog.ids
        return Request(
            world="songs", community=self.community.name, listener=self.listener.id,
            step=self.t + 1, steps=self.max_steps,
            seed=ids[self.seed_idx] if self.kind == "seed" else None,
            recent=[ids[i] for i in self.recent] if self.show_recent else [],
            text=self.text, accepted=accepted, listened=listened,
            errors=list(errors or []), notes=list(notes or []))

    def _render(self, req: Request) -> str:
        return format_state(req, self.catalog, xml=self.xml)

    # ------------------------------------------------------------------ World API
    def reset(self, seed: int = 1) -> str:
        self.seed = int(seed)
        self._reset_stats()
        self._next_request(self._rng("request", 0))
        self._current = self._request()
        return self._render(self._current)

    def intent(self) -> np.ndarray:
        """p* of the current request (for tests and oracles)."""
        return self.community.intent(self.listener, self.seed_idx, self.exclude)

    def step(self, action: str) -> tuple[str, float, bool]:
        if self.done:
            req = self._request(errors=["the run has ended"])
            return self._render(req), 0.0, True
        k = self.t
        chk = check_action(action if isinstance(action, str) else "",
                           lambda x: self.catalog.index.get(x.strip()))
        rng_t = self._rng("target", k)
        p = self.intent()
        target = int(rng_t.choice(len(p), p=p))     # the song the listener meant to play
        self.t += 1
        if chk.error is not None:
            reward = INVALID_REWARD
            self.invalid += 1
            self.metrics.add(None, reward)
            self._account(reward)
            req = self._request(errors=[chk.error + f"; reward {INVALID_REWARD:g}; "
                                        "the same request again"])
            req.step = self.t + 1
            self.done = self.t >= self.max_steps
            if self.done:
                req = Request(world="songs", community=self.community.name,
                              listener=self.listener.id, step=self.t, steps=self.max_steps,
                              errors=req.errors, notes=["the run is over"])
            self._current = req
            return self._render(req), reward, self.done
        slate = chk.slate
        rank = next((r for r, j in enumerate(slate, 1) if j == target), None)
        pick = choose(p, slate, self._rng("choice", k))
        accepted = slate[pick] if pick is not None else None
        reward = (1.0 if accepted is not None else 0.0) - BAD_ENTRY_PENALTY * chk.bad
        reward = max(INVALID_REWARD, round(reward, 6))
        if chk.bad:
            self.penalised += 1
        if accepted is not None:
            self.accepted_n += 1
        self.metrics.add(rank, reward)
        self._account(reward)
        listened = accepted if accepted is not None else target
        self.recent = (self.recent + [listened])[-RECENT:]
        self.last = listened
        self.done = self.t >= self.max_steps
        ids = self.catalog.ids
        note = chk.note()
        acc_id = ids[accepted] if accepted is not None else None
        if self.done:   # the last state: the outcome, no new request
            req = Request(world="songs", community=self.community.name,
                          listener=self.listener.id, step=self.t, steps=self.max_steps,
                          accepted=acc_id, listened=ids[listened],
                          notes=([note] if note else []) + ["the run is over"])
        else:
            self._next_request(self._rng("request", self.t))
            req = self._request(accepted=acc_id, listened=ids[listened],
                                notes=[note] if note else None)
        self._current = req
        return self._render(req), reward, self.done

    def _account(self, reward: float) -> None:
        self.reward_sum += reward
        self.rewards.append(reward)

    def score(self) -> str:
        n = max(1, self.t)
        mean = self.reward_sum / n if self.t else 0.0
        return (f"{mean:.6f}\n"
                f"steps: {self.t}\n"
                f"mean_reward: {mean:.6f}\n"
                f"hr@10: {self.metrics.hr:.6f}\n"
                f"ndcg@10: {self.metrics.ndcg_mean:.6f}\n"
                f"accepted: {self.accepted_n}\n"
                f"invalid: {self.invalid}\n"
                f"penalised: {self.penalised}\n"
                f"community: {self.community.name}\n")

    def summary(self) -> dict:
        n = max(1, self.t)
        return {"steps": self.t, "mean_reward": self.reward_sum / n if self.t else 0.0,
                "hr@10": self.metrics.hr, "ndcg@10": self.metrics.ndcg_mean,
                "acceptance": self.accepted_n / n if self.t else 0.0,
                "invalid": self.invalid, "penalised": self.penalised,
                "community": self.community.name}

    def end(self) -> None:
        pass


class _PyRandom:
    """The few ``random.Random`` methods noisy_text uses, drawn from a numpy Generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())

    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def randrange(self, a, b=None):
        if b is None:
            a, b = 0, a
        return int(self.rng.integers(a, b))


def human_request(text: str, catalog: Catalog | None = None, xml: bool = False,
                  community: str = "", source=None) -> tuple[str, bool]:
    """A state for a person's free-text request ("songs like Enter Sandman", "any metal?"), for
    bridges such as the Mastodon one.  Returns ``(state, ok)``: a request naming a song gets its
    ``seed:``; one asking for an artist, genres, a mood or an era keeps only its text (the Mind
    reads it) with ``note:`` lines for what the catalog cannot honour (a genre it lacks, and the
    nearest it has; read against ``source``, default the process's knowledge graph, else the
    catalog).  Empty text, or text that asks for nothing the catalog knows, gives an
    ``error:`` line and ok False."""
    from .understand import interpret, notes
    cat = catalog or load_catalog()
    text = (text or "").strip()[:500]
    req = Request(world="songs", community=community, text=text or None)
    if not text:
        req.errors.append("empty request: ask for e.g. 'songs like Enter Sandman'")
        return format_state(req, cat, xml=xml), False
    it = interpret(cat, text, source)
    req.notes.extend(notes(cat, it, source))
    if it.song_id is not None and it.song_id in cat:
        req.seed = cat.canonical(it.song_id)
    elif it.kind == "plain" and it.words:
        req.errors.append(f"no song in the catalog matches {text[:80]!r}")
        return format_state(req, cat, xml=xml), False
    return format_state(req, cat, xml=xml), True
