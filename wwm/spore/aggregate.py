"""Aggregation rules for a learning group, and the adopt-only-if-not-worse check.

Every rule takes member states (``{name: tensor}`` with identical names and shapes) and returns
one state:

- ``fedavg``: the mean weighted by each member's sample count (McMahan et al. 2017);
- ``trimmed``: per coordinate, drop the ``trim`` fraction of highest and lowest values (at
  least one of each when there are three or more), then average (Yin et al. 2018); one x100 or
  random member among five cannot move it far;
- ``median``: the per-coordinate median (Yin et al. 2018).

A group chooses its rule (``RULES``).  :func:`adopt_if_better` loads the aggregate into the
learner only when the node's own held-out validation score does not drop.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch

__all__ = ["RULES", "fedavg", "trimmed_mean", "coordinate_median", "aggregate", "adopt_if_better"]

State = Mapping[str, torch.Tensor]


def _check(states: Sequence[State]) -> list[str]:
    if not states:
        raise ValueError("nothing to aggregate")
    names = sorted(states[0])
    for s in states[1:]:
        if sorted(s) != names or any(tuple(s[n].shape) != tuple(states[0][n].shape) for n in names):
            raise ValueError("member states differ in tensor names or shapes")
    return names


def fedavg(states: Sequence[State], samples: Sequence[float]) -> dict[str, torch.Tensor]:
    """Mean of ``states`` weighted by ``samples`` (all-zero counts: plain mean)."""
    names = _check(states)
    w = torch.tensor([max(0.0, float(x)) for x in samples], dtype=torch.float64)
    if len(w) != len(states):
        raise ValueError("one sample count per state")
    w = w / w.sum() if w.sum() > 0 else torch.full_like(w, 1.0 / len(w))
    return {n: sum(wi * s[n].double() for wi, s in zip(w, states)).float() for n in names}


def trimmed_mean(states: Sequence[State], trim: float = 0.2) -> dict[str, torch.Tensor]:
    """Per-coordinate mean after dropping ``floor(trim * n)`` values at each end (at least one when n >= 3)."""
    names = _check(states)
    n = len(states)
    k = max(int(math.floor(trim * n)), 1 if n >= 3 and trim > 0 else 0)  # small groups still drop one each end
    k = min(k, (n - 1) // 2)
    out = {}
    for name in names:
        stacked, _ = torch.sort(torch.stack([s[name].float() for s in states]), dim=0)
        out[name] = stacked[k:n - k].mean(0)
    return out


def coordinate_median(states: Sequence[State]) -> dict[str, torch.Tensor]:
    """Per-coordinate median (the mean of the two middle values for an even count)."""
    names = _check(states)
    return {name: torch.quantile(torch.stack([s[name].float() for s in states]), 0.5, dim=0)
            if len(states) > 1 else states[0][name].float().clone() for name in names}


RULES = ("fedavg", "trimmed", "median")


def aggregate(rule: str, states: Sequence[State], samples: Sequence[float], *, trim: float = 0.2):
    """Apply the group's ``rule`` (one of :data:`RULES`)."""
    if rule == "fedavg":
        return fedavg(states, samples)
    if rule == "trimmed":
        return trimmed_mean(states, trim)
    if rule == "median":
        return coordinate_median(states)
    raise ValueError(f"unknown aggregation rule {rule!r}")


def adopt_if_better(model: torch.nn.Module, candidate: State, evaluate: Callable[[], float],
                    *, tolerance: float = 0.0) -> dict:
    """Load ``candidate`` into ``model`` if ``evaluate()`` (higher is better) does not drop by more
    than ``tolerance``; else keep the old weights.  Returns the figures of the decision."""
    before_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    before = float(evaluate())
    model.load_state_dict(dict(candidate), strict=True)
    after = float(evaluate())
    adopted = after >= before - tolerance
    if not adopted:
        model.load_state_dict(before_state, strict=True)
    return {"adopted": adopted, "before": before, "after": after, "tolerance": tolerance}
