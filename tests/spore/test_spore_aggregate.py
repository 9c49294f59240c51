"""Aggregation rules on real model tensors, a poisoned member, and adopt-only-if-not-worse."""
from __future__ import annotations

import pytest
import torch

from sporekit import perturbed, small_model
from wwm.spore.aggregate import adopt_if_better, aggregate, coordinate_median, fedavg, trimmed_mean


def _distance(a, b) -> float:
    return float(sum(((a[k] - b[k]) ** 2).sum() for k in a) ** 0.5)


def test_fedavg_weights_by_sample_count():
    a, b = small_model(1).state_dict(), small_model(2).state_dict()
    out = fedavg([a, b], [30, 10])
    for k in a:
        assert torch.allclose(out[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-6)
    same = fedavg([a, b], [0, 0])  # no counts: a plain mean
    assert torch.allclose(same["out_bias"], (a["out_bias"] + b["out_bias"]) / 2)


def test_rules_refuse_mismatched_members():
    with pytest.raises(ValueError):
        fedavg([small_model().state_dict(), small_model(n_items=31).state_dict()], [1, 1])
    with pytest.raises(ValueError):
        aggregate("mean-of-whatever", [small_model().state_dict()], [1])


@pytest.mark.parametrize("attack", ["x100", "random"])
@pytest.mark.parametrize("rule", ["trimmed", "median"])
def test_robust_rules_resist_one_poisoned_member_of_five(rule, attack):
    base = small_model(0).state_dict()
    honest = [perturbed(base, 0.01, seed) for seed in range(4)]
    truth = fedavg(honest, [1] * 4)
    if attack == "x100":
        bad = {k: 100.0 * v for k, v in honest[0].items()}
    else:
        bad = perturbed({k: torch.zeros_like(v) for k, v in base.items()}, 10.0, 99)
    members = honest + [bad]
    robust = aggregate(rule, members, [1] * 5)
    naive = aggregate("fedavg", members, [1] * 5)
    spread = max(_distance(h, truth) for h in honest)
    assert _distance(robust, truth) <= spread          # stays among the honest members
    assert _distance(naive, truth) > 20 * spread       # while the plain mean is dragged away


def test_trimmed_and_median_agree_with_numpy_definitions():
    states = [{"w": torch.tensor([float(v), -float(v)])} for v in (5, 1, 3, 100, 2)]
    assert torch.allclose(trimmed_mean(states, 0.2)["w"], torch.tensor([10 / 3, -10 / 3]))
    assert torch.allclose(coordinate_median(states)["w"], torch.tensor([3.0, -3.0]))


def test_adopt_only_if_validation_does_not_drop():
    model = small_model(0)
    target = small_model(5).state_dict()

    def score() -> float:  # closeness to a reference model, a stand-in validation metric
        return -_distance(model.state_dict(), target)

    worse = perturbed(model.state_dict(), 1.0, 3)
    keep = {k: v.clone() for k, v in model.state_dict().items()}
    decision = adopt_if_better(model, worse, score)
    assert not decision["adopted"] and decision["after"] < decision["before"]
    assert all(torch.equal(model.state_dict()[k], keep[k]) for k in keep)  # old weights back
    better = fedavg([model.state_dict(), target], [1, 1])
    decision = adopt_if_better(model, better, score)
    assert decision["adopted"] and torch.equal(model.state_dict()["out_bias"], better["out_bias"])
