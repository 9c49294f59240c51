"""Where a song request's names, genres and candidate songs come from: the in-memory catalog, or
the knowledge graph (``wwm.knowledge``) when a node keeps the catalog there.

    SongSource
      songs() -> SongList | Catalog     the titles, artists, popularity and genres requests are read against
      genres() -> tuple[str, ...]       the genres that have songs (what is asked for and missing is told from it)
      by_artist(name) -> [song id]      an artist's songs (normalised name, exact)
      in_genres(genres) -> [song id]    songs of any of these genres
    CatalogSource(catalog)   the catalog in memory (offline, tests, a Mind with no graph)
    GraphSource(store)       parameterised SPARQL over a KnowledgeStore holding the catalog
                             (``wwm.knowledge.writers.record_catalog``)

One interpreter (:mod:`wwm.songs.understand`) reads requests against either.  The graph's song
list is loaded once (a few queries), kept, and loaded again when the catalog's fingerprint in the
graph changes (checked at most every ``refresh`` seconds); artist and genre asks are answered by
a query each time.  Values are bound with VALUES blocks, never formatted into the text.

:func:`default_source` is what request code uses when it is not given a source: the graph that
was installed with :func:`use_graph` (a node does, when its graph holds the catalog), else the one
named by ``$WWM_SONGS_GRAPH`` (a SPARQL endpoint URL, e.g. a node's ``/sparql``), else the catalog.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from .catalog import Catalog, normalize

__all__ = ["Song", "SongList", "SongSource", "CatalogSource", "GraphSource", "use_graph", "default_graph", "default_source"]


@dataclass(frozen=True)
class Song:
    """A song as requests are read against it (the part of ``catalog.Track`` they need)."""
    id: str
    name: str
    artist_list: tuple[str, ...]
    popularity: int
    genres: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.name} — {', '.join(self.artist_list)}"


class SongList:
    """Songs in song-id order, with ``index`` mapping every id (aliases too) to a row: shaped like
    :class:`~wwm.songs.catalog.Catalog` where the text matcher and the interpreter read it."""

    def __init__(self, songs: list[Song], aliases: dict[str, str]):
        self.tracks = sorted(songs, key=lambda s: s.id)
        self.ids = [s.id for s in self.tracks]
        self.index = {t: i for i, t in enumerate(self.ids)}
        self.index.update({a: self.index[s] for a, s in aliases.items() if s in self.index})
        self.genres = tuple(sorted({g for s in self.tracks for g in s.genres}))

    def __len__(self) -> int:
        return len(self.tracks)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.index


class SongSource:
    """The interface (see the module docstring)."""

    def songs(self):
        raise NotImplementedError

    def genres(self) -> tuple[str, ...]:
        return self.songs().genres

    def by_artist(self, name: str) -> list[str]:
        raise NotImplementedError

    def in_genres(self, genres) -> list[str]:
        raise NotImplementedError


class CatalogSource(SongSource):
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def songs(self) -> Catalog:
        return self.catalog

    def by_artist(self, name: str) -> list[str]:
        from .request import matcher_for

        return [self.catalog.ids[i] for i in matcher_for(self.catalog)._artists.get(normalize(name), ())]

    def in_genres(self, genres) -> list[str]:
        c = self.catalog
        cols = [c.genres.index(g) for g in genres if g in c.genres]
        return [c.ids[i] for i in np.flatnonzero(c.genre_matrix[:, cols].sum(1) > 0)] if cols else []


_P = "PREFIX wwm: <https://w3id.org/wwm/ns#>  PREFIX schema: <https://schema.org/>\n"
_SONGS = _P + "SELECT ?id ?name ?pop WHERE { ?s a schema:MusicRecording ; wwm:songId ?id ; schema:name ?name ; " \
              "wwm:popularity ?pop }"
_ARTISTS = _P + "SELECT ?id ?artist WHERE { ?s a schema:MusicRecording ; wwm:songId ?id ; " \
                "schema:byArtist/schema:name ?artist }"
_GENRES = _P + "SELECT ?id ?genre WHERE { ?s a schema:MusicRecording ; wwm:songId ?id ; schema:genre ?genre }"
_ALIASES = _P + "SELECT ?id ?alias WHERE { ?s a schema:MusicRecording ; wwm:songId ?id ; wwm:spotifyId ?alias " \
                "FILTER(?alias != ?id) }"
_BY_ARTIST = _P + "SELECT DISTINCT ?id WHERE { ?s schema:byArtist/wwm:normalizedName ?artist ; " \
                  "a schema:MusicRecording ; wwm:songId ?id } ORDER BY ?id"
_IN_GENRES = _P + "SELECT DISTINCT ?id WHERE { ?s schema:genre ?genre ; a schema:MusicRecording ; " \
                  "wwm:songId ?id } ORDER BY ?id"


class GraphSource(SongSource):
    """The catalog as the knowledge graph holds it.

    Args:
        store: a :class:`wwm.knowledge.store.KnowledgeStore` (embedded, or any SPARQL endpoint).
        refresh: seconds between checks of the graph's catalog fingerprint.
    """

    def __init__(self, store, refresh: float = 5.0):
        self.store, self.refresh = store, refresh
        self._songs: SongList | None = None
        self._fingerprint: str | None = None
        self._checked = -float("inf")
        self._genre_songs: dict[tuple, list[str]] = {}  # kept while the catalog is the same (few genres)
        self._lock = threading.Lock()

    def songs(self) -> SongList:
        from wwm.knowledge.writers import catalog_fingerprint

        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.refresh:
                fingerprint = catalog_fingerprint(self.store)
                self._checked = now
                if fingerprint is None:
                    self._songs = None
                elif self._songs is None or fingerprint != self._fingerprint:
                    self._songs, self._fingerprint = self._load(), fingerprint
                    self._genre_songs = {}
            if self._songs is None:
                raise LookupError("the knowledge graph holds no song catalog (wwm graph sync --catalog)")
            return self._songs

    def _load(self) -> SongList:
        q = self.store.query
        names = {str(r.id): (str(r.name), int(r.pop)) for r in q(_SONGS)}
        artists: dict[str, list[str]] = {}
        for r in q(_ARTISTS):
            artists.setdefault(str(r.id), []).append(str(r.artist))
        genres: dict[str, list[str]] = {}
        for r in q(_GENRES):
            genres.setdefault(str(r.id), []).append(str(r.genre))
        aliases = {str(r.alias): str(r.id) for r in q(_ALIASES)}
        return SongList([Song(i, name, tuple(sorted(artists.get(i, ()))), pop, tuple(sorted(genres.get(i, ()))))
                         for i, (name, pop) in names.items()], aliases)

    def by_artist(self, name: str) -> list[str]:
        from rdflib import Literal

        return [str(r.id) for r in self.store.query(_BY_ARTIST, {"artist": Literal(normalize(name))})]

    def in_genres(self, genres) -> list[str]:
        from rdflib import Literal

        self.songs()  # a changed catalog empties the cache
        key = tuple(sorted(set(map(str, genres))))
        if key not in self._genre_songs:
            found = self.store.query(_IN_GENRES, {"genre": [Literal(g) for g in key]}) if key else []
            self._genre_songs[key] = [str(r.id) for r in found]
        return self._genre_songs[key]


_GRAPH: list = [None]          # the process's graph source, installed with use_graph
_ENV: dict[str, GraphSource] = {}


def use_graph(store) -> GraphSource | None:
    """Resolve this process's song requests through ``store`` (None: back to the catalog)."""
    _GRAPH[0] = GraphSource(store) if store is not None else None
    return _GRAPH[0]


def default_graph() -> GraphSource | None:
    """The graph installed with :func:`use_graph`, if any."""
    return _GRAPH[0]


def default_source(catalog: Catalog) -> SongSource:
    """The installed graph, else ``$WWM_SONGS_GRAPH``'s, else ``catalog`` itself (see the module docstring)."""
    if _GRAPH[0] is not None:
        return _GRAPH[0]
    url = os.environ.get("WWM_SONGS_GRAPH")
    if url:
        if url not in _ENV:
            from wwm.knowledge.store import RemoteStore

            _ENV[url] = GraphSource(RemoteStore(url))
        return _ENV[url]
    return CatalogSource(catalog)  # holds nothing but the catalog: made afresh
