"""The fungus model and its online learning from the World's feedback."""
from __future__ import annotations

import numpy as np
import torch

from wwm.fungus.learner import FungusLearner
from wwm.fungus.mind import FungusMind
from wwm.fungus.model import FungusModel
from wwm.songs.request import parse_action, parse_state
from wwm.songs.world import SongWorld


def test_model_shapes_and_empty_history():
    feats = np.eye(6)[np.arange(20) % 6]
    m = FungusModel(20, dim=8, hidden=16, max_history=4, item_features=feats)
    out = m(torch.tensor([[0, 0, 3, 5], [0, 0, 0, 0]]))
    assert out.shape == (2, 20) and torch.isfinite(out).all()
    long = m(torch.tensor([[1, 2, 3, 4, 5, 6, 7]]))          # longer than max_history: clipped
    assert long.shape == (1, 20)


def test_cold_start_ranks_by_feature_similarity():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 10))
    feats[17] = feats[4] * 2.0                               # same direction as item 4
    lrn = FungusLearner([f"t{i}" for i in range(50)], feats, dim=16, hidden=32, seed=0)
    assert lrn.recommend(["t4"], 1) == ["t17"]


def test_observing_the_revealed_item_raises_its_probability():
    items = [f"t{i}" for i in range(30)]
    lrn = FungusLearner(items, None, dim=8, hidden=16, max_history=5, batch=1, seed=0,
                        online_lr=0.01, dropout=0.0)
    hist = ["t1", "t2"]

    def prob(x):
        s = lrn.scores(hist)
        s[[1, 2]] = -np.inf
        p = np.exp(s - s[np.isfinite(s)].max())
        return p[items.index(x)] / p[np.isfinite(p)].sum()
    before = prob("t9")
    for _ in range(20):
        lrn.observe(hist, "t9")
    assert prob("t9") > 5 * before
    assert lrn.recommend(hist, 1) == ["t9"]
    # rejection (reward 0, nothing accepted): the shown items lose probability
    shown = lrn.recommend(hist, 3)
    p0 = sum(prob(x) for x in shown)
    for _ in range(10):
        lrn.observe(hist, "t20", slate=shown, reward=0.0, accepted=None)
    assert sum(prob(x) for x in shown) < p0
    assert lrn.observe(hist, "not-an-item") is None            # unknown ids: no update


def run(world, mind, seed, steps):
    s, r, rewards = world.reset(seed), None, []
    for _ in range(steps):
        s, r, done = world.step(mind.act_text(s, r))
        rewards.append(r)
        if done:
            break
    return float(np.mean(rewards))


def test_fungus_learns_in_the_song_world(catalog):
    """Reward rises: the same Mind before and after 600 steps of learning, judged on the same
    held-out requests (another seed) with learning switched off."""
    torch.set_num_threads(1)
    mind = FungusMind(private=True, seed=0)
    world = SongWorld("metal", steps=10000, catalog=catalog)
    rec = mind.recommender(__import__("wwm.songs.mindkit", fromlist=["x"]).get_domain("songs"))
    rec.learning = False
    before = run(world, mind, 99, 200)
    rec.learning = True
    run(world, mind, 1, 600)
    rec.learning = False
    after = run(world, mind, 99, 200)
    assert rec.learner.samples >= 590
    assert after > before + 0.05, (before, after)


def test_fungus_mind_answers_every_kind_of_request(catalog):
    mind = FungusMind(private=True, seed=0)
    ids = catalog.ids
    for state in ["world: songs\nrequest: songs like enter sandman\n",
                  "world: songs\nrequest: qwertyuiop zxcvb\n",          # unmatched text
                  "world: songs\n", "", "<request world='songs'/>", "\x00garbage",
                  f"world: songs\nseed: {ids[0]}\nrecent: {ids[1]}\nrecent: nope\n",
                  "<request world='songs'><text>songs like Enter Sandman</text></request>"]:
        action = mind.act_text(state)
        got = parse_action(action).ids
        if parse_state(state).world == "songs":
            assert 1 <= len(got) <= 10 and len(set(got)) == len(got)
            assert all(x in catalog for x in got)
    assert mind.act_text("world: chess\n").startswith("#")              # not its World


def test_fungus_runs_are_deterministic_under_a_seed(catalog):
    torch.set_num_threads(1)

    def actions(seed):
        mind = FungusMind(private=True, seed=seed)
        world = SongWorld("club", steps=25, catalog=catalog)
        s, r, out = world.reset(7), None, []
        for _ in range(25):
            a = mind.act_text(s, r)
            out.append(a)
            s, r, _ = world.step(a)
        return out, world.score()
    assert actions(3) == actions(3)


def test_fungus_songs_memory_learns_co_listening_at_once(catalog):
    """The co-listening memory: one listener playing A then B makes B rank first after A."""
    from wwm.songs.mindkit import get_domain
    from wwm.songs.request import Request
    mind = FungusMind(private=True, seed=0)
    rec = mind.recommender(get_domain("songs"))
    a, b = catalog.ids[10], catalog.ids[3000]
    before = rec.recommend(Request(world="songs", seed=a), 10)
    assert b not in before
    rec.observe(Request(world="songs", listener="L1", seed=a), before, 0.0, None, b)
    assert rec.recommend(Request(world="songs", seed=a), 10)[0] == b
