"""The online gate of the fungus Mind: it learns which score source predicts what is played."""
import numpy as np

from wwm.fungus.gate import OnlineGate


def test_gate_trusts_the_source_that_predicts_the_listened_item():
    rng = np.random.default_rng(0)
    gate = OnlineGate({"good": 0.1, "noise": 1.0})
    losses = []
    for _ in range(300):
        target = int(rng.integers(200))
        good = rng.normal(0, 1, 200)
        good[target] += 3.0                      # this source ranks the played item high
        Z = np.stack([good, rng.normal(0, 1, 200)])
        losses.append(gate.update(Z, target, exclude=[(target + 1) % 200]))
    w = gate.weights()
    assert w["good"] > 1.0 and w["noise"] < 0.5
    assert np.mean(losses[-50:]) < np.mean(losses[:50])


def test_gate_ignores_excluded_items_and_keeps_the_target():
    gate = OnlineGate({"a": 1.0})
    Z = np.array([[5.0, 0.0, 0.0]])
    # item 0 is the request's own song: excluded, so the target (1) competes with item 2 only
    assert abs(gate.update(Z, 1, exclude=[0, 1]) - np.log(2.0)) < 1e-9
