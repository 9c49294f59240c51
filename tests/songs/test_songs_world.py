"""The song World: determinism, the choice model, scores, and bad actions."""
from __future__ import annotations

import numpy as np
import pytest

from wwm.songs.listeners import Community, choice_probabilities
from wwm.songs.request import parse_state
from wwm.songs.world import (BAD_ENTRY_PENALTY, INVALID_REWARD, SongWorld, check_action,
                             human_request)


def oracle_action(w: SongWorld) -> str:
    p = w.intent()
    return "\n".join(w.catalog.ids[i] for i in np.argsort(-p)[:10])


def play(w: SongWorld, seed: int, policy, steps: int):
    states, rewards = [w.reset(seed)], []
    for _ in range(steps):
        s, r, done = w.step(policy(w, states[-1]))
        states.append(s)
        rewards.append(r)
        if done:
            break
    return states, rewards


def first_ids_policy(w, state):
    req = parse_state(state)
    return "\n".join(x for x in w.catalog.ids[:10] if x not in req.history)


def test_same_seed_same_run_and_different_seeds_differ(catalog):
    a = play(SongWorld("metal", steps=30, catalog=catalog), 5, first_ids_policy, 30)
    b = play(SongWorld("metal", steps=30, catalog=catalog), 5, first_ids_policy, 30)
    c = play(SongWorld("metal", steps=30, catalog=catalog), 6, first_ids_policy, 30)
    assert a == b
    assert a[0] != c[0]


def test_communities_have_different_listeners(catalog):
    metal, club = Community(catalog, "metal"), Community(catalog, "club")
    g = list(catalog.genres)
    assert metal.pi[g.index("metal")] > 0.5 and club.pi[g.index("metal")] == 0
    # a listener's genre taste follows the community's mixture
    mt = np.mean([u.theta for u in metal.listeners], 0)
    ct = np.mean([u.theta for u in club.listeners], 0)
    assert mt[g.index("metal")] > 2 * ct[g.index("metal")]
    assert ct[g.index("deep-house")] > 2 * mt[g.index("deep-house")]
    # any name is a community of its own, the same every time
    a, b = Community(catalog, "zebra-node"), Community(catalog, "zebra-node")
    assert np.allclose(a.pi, b.pi) and np.allclose(a.listeners[3].base, b.listeners[3].base)
    assert not np.allclose(a.pi, Community(catalog, "other-node").pi)


def test_choice_model():
    p = np.full(100, 0.001)
    p[7] = 0.9
    probs, none = choice_probabilities(p / p.sum(), [7, 1, None, 2])
    assert abs(probs.sum() + none - 1) < 1e-12
    assert probs[2] == 0 and probs[0] > probs[1] > probs[3]
    later, _ = choice_probabilities(p / p.sum(), [1, 2, 7])      # position bias
    assert later[2] < probs[0]


def test_oracle_beats_random_and_score_lines(catalog):
    w = SongWorld("mixed", steps=60, catalog=catalog)
    _, r_oracle = play(w, 3, lambda w, s: oracle_action(w), 60)
    s_oracle = w.summary()
    rng = np.random.default_rng(0)
    _, r_rand = play(w, 3, lambda w, s: "\n".join(rng.choice(w.catalog.ids, 10, replace=False)),
                     60)
    assert np.mean(r_oracle) > 0.5 > 0.1 > np.mean(r_rand)
    assert s_oracle["hr@10"] > w.summary()["hr@10"]
    lines = w.score().splitlines()
    float(lines[0])
    keys = {ln.split(":")[0] for ln in lines[1:]}
    assert {"steps", "mean_reward", "hr@10", "ndcg@10", "invalid", "penalised"} <= keys


def test_run_ends_after_its_steps(catalog):
    w = SongWorld("mixed", steps=3, catalog=catalog)
    w.reset(1)
    dones = [w.step(oracle_action(w))[2] for _ in range(3)]
    assert dones == [False, False, True]
    s, r, done = w.step("anything")
    assert done and r == 0 and "error:" in s


@pytest.mark.parametrize("action, why", [
    ("", "empty"),
    ("   \n# only a comment\n", "empty"),
    ("not-an-id another-bad-one", "no known id"),
    ("<action><track id='x'></action>", "unreadable"),
    ('<!DOCTYPE a [<!ENTITY b "c">]><action>&b;</action>', "unreadable"),
    ("x" * 100000, "unreadable"),
    ("\x00\x01\x02", "no known id"),
])
def test_invalid_actions_get_minus_one_and_the_same_request(catalog, action, why):
    w = SongWorld("metal", steps=10, catalog=catalog)
    first = parse_state(w.reset(2))
    s, r, done = w.step(action)
    assert r == INVALID_REWARD and not done
    again = parse_state(s)
    assert any(why in e for e in again.errors)
    assert (again.listener, again.seed, again.recent, again.text) == \
        (first.listener, first.seed, first.recent, first.text)
    assert "invalid: 1" in w.score()


def test_over_long_list_is_invalid(catalog):
    w = SongWorld("metal", steps=10, catalog=catalog)
    w.reset(2)
    s, r, _ = w.step("\n".join(catalog.ids[:11]))
    assert r == INVALID_REWARD and "over-long" in s


def test_unknown_and_duplicate_ids_cost_a_penalty_each(catalog):
    w = SongWorld("metal", steps=10, catalog=catalog)
    w.reset(2)
    good = oracle_action(w).split()
    action = "\n".join([good[0], "bogus-id", good[0]] + good[1:7])
    s, r, _ = w.step(action)
    assert r in (1 - 2 * BAD_ENTRY_PENALTY, -2 * BAD_ENTRY_PENALTY)
    assert "1 unknown id(s) ignored" in s and "1 duplicate(s) ignored" in s
    chk = check_action(action, lambda x: catalog.index.get(x))
    assert chk.slate[1] is None and chk.slate[2] is None and chk.bad == 2


def test_xml_world(catalog):
    w = SongWorld("club", steps=5, catalog=catalog, xml=True)
    s = w.reset(1)
    assert s.startswith("<request") and parse_state(s).xml
    s, r, _ = w.step('<action>' + "".join(f'<track id="{i}"/>'
                                          for i in oracle_action(w).split()) + '</action>')
    assert r >= 0 and parse_state(s).listened in catalog


def test_states_are_human_readable(catalog):
    w = SongWorld("metal", steps=5, catalog=catalog)
    s = w.reset(4)
    assert "world: songs" in s and "listener: L" in s and " — " in s
    s2, _, _ = w.step(oracle_action(w))
    assert "accepted:" in s2 and "listened:" in s2


def test_human_request_states(catalog):
    s, ok = human_request("songs like Enter Sandman", catalog)
    assert ok and catalog.track(parse_state(s).seed).name == "Enter Sandman"
    s, ok = human_request("asdfghjkl qwerty", catalog)
    assert not ok and "error: no song in the catalog matches" in s
    s, ok = human_request("", catalog, xml=True)
    assert not ok and "<error>" in s
