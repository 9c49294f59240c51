"""A replay World test run is read-only: no state reveals a held-out item, and no Mind learns
from a test state (so a later user is never scored by a Mind that saw an earlier one's test
item).  Train runs still reveal and teach."""
from __future__ import annotations

from wwm.fungus.mind import FungusMind
from wwm.songs.mindkit import RecommenderMind
from wwm.songs.replay import InteractionLog, ReplayWorld
from wwm.songs.request import parse_state

ROWS = [("u1", "a", 1), ("u1", "b", 2), ("u1", "c", 3), ("u2", "b", 1), ("u2", "c", 2),
        ("u2", "d", 3), ("u3", "a", 1), ("u3", "d", 2)]


def states_of(mode, xml=False):
    w = ReplayWorld(InteractionLog.from_rows(ROWS, name="tiny"), mode, xml=xml)
    out, done = [w.reset(1)], False
    while not done:
        s, _, done = w.step("a b c d")
        out.append(s)
    return w, out


def test_test_states_reveal_no_held_out_item():
    for xml in (False, True):
        w, states = states_of("test", xml)
        for s in states:
            req = parse_state(s)
            assert req.mode == "test" and req.listened is None and req.accepted is None
            assert "listened" not in s and "accepted" not in s
            if req.recent:                                  # the user's training part only
                assert req.recent == w.train[req.listener]
    _, train = states_of("train")
    assert any(parse_state(s).listened for s in train)


class Spy:
    def __init__(self):
        self.seen = []

    def recommend(self, req, k=10):
        return ["1", "2"]

    def observe(self, req, slate, reward, accepted, listened):
        self.seen.append(listened)


def run_mind(mind, states):
    for s in states:
        mind.act_text(s)


def test_minds_learn_nothing_from_a_test_run(ml100k_log):
    log = InteractionLog(name="ml-100k", sequences={u: ml100k_log.sequences[u]
                                                    for u in list(ml100k_log.sequences)[:30]},
                         items=ml100k_log.items)
    spy = Spy()
    mind = RecommenderMind(factory=lambda d: spy)
    w = ReplayWorld(log, "test")
    s, done = w.reset(1), False
    while not done:
        s, _, done = w.step(mind.act_text(s))
    assert spy.seen == [] and w.t == 30
    # a forged test state that does name an item teaches nothing either
    mind.act_text("world: replay ml-100k\nmode: test\nuser: 1\nhistory: 1 2 3\n")
    mind.act_text("world: replay ml-100k\nmode: test\nuser: 1\nlistened: 50\nhistory: 1 2\n")
    assert spy.seen == []
    # the same Mind in a train run learns from every revealed item
    w = ReplayWorld(log, "train", steps=20)
    s, done = w.reset(1), False
    while not done:
        s, r, done = w.step(mind.act_text(s))
    assert len(spy.seen) == 19 and all(spy.seen)


def test_fungus_weights_do_not_move_in_a_test_run(ml100k_log):
    log = InteractionLog(name="ml-100k", sequences={u: ml100k_log.sequences[u]
                                                    for u in list(ml100k_log.sequences)[:25]},
                         items=ml100k_log.items)
    mind = FungusMind(private=True, seed=0)
    w = ReplayWorld(log, "test")
    s, done = w.reset(1), False
    while not done:
        s, _, done = w.step(mind.act_text(s))
    rec = mind._private["ml-100k"]
    assert rec.learner.steps == 0 and len(rec.learner.buffer) == 0
