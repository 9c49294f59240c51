"""When a node moves to another learning group: measured gain, threshold, hysteresis, cooldown, capacity.

The node scores its current model and, for every candidate group, the group's current model
merged with its own (what joining would give it) on its own held-out validation requests (never on what the groups say of themselves), then
:func:`decide` applies the policy:

- move only when the best candidate beats the current model by more than ``threshold``;
- to go back to a group the node left less than ``memory`` rounds ago, it must beat it by
  ``threshold + hysteresis`` (no ping-pong between two groups of equal worth);
- no move within ``cooldown`` rounds of the last one (its new group needs time to help);
- full groups (``capacity`` members) are not candidates.

The returned record holds every figure, so that the decision can be replayed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["MigrationPolicy", "Candidate", "decide"]


@dataclass(frozen=True)
class MigrationPolicy:
    threshold: float = 0.005   # least gain (in the validation metric) worth a move
    hysteresis: float = 0.01   # extra gain needed to return to a group left recently
    cooldown: int = 2          # rounds after a move with no other move
    memory: int = 10           # how many rounds a left group counts as "recently left"
    capacity: int = 8          # most members of a group (the host refuses more)


@dataclass
class Candidate:
    group: str                 # the group actor's id
    score: float               # its model (merged with the node's) on the node's own validation requests
    members: int = 0
    model: str | None = None   # its model's SHA-256
    extra: dict = field(default_factory=dict)


def decide(policy: MigrationPolicy, *, current: str | None, current_score: float, candidates: list[Candidate],
           round_no: int, last_move: int | None, left: dict[str, int]) -> dict:
    """Stay or move; returns ``{"action": "stay"|"move", "to", "gain", "reason", ...figures}``.

    Args:
        current: the node's group (None: on its own).
        current_score: the node's own model on its validation requests.
        candidates: the other groups, scored the same way.
        round_no: the node's round counter; ``last_move`` the round of its last move.
        left: group id -> the round the node left it.
    """
    record = {"action": "stay", "from": current, "to": None, "gain": None, "round": round_no,
              "current_score": current_score, "policy": asdict(policy),
              "candidates": [asdict(c) for c in candidates]}
    if last_move is not None and round_no - last_move < policy.cooldown:
        record["reason"] = f"cooldown: moved {round_no - last_move} round(s) ago"
        return record
    best, best_gain, best_need = None, None, None
    for c in candidates:
        if c.group == current:
            continue
        if c.members >= policy.capacity:
            continue
        need = policy.threshold
        if c.group in left and round_no - left[c.group] < policy.memory:
            need += policy.hysteresis
        gain = c.score - current_score
        if gain > need and (best_gain is None or gain - need > best_gain - best_need):
            best, best_gain, best_need = c, gain, need
    if best is None:
        open_ = [c for c in candidates if c.group != current and c.members < policy.capacity]
        gains = [round(c.score - current_score, 6) for c in open_]
        record["reason"] = ("no other open group" if not open_ else
                            f"no gain above the threshold (best {max(gains):+.4f})")
        return record
    record.update(action="move", to=best.group, gain=best_gain, need=best_need,
                  reason=f"gain {best_gain:+.4f} > {best_need:.4f}")
    return record
