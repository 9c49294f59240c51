"""One song, one id: no Mind answers a song with itself under another id, and the listener model
never counts a song's other releases as a new song."""
from __future__ import annotations

import numpy as np
import pytest

from wwm.songs.baselines import BASELINES
from wwm.songs.catalog import song_key
from wwm.songs.mindkit import RecommenderMind
from wwm.songs.request import parse_action, parse_state
from wwm.songs.world import SongWorld, check_action, human_request


def keys_of(catalog, ids):
    return [song_key(catalog.track(i).name, catalog.track(i).artists) for i in ids]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_songs_like_bones_never_answers_bones(catalog, name):
    mind = RecommenderMind(factory=lambda d: BASELINES[name](d, seed=0))
    state, ok = human_request("Songs like Bones", catalog)
    assert ok
    seed = parse_state(state).seed
    assert catalog.track(seed).name == "Bones"
    ids = parse_action(mind.act_text(state)).ids
    assert len(ids) == 10 and len(set(keys_of(catalog, ids))) == 10
    assert song_key("Bones", "Imagine Dragons") not in keys_of(catalog, ids)


@pytest.mark.parametrize("name", ["itemknn", "fungus"])
def test_a_seed_named_by_an_alias_is_left_out(catalog, name):
    """A request naming another release of a song: the Minds resolve it to the song."""
    from wwm.fungus.mind import FungusMind
    alias, song = next(iter(sorted(catalog.aliases.items())))
    mind = FungusMind(private=True) if name == "fungus" else \
        RecommenderMind(factory=lambda d: BASELINES["itemknn"](d, seed=0))
    by_alias = parse_action(mind.act_text(f"world: songs\nseed: {alias}\n")).ids
    by_song = parse_action(mind.act_text(f"world: songs\nseed: {song}\n")).ids
    assert by_alias == by_song and len(by_alias) == 10
    assert song not in by_alias and alias not in by_alias
    key = song_key(catalog.track(song).name, catalog.track(song).artists)
    assert key not in keys_of(catalog, by_alias)


def test_listener_never_takes_the_seed_under_another_id(catalog):
    w = SongWorld("metal", steps=400, catalog=catalog)
    w.reset(3)
    seen_alias = 0
    for _ in range(400):
        req = parse_state(w._render(w._current))
        p = w.intent()
        for tid in req.history:
            i = catalog.index[tid]
            assert p[i] == 0                     # no request's own song is a next song
        aliases = [a for a, t in catalog.aliases.items() if t in req.history]
        seen_alias += bool(aliases)
        # a list of only the request's songs under their other ids is worth nothing
        action = "\n".join(aliases[:10]) or catalog.ids[0]
        _, r, done = w.step(action)
        if aliases:
            assert r <= 0
        if done:
            break
    assert seen_alias > 0


def test_an_alias_beside_its_song_is_a_duplicate(catalog):
    alias, song = next(iter(sorted(catalog.aliases.items())))
    chk = check_action(f"{song}\n{alias}\n", lambda x: catalog.index.get(x))
    assert chk.slate == [catalog.index[song], None] and chk.duplicates == [alias]


def test_intent_is_a_distribution_over_songs(catalog):
    w = SongWorld("mixed", steps=5, catalog=catalog)
    w.reset(1)
    p = w.intent()
    assert p.shape == (len(catalog),) and abs(p.sum() - 1) < 1e-9 and np.all(p >= 0)
