"""Request understanding measured on a fixed set of real-looking requests
(tests/songs/requests_set.jsonl: text, expected interpretation, split).

The set was written before the interpreter was tuned; the ``heldout`` part was never looked at
while tuning.  A request counts as understood when every field matches: the song (title and
first artist), the artist asked for, the genres, the era, the mood, and the genre the catalog
lacks (each absent unless expected)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from wwm.songs.understand import interpret

SET = Path(__file__).with_name("requests_set.jsonl")
FIELDS = ("song", "artist", "genre", "era", "mood", "missing")


def load_set() -> list[dict]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]


def observed(catalog, it) -> dict:
    t = catalog.tracks[it.song] if it.song is not None else None
    return {"song": f"{t.name} — {t.artist_list[0]}" if t else None,
            "artist": it.artist, "genre": "+".join(it.genres) or None, "era": it.era,
            "mood": it.mood, "missing": it.missing}


def accuracy(catalog, rows) -> tuple[float, list]:
    wrong = []
    for r in rows:
        got = observed(catalog, interpret(catalog, r["text"]))
        want = {f: r["expect"].get(f) for f in FIELDS}
        if got != want:
            wrong.append((r["text"], {f: (want[f], got[f]) for f in FIELDS if want[f] != got[f]}))
    return 1 - len(wrong) / len(rows), wrong


def test_the_set_is_large_and_names_real_songs(catalog):
    rows = load_set()
    assert len(rows) >= 100 and sum(r["split"] == "heldout" for r in rows) >= 30
    labels = {f"{t.name} — {t.artist_list[0]}" for t in catalog.tracks}
    artists = {a for t in catalog.tracks for a in t.artist_list}
    for r in rows:
        e = r["expect"]
        assert set(e) <= set(FIELDS), r
        assert e.get("song") is None or e["song"] in labels, r
        assert e.get("artist") is None or e["artist"] in artists, r
        assert e.get("genre") is None or e["genre"] in catalog.genres, r
        assert e.get("missing") is None or e["missing"] not in catalog.genres, r


# floors under the measured accuracy (tune 91/91, held out 41/44 when the set was first
# scored after tuning): a regression fails, an improvement does not need an edit
FLOOR = {"tune": 0.95, "heldout": 0.88}


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_request_understanding_accuracy(catalog, split, capsys):
    rows = [r for r in load_set() if r["split"] == split]
    acc, wrong = accuracy(catalog, rows)
    with capsys.disabled():
        print(f"\nrequest understanding, {split}: {acc:.3f} ({len(rows) - len(wrong)}/{len(rows)})")
        for text, diff in wrong:
            print(f"  {text!r}: {diff}")
    assert acc >= FLOOR[split]
