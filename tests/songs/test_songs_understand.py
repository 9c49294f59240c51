"""What the Minds answer to asks for an artist, a genre, a mood, a genre the catalog lacks, or
nothing in particular (over the real catalog)."""
from __future__ import annotations

import random

import pytest

from wwm.songs.baselines import BASELINES
from wwm.songs.mindkit import RecommenderMind
from wwm.songs.request import noisy_text, parse_action, parse_state
from wwm.songs.understand import interpret
from wwm.songs.world import human_request


def base_title(name: str) -> str:
    return name.split(" - ")[0].split(" (")[0].casefold()


def test_noisy_generated_requests_resolve_to_their_title(catalog):
    rng = random.Random(7)
    ok = 0
    for _ in range(200):
        t = catalog.tracks[rng.randrange(len(catalog))]
        it = interpret(catalog, noisy_text(t, rng))
        ok += it.song is not None and base_title(catalog.tracks[it.song].name) == base_title(t.name)
    assert ok >= 190


def answer(catalog, text, name="itemknn"):
    mind = RecommenderMind(factory=lambda d: BASELINES[name](d, seed=0))
    out = mind.act_text(f"world: songs\nrequest: {text}\n")
    return out, [catalog.track(i) for i in parse_action(out).ids]


@pytest.mark.parametrize("name", ["itemknn", "popularity"])
def test_a_genre_the_catalog_lacks_is_named_and_the_nearest_offered(catalog, name):
    out, tracks = answer(catalog, "any jazz tips?", name)
    assert "the catalog has no jazz" in out and "nearest: deep-house, hip-hop" in out
    assert len(tracks) == 10
    assert all({"deep-house", "hip-hop"} & set(t.genres) for t in tracks)


def test_an_artist_ask_gets_that_artists_songs(catalog):
    out, tracks = answer(catalog, "something by Metallica")
    assert "songs by Metallica" in out
    assert len(tracks) == 10 and all("Metallica" in t.artist_list for t in tracks)


def test_genre_mood_and_era_asks(catalog):
    out, tracks = answer(catalog, "90s rock")
    assert all("rock" in t.genres for t in tracks)
    assert "no release years" in out                 # the era cannot be honoured: said so
    _, sad = answer(catalog, "sad songs")
    _, happy = answer(catalog, "something happy")
    val = catalog.feature_names.index("valence")
    mean = lambda ts: sum(catalog.features[catalog.index[t.id], val] for t in ts) / len(ts)
    assert mean(sad) < 0 < mean(happy)


def test_a_plain_ask_does_not_seed_on_a_title(catalog):
    out, tracks = answer(catalog, "recommend me a song?")
    assert "no particular song asked" in out and len(tracks) == 10
    assert interpret(catalog, "recommend me a song?").kind == "plain"
    assert interpret(catalog, "sad songs").song is None
    it = interpret(catalog, "Thunder imagine dragons")
    assert catalog.tracks[it.song].label == "Thunder — Imagine Dragons"


def test_human_request_notes_what_the_catalog_lacks(catalog):
    s, ok = human_request("any jazz tips?", catalog)
    req = parse_state(s)
    assert ok and req.seed is None and any("no jazz" in n for n in req.notes)
    s, ok = human_request("Thunder imagine dragons", catalog, xml=True)
    assert ok and catalog.track(parse_state(s).seed).name == "Thunder"
