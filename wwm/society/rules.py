"""Arbitration rules of a society of Minds, as pure functions (Humphrys 1997; rank fusion).

Every rule takes the members' ballots for one state ``x`` and returns the
society's choice.  A :class:`Ballot` is what member ``i`` answered: its action
``a_i`` (or ranked list), its reported urgency ``w_i`` and Q-values
``Q_i(x, a)``, and the weight ``c_i`` the society gives it (default 1).

Rules on single actions:

* **highest W** (W-learning): obey ``k = argmax_i c_i W_i(x)``, where ``W_i`` is the
  member's reported ``w`` or else the W the society has learned for it
  (:func:`w_update`).
* **Maximize Collective Happiness**: ``argmax_a sum_i c_i Q_i(x, a)``.
* **Minimize the Worst Unhappiness**: ``argmin_a max_i c_i [Q_i(x, a_i) - Q_i(x, a)]``.
* **majority vote**: the action proposed with the most weight ``sum_{i: a_i = a} c_i``.

Rules on ranked lists (song recommendations), each giving a fused list:

* **Borda**: an item at 0-based rank ``p`` of member ``i`` scores ``c_i (L - p)`` where
  ``L`` is the longest list's length; unlisted items score 0.
* **reciprocal rank fusion** (Cormack, Clarke & Buettcher 2009):
  ``score(d) = sum_i c_i / (k + r_i(d))`` with ``r_i`` the 1-based rank, ``k = 60``.

Q-values a member did not report are filled in (:func:`q_table`): a member that
reports none has the *implicit* ``Q_i(a) = 1`` for its own action and ``0`` for
every other (so Collective Happiness becomes a vote); for a ranked list, the
implicit ``Q_i`` of the item at rank ``p`` of ``n`` is ``(n - p) / n``.  A member
that reports some Q-values gives its own action ``max`` of them when it left
that out, and every other unreported candidate ``min`` of them.

Ties are broken in a fixed order, so a society is deterministic: by the
second criterion named in each function, then by the order in which the
candidates were first proposed (member order in the society file).
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Ballot", "candidates", "q_table", "highest_w", "w_update", "collective",
           "worst_unhappiness", "vote", "borda", "rrf", "fuse_ranked", "RULES"]

RULES = ("w-learning", "collective", "worst-unhappiness", "vote", "borda", "rrf")


@dataclass
class Ballot:
    """One member's answer for one state.

    Attributes:
        member: the member's name.
        action: the action's key (see :func:`wwm.protocol.annotations.action_key`).
        weight: ``c_i``, the weight the society gives the member.
        w: the urgency the member reported, or None.
        q: the Q-values it reported, by action key (or item id).
        items: its ranked list, best first (ranked lists only).
    """

    member: str
    action: str
    weight: float = 1.0
    w: float | None = None
    q: dict[str, float] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)


def candidates(ballots: list[Ballot], ranked: bool = False) -> list[str]:
    """Every action (or item) any member proposed or valued, in order of first mention."""
    seen: dict[str, None] = {}
    for b in ballots:
        for a in (b.items if ranked else [b.action]):
            seen.setdefault(a)
    for b in ballots:
        for a in b.q:
            seen.setdefault(a)
    return list(seen)


def q_table(ballot: Ballot, cands: list[str], ranked: bool = False) -> dict[str, float]:
    """``Q_i(x, a)`` for every candidate ``a``, filling in what the member did not report.

    >>> q_table(Ballot("m", "b"), ["a", "b"])
    {'a': 0.0, 'b': 1.0}
    >>> q_table(Ballot("m", "b", q={"a": 0.5, "c": 0.2}), ["a", "b", "c", "d"])
    {'a': 0.5, 'b': 0.5, 'c': 0.2, 'd': 0.2}
    """
    if not ballot.q:
        if ranked:
            n = len(ballot.items)
            rank = {item: p for p, item in reversed(list(enumerate(ballot.items)))}
            return {a: ((n - rank[a]) / n if a in rank else 0.0) for a in cands}
        return {a: (1.0 if a == ballot.action else 0.0) for a in cands}
    low, high = min(ballot.q.values()), max(ballot.q.values())
    own = set(ballot.items) if ranked else {ballot.action}
    return {a: ballot.q.get(a, high if a in own and not ranked else low) for a in cands}


def own_q(ballot: Ballot, ranked: bool = False) -> float:
    """``Q_i(x, a_i)``: the value of the member's own action (its top item for a list)."""
    cands = candidates([ballot], ranked)
    own = ballot.items[0] if ranked and ballot.items else ballot.action
    return q_table(ballot, cands, ranked)[own]


# -- W-learning ---------------------------------------------------------------


def highest_w(ballots: list[Ballot], learned: dict[str, float] | None = None) -> tuple[int, list[float]]:
    """Highest W: the index ``k = argmax_i c_i W_i`` of the member to obey.

    ``W_i`` is the member's reported ``w`` if it gave one, else ``learned[member]``
    (0 when unknown).  Ties go to the earlier member.

    Returns:
        ``(k, [c_i W_i for each ballot])``.

    >>> highest_w([Ballot("a", "1", w=0.2), Ballot("b", "2"), Ballot("c", "3", weight=2, w=0.15)],
    ...           {"b": 0.25})
    (2, [0.2, 0.25, 0.3])
    """
    learned = learned or {}
    scores = [b.weight * (b.w if b.w is not None else learned.get(b.member, 0.0)) for b in ballots]
    k = max(range(len(ballots)), key=lambda i: (scores[i], -i))
    return k, scores


def w_update(w: float, q_own: float, reward: float, q_next_max: float, alpha: float = 0.1,
             gamma: float = 0.9) -> float:
    """One W-learning step for a member that was not obeyed (Humphrys 1997, ch. 5)::

        W_i(x) <- (1 - alpha) W_i(x) + alpha (Q_i(x, a_i) - (r + gamma max_b Q_i(y, b)))

    ``Q_i(x, a_i)`` is what the member expected from its own action; ``r + gamma
    max_b Q_i(y, b)`` is what it got from the action the society took instead.
    Their difference is the loss it suffered by not being obeyed; W converges
    to its expected value, so the member that would lose most gets obeyed.

    >>> round(w_update(0.0, 1.0, 0.0, 0.5, alpha=0.5, gamma=0.9), 6)
    0.275
    """
    return (1.0 - alpha) * w + alpha * (q_own - (reward + gamma * q_next_max))


# -- Collective Happiness, Worst Unhappiness, vote --------------------------------------


def _first_best(order: list[str], key) -> str:
    """The candidate with the highest ``key``; ties to the earliest in ``order``."""
    return max(enumerate(order), key=lambda ia: (key(ia[1]), -ia[0]))[1]


def collective(ballots: list[Ballot], ranked: bool = False) -> tuple[str, dict[str, float]]:
    """Maximize Collective Happiness: ``argmax_a sum_i c_i Q_i(x, a)``.

    Ties: the action proposed by more weight, then the earliest proposed.

    Returns:
        ``(action, {a: sum_i c_i Q_i(x, a)})``.

    >>> collective([Ballot("a", "L", q={"L": 3, "R": 0}), Ballot("b", "R", q={"L": 1, "R": 2}),
    ...             Ballot("c", "R", q={"L": 1, "R": 2})])
    ('L', {'L': 5.0, 'R': 4.0})
    """
    cands = candidates(ballots, ranked)
    totals = {a: 0.0 for a in cands}
    for b in ballots:
        for a, v in q_table(b, cands, ranked).items():
            totals[a] += b.weight * v
    support = _support(ballots)
    return _first_best(cands, lambda a: (totals[a], support.get(a, 0.0))), totals


def worst_unhappiness(ballots: list[Ballot], ranked: bool = False) -> tuple[str, dict[str, float]]:
    """Minimize the Worst Unhappiness: ``argmin_a max_i c_i [Q_i(x, a_i) - Q_i(x, a)]``.

    Member ``i``'s unhappiness with ``a`` is what it loses when ``a`` is taken
    instead of its own ``a_i`` (for a ranked list, its top item).  Ties: the
    higher collective happiness, then the earliest proposed.

    Returns:
        ``(action, {a: max_i c_i [Q_i(x, a_i) - Q_i(x, a)]})``.
    """
    cands = candidates(ballots, ranked)
    worst = {a: 0.0 for a in cands}
    happy = {a: 0.0 for a in cands}
    for b in ballots:
        table = q_table(b, cands, ranked)
        mine = table[b.items[0] if ranked and b.items else b.action]
        for a in cands:
            worst[a] = max(worst[a], b.weight * (mine - table[a]))
            happy[a] += b.weight * table[a]
    return _first_best(cands, lambda a: (-worst[a], happy[a])), worst


def _support(ballots: list[Ballot]) -> dict[str, float]:
    support: dict[str, float] = {}
    for b in ballots:
        support[b.action] = support.get(b.action, 0.0) + b.weight
    return support


def vote(ballots: list[Ballot]) -> tuple[str, dict[str, float]]:
    """Majority (plurality) vote: the action with the most weight ``sum_{i: a_i = a} c_i``.

    Ties: the earliest proposed.

    >>> vote([Ballot("a", "50"), Ballot("b", "37"), Ballot("c", "37")])
    ('37', {'50': 1.0, '37': 2.0})
    """
    support = _support(ballots)
    order = list(support)
    return _first_best(order, lambda a: support[a]), support


# -- rank fusion --------------------------------------------------------------------------


def borda(ballots: list[Ballot]) -> dict[str, float]:
    """Borda count: item at 0-based rank ``p`` in member ``i``'s list scores ``c_i (L - p)``,
    ``L`` the longest list's length.

    >>> borda([Ballot("a", "", items=["x", "y", "z"]), Ballot("b", "", items=["y", "x"])])
    {'x': 5.0, 'y': 5.0, 'z': 1.0}
    """
    longest = max((len(b.items) for b in ballots), default=0)
    scores: dict[str, float] = {}
    for b in ballots:
        seen = set()
        for p, item in enumerate(b.items):
            if item in seen:
                continue  # a repeated item counts at its best rank only
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + b.weight * (longest - p)
    return scores


def rrf(ballots: list[Ballot], k: float = 60.0) -> dict[str, float]:
    """Reciprocal rank fusion: ``score(d) = sum_i c_i / (k + r_i(d))``, ``r_i`` 1-based.

    >>> s = rrf([Ballot("a", "", items=["x", "y"]), Ballot("b", "", items=["y"])], k=1)
    >>> s == {"x": 1 / 2, "y": 1 / 3 + 1 / 2}
    True
    """
    scores: dict[str, float] = {}
    for b in ballots:
        seen = set()
        for p, item in enumerate(b.items):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + b.weight / (k + p + 1)
    return scores


def _best_rank(ballots: list[Ballot]) -> dict[str, int]:
    best: dict[str, int] = {}
    for b in ballots:
        for p, item in enumerate(b.items):
            best[item] = min(best.get(item, p), p)
    return best


def fuse_ranked(ballots: list[Ballot], rule: str, size: int | None = None, k: float = 60.0,
                learned: dict[str, float] | None = None) -> tuple[list[str], dict[str, float]]:
    """A fused ranked list under ``rule`` (any of :data:`RULES`), best first, ``size`` long.

    * ``borda``, ``rrf``: by their scores.
    * ``collective``: by ``sum_i c_i Q_i(x, d)``; ``worst-unhappiness``: by
      ``max_i c_i [Q_i(x, top_i) - Q_i(x, d)]``, lowest first.
    * ``vote``: approval voting, by the weight of the lists that hold ``d``.
    * ``w-learning``: the list of the member with the highest W, unchanged.

    Ties: higher Borda score, then the best rank any member gave, then first mention.
    ``size`` defaults to the longest member list.

    Returns:
        ``(items, {item: score})`` (for w-learning the scores are ``c_i W_i`` by member).
    """
    if not ballots:
        return [], {}
    size = size or max(len(b.items) for b in ballots)
    if rule == "w-learning":
        k_, scores = highest_w(ballots, learned)
        return ballots[k_].items[:size], {b.member: s for b, s in zip(ballots, scores)}
    cands = candidates(ballots, ranked=True)
    if rule == "borda":
        scores = borda(ballots)
    elif rule == "rrf":
        scores = rrf(ballots, k)
    elif rule == "collective":
        scores = collective(ballots, ranked=True)[1]
    elif rule == "worst-unhappiness":
        scores = {a: -u for a, u in worst_unhappiness(ballots, ranked=True)[1].items()}
    elif rule == "vote":
        scores = {}
        for b in ballots:
            for item in set(b.items):
                scores[item] = scores.get(item, 0.0) + b.weight
    else:
        raise ValueError(f"unknown rule {rule!r}; one of {', '.join(RULES)}")
    tie = borda(ballots)
    best = _best_rank(ballots)
    order = {a: n for n, a in enumerate(cands)}
    ranked = sorted(cands, key=lambda a: (-scores.get(a, 0.0), -tie.get(a, 0.0),
                                          best.get(a, 1 << 30), order[a]))
    return ranked[:size], {a: scores.get(a, 0.0) for a in ranked}
