"""What goes into the graph: servers from manifests, runs from the scoreboard, the song catalog,
nodes, learning groups, model versions and measurements.

Every writer describes one thing and *replaces* what the graph said about it
(one transaction per thing), so writing again is harmless and the graph
follows the records that own the facts (manifests, scoreboard, catalog).
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
import uuid
from datetime import datetime, timezone

from rdflib import Literal, URIRef
from rdflib.namespace import OWL, PROV, RDF, XSD

from wwm.knowledge.store import KnowledgeStore
from wwm.knowledge.terms import DEFAULT_BASE, SCHEMA, WWM, check_iri, iri, target_iri

__all__ = ["target_iri", "server_iri", "summary_iri", "update_summaries", "top_minds", "record_server",
           "record_servers", "forget_server", "record_run", "sync_scoreboard", "rebuild_from_scoreboard", "record_catalog", "forget_catalog", "catalog_fingerprint", "find_tracks", "record_node", "record_group",
           "join_group", "leave_group", "record_model_version", "model_iri", "record_measurement"]

_KIND_CLASS = {"mind": WWM.Mind, "world": WWM.World, "society": WWM.Society}


def _time(t: float) -> Literal:
    return Literal(datetime.fromtimestamp(float(t), timezone.utc).isoformat(), datatype=XSD.dateTime)


# -- servers -------------------------------------------------------------------------------


def server_iri(server_id: str, base: str = DEFAULT_BASE) -> URIRef:
    """``urn:wwm:worlds/NAME`` (or ``BASE/worlds/NAME`` under a gateway's public URL)."""
    return iri(base, server_id)


def record_server(store: KnowledgeStore, server, base: str = DEFAULT_BASE, node: str | None = None) -> URIRef:
    """Describe one server (a ``wwm.gateway.Server``) from its manifest, as Describe does."""
    s = server_iri(server.id, base)
    m = server.manifest
    triples = [(s, RDF.type, _KIND_CLASS[server.kind]), (s, SCHEMA.name, Literal(server.name)),
               (s, WWM.kind, Literal(server.kind)), (s, WWM.path, Literal(server.id))]
    for key, prop in (("description", SCHEMA.description), ("author", SCHEMA.author)):
        if m.get(key):
            triples.append((s, prop, Literal(str(m[key]))))
    for name in sorted(m.get("params") or {}):
        triples.append((s, WWM.param, Literal(str(name))))
    if node:
        triples.append((s, WWM.servedBy, check_iri(node)))
    if server.kind == "society":
        triples += [(s, WWM.memberMind, target_iri(href, base)) for href in _society_members(server.path)]
    store.replace(s, triples)
    return s


def _society_members(folder: str) -> list[str]:
    try:
        from wwm.society import soml

        return [m.href for m in soml.load(folder).members]
    except Exception:  # a society file that cannot be read still has its server described
        return []


def record_servers(store: KnowledgeStore, root: str, base: str = DEFAULT_BASE, node: str | None = None,
                   ) -> list[URIRef]:
    """Describe every server under ``root`` (worlds/ and minds/), and forget those that are gone."""
    from wwm.gateway.scoreboard import Scoreboard
    from wwm.protocol.manifest import Server, list_servers

    done = [record_server(store, server, base, node) for server in list_servers(root)]
    known = {str(r.s) for r in store.query("SELECT ?s WHERE { ?s <https://w3id.org/wwm/ns#path> ?path }")}
    for gone in known - {str(s) for s in done}:
        if gone.startswith(base):
            store.remove(URIRef(gone))
    return done


def forget_server(store: KnowledgeStore, server_id: str, base: str = DEFAULT_BASE) -> None:
    """Remove what the graph says about ``worlds/NAME`` or ``minds/NAME`` (its folder was removed)."""
    store.remove(server_iri(server_id, base))


# -- runs from the scoreboard ------------------------------------------------------------------


def _run_triples(row: dict, base: str) -> tuple[URIRef, list]:
    r = iri(base, "runs", str(row["run"]))
    triples = [(r, RDF.type, WWM.Run), (r, WWM.outcome, Literal(str(row.get("outcome") or ""))),
               (r, WWM.steps, Literal(int(row.get("steps") or 0)))]
    world = row.get("world") or (row.get("server") if row.get("kind") == "world" else None)
    if world:
        triples.append((r, WWM.world, target_iri(world, base)))
    for mind in str(row.get("minds") or "").split():
        triples.append((r, WWM.mind, target_iri(mind, base)))
    if row.get("score_value") is not None:
        triples.append((r, WWM.score, Literal(float(row["score_value"]), datatype=XSD.double)))
    if row.get("score"):
        triples.append((r, WWM.scoreText, Literal(str(row["score"]))))
    if row.get("source"):
        triples.append((r, WWM.source, Literal(str(row["source"]))))
    if row.get("start"):
        triples.append((r, PROV.startedAtTime, _time(row["start"])))
    if row.get("end"):
        triples.append((r, PROV.endedAtTime, _time(row["end"])))
    return r, triples


def record_run(store: KnowledgeStore, row: dict, base: str = DEFAULT_BASE) -> URIRef:
    """Describe one scoreboard record (``wwm.gateway.Scoreboard`` columns)."""
    r, triples = _run_triples(row, base)
    store.replace(r, triples)
    return r


def _rows(path: str, since: float | None):
    db = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, timeout=10)
    try:
        sql, args = "SELECT * FROM runs", []
        if since is not None:  # changed since: started, ended, or still running then
            sql += " WHERE start >= ? OR end >= ? OR outcome = 'running'"
            args = [since, since]
        cur = db.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        db.close()


def sync_scoreboard(store: KnowledgeStore, path: str, since: float | None = None,
                    base: str = DEFAULT_BASE) -> int:
    """Bring the runs of a scoreboard file (changed since ``since``, or all) into the graph,
    and the score summaries of the (World, Mind) pairs they touch.

    Returns the number of runs written.  Runs are written in batches: a run's
    old description is deleted and the new one inserted in one update.
    """
    if not os.path.isfile(path):
        return 0
    rows = _rows(path, since)
    for i in range(0, len(rows), 500):
        batch = [_run_triples(row, base) for row in rows[i:i + 500]]
        _replace_many(store, batch)
        if since is not None:  # a few runs changed: their pairs only
            update_summaries(store, {(o_w, o_m) for _, ts in batch for (_, p_w, o_w) in ts if p_w == WWM.world
                                     for (_, p_m, o_m) in ts if p_m == WWM.mind}, base)
    if since is None:
        update_summaries(store, None, base)
    return len(rows)


def _replace_many(store: KnowledgeStore, described: list[tuple[URIRef, list]]) -> None:
    from wwm.knowledge.terms import sparql_term, triples_text

    if not described:
        return
    subjects = " ".join(sparql_term(s) for s, _ in described)
    store.update(f"DELETE {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {subjects} }} ?s ?p ?o }} ;\n"
                 f"INSERT DATA {{\n{triples_text([t for _, ts in described for t in ts])}\n}}")


def rebuild_from_scoreboard(store: KnowledgeStore, path: str, base: str = DEFAULT_BASE) -> int:
    """Forget every run and score summary in the graph and write them again from the scoreboard file."""
    store.update("DELETE { ?r ?p ?o } WHERE { ?r a <https://w3id.org/wwm/ns#Run> ; ?p ?o } ;\n"
                 "DELETE { ?r ?p ?o } WHERE { ?r a <https://w3id.org/wwm/ns#ScoreSummary> ; ?p ?o }")
    return sync_scoreboard(store, path, None, base)


# -- score summaries: "top Minds in World W" without visiting every run ------------------------


def summary_iri(world: URIRef, mind: URIRef, base: str = DEFAULT_BASE) -> URIRef:
    """The summary of ``mind``'s runs in ``world``: ``BASE/summaries/<sha1 of both IRIs>``."""
    return check_iri(f"{base}summaries/{hashlib.sha1(f'{world} {mind}'.encode()).hexdigest()}")


_SUMMARISE = """PREFIX wwm: <https://w3id.org/wwm/ns#>
DELETE {{ ?st ?p ?o }} WHERE {{ {old} }} ;
INSERT {{ ?st a wwm:ScoreSummary ; wwm:summaryOf ?world ; wwm:mind ?mind ; wwm:runs ?n ; wwm:meanScore ?mean }}
WHERE {{
  {{ SELECT ?world ?mind (COUNT(?run) AS ?n) (AVG(?score) AS ?mean) WHERE {{
      {pairs}
      ?run wwm:world ?world ; wwm:mind ?mind ; wwm:score ?score .
  }} GROUP BY ?world ?mind }}
  BIND(IRI(CONCAT({prefix}, SHA1(CONCAT(STR(?world), " ", STR(?mind))))) AS ?st)
}}"""


def update_summaries(store: KnowledgeStore, pairs=None, base: str = DEFAULT_BASE) -> None:
    """Recompute the ``wwm:ScoreSummary`` (runs, mean score) of each (World IRI, Mind IRI) pair,
    or of every pair when ``pairs`` is None (one pass over all runs: for rebuilds).

    The old summaries are deleted and the new ones aggregated from the runs in
    the store, in one update per 200 pairs, so a summary is always what the
    runs say (a pair with no scored run left has none).
    """
    from wwm.knowledge.terms import sparql_term

    prefix = sparql_term(Literal(base + "summaries/"))
    if pairs is None:
        store.update(_SUMMARISE.format(old="?st a wwm:ScoreSummary ; ?p ?o", pairs="", prefix=prefix))
        return
    pairs = sorted(pairs)
    for i in range(0, len(pairs), 200):
        chunk = pairs[i:i + 200]
        old = "VALUES ?st { " + " ".join(sparql_term(summary_iri(w, m, base)) for w, m in chunk) + " } ?st ?p ?o"
        rows = "VALUES (?world ?mind) { " + " ".join(f"({sparql_term(w)} {sparql_term(m)})" for w, m in chunk) + " }"
        store.update(_SUMMARISE.format(old=old, pairs=rows, prefix=prefix))


_TOP_MINDS = """PREFIX wwm: <https://w3id.org/wwm/ns#>
SELECT ?mind ?mean ?runs WHERE {
  ?st wwm:summaryOf ?world ; wwm:meanScore ?mean ; wwm:mind ?mind ; wwm:runs ?runs .
} ORDER BY DESC(?mean) ?mind LIMIT 10"""


def top_minds(store: KnowledgeStore, world: str, base: str = DEFAULT_BASE) -> list[tuple[str, float, int]]:
    """The 10 Minds with the best mean score in ``world`` (an IRI, URL or worlds/NAME): (Mind IRI, mean, runs)."""
    w = world if isinstance(world, URIRef) else target_iri(world, base)
    return [(str(r.mind), float(r.mean), int(r.runs)) for r in store.query(_TOP_MINDS, {"world": w})]


# -- the song catalog ------------------------------------------------------------------------------

_FEATURES = ("danceability", "energy", "loudness", "speechiness", "acousticness", "instrumentalness",
             "liveness", "valence", "tempo")


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def record_catalog(store: KnowledgeStore, catalog=None, base: str = DEFAULT_BASE) -> int:
    """Write the song catalog; returns the number of songs.

    The catalog already holds one record per song (wwm.songs.catalog merges
    listings with the same normalised title and artists, keeping every genre);
    each becomes one ``schema:MusicRecording`` with every Spotify id it is known
    by (``wwm:spotifyId``, ``owl:sameAs`` the track page: its own and its aliases).
    """
    from wwm.songs.catalog import load_catalog, normalize

    catalog = catalog or load_catalog()
    forget_catalog(store)  # replaced whole: songs no longer in the catalog leave the graph too
    known_as: dict[str, list[str]] = {t.id: [t.id] for t in catalog.tracks}
    for alias, song in catalog.aliases.items():
        known_as.setdefault(song, [song]).append(alias)
    triples, artists, albums = [], {}, {}
    for best in catalog.tracks:
        key = normalize(best.name) + "\x1f" + ";".join(sorted(normalize(a) for a in best.artist_list))
        s = iri(base, "songs", _key(key))
        triples += [(s, RDF.type, SCHEMA.MusicRecording), (s, SCHEMA.name, Literal(best.name)),
                    (s, WWM.songId, Literal(best.id)),
                    (s, WWM.normalizedName, Literal(normalize(best.name))),
                    (s, WWM.popularity, Literal(best.popularity)),
                    (s, WWM.durationMs, Literal(int(best.raw["duration_ms"]))),
                    (s, WWM.explicit, Literal(bool(best.raw["explicit"])))]
        triples += [(s, WWM[f], Literal(float(best.raw[f]), datatype=XSD.double)) for f in _FEATURES]
        for g in sorted(best.genres):
            triples.append((s, SCHEMA.genre, Literal(g)))
        for track_id in sorted(known_as[best.id]):
            triples += [(s, WWM.spotifyId, Literal(track_id)),
                        (s, OWL.sameAs, iri("https://open.spotify.com/track/", track_id))]
        for name in best.artist_list:
            a = artists.setdefault(normalize(name), (iri(base, "artists", _key(normalize(name))), name))[0]
            triples.append((s, SCHEMA.byArtist, a))
        if best.album:
            album = albums.setdefault((normalize(best.album), key), iri(base, "albums", _key(normalize(best.album), key)))
            triples.append((s, SCHEMA.inAlbum, album))
            triples += [(album, RDF.type, SCHEMA.MusicAlbum), (album, SCHEMA.name, Literal(best.album))]
    for norm, (a, name) in artists.items():
        triples += [(a, RDF.type, SCHEMA.MusicGroup), (a, SCHEMA.name, Literal(name)),
                    (a, WWM.normalizedName, Literal(norm))]
    c = iri(base, "catalog")
    triples += [(c, RDF.type, WWM.SongCatalog), (c, WWM.fingerprint, Literal(catalog.fingerprint())),
                (c, WWM.songs, Literal(len(catalog.tracks)))]
    store.add(dict.fromkeys(triples))  # without repeats, in order
    return len(catalog.tracks)


def forget_catalog(store: KnowledgeStore) -> None:
    """Remove the song catalog: songs, their artists and albums, and the catalog's record."""
    store.update("PREFIX schema: <https://schema.org/>  PREFIX wwm: <https://w3id.org/wwm/ns#>\n"
                 "DELETE { ?x ?p ?o } WHERE { ?s a schema:MusicRecording ; schema:byArtist|schema:inAlbum ?x . "
                 "?x ?p ?o } ;\n"
                 "DELETE { ?s ?p ?o } WHERE { ?s a schema:MusicRecording ; ?p ?o } ;\n"
                 "DELETE { ?c ?p ?o } WHERE { ?c a wwm:SongCatalog ; ?p ?o }")


_CATALOG = """PREFIX wwm: <https://w3id.org/wwm/ns#>
SELECT ?fingerprint WHERE { ?c a wwm:SongCatalog ; wwm:fingerprint ?fingerprint } ORDER BY ?fingerprint LIMIT 1"""


def catalog_fingerprint(store: KnowledgeStore) -> str | None:
    """The fingerprint of the catalog the graph holds (``Catalog.fingerprint``), or None when it holds none."""
    return next((str(r.fingerprint) for r in store.query(_CATALOG)), None)


# Fixed texts: a variable that no VALUES binds matches anything.
_FIND_SONGS = """PREFIX wwm: <https://w3id.org/wwm/ns#>  PREFIX schema: <https://schema.org/>
SELECT DISTINCT ?song ?pop WHERE {
  ?song schema:genre ?wantGenre ; schema:byArtist/wwm:normalizedName ?wantArtist ;
        a schema:MusicRecording ; wwm:popularity ?pop ; wwm:normalizedName ?norm .
  FILTER(!BOUND(?wantTitle) || CONTAINS(?norm, ?wantTitle))
} ORDER BY DESC(?pop) ?song LIMIT 1000"""

_SONG_DETAILS = """PREFIX wwm: <https://w3id.org/wwm/ns#>  PREFIX schema: <https://schema.org/>
SELECT ?song ?name ?pop (GROUP_CONCAT(DISTINCT ?id; separator=" ") AS ?ids)
       (GROUP_CONCAT(DISTINCT ?artistName; separator="; ") AS ?artists)
       (GROUP_CONCAT(DISTINCT ?g; separator=" ") AS ?genres) WHERE {
  ?song schema:name ?name ; wwm:popularity ?pop ; wwm:spotifyId ?id ; schema:genre ?g ;
        schema:byArtist/schema:name ?artistName .
} GROUP BY ?song ?name ?pop ORDER BY DESC(?pop) ?song"""


def find_tracks(store: KnowledgeStore, genre: str | None = None, artist: str | None = None,
                title: str | None = None, limit: int = 10) -> list[dict]:
    """Songs by genre (exact), artist (normalised name, exact) and/or title (normalised, contained),
    most popular first (at most 1000); with nothing given, the most popular songs.

    Returns dicts: ``song`` (IRI), ``ids`` (its Spotify ids), ``name``, ``artists``, ``genres``
    (lists) and ``popularity``.
    """
    from wwm.songs.catalog import normalize

    bindings = {}
    if genre:
        bindings["wantGenre"] = Literal(genre.strip().lower())
    if artist:
        bindings["wantArtist"] = Literal(normalize(artist))
    if title:
        bindings["wantTitle"] = Literal(normalize(title))
    songs = [r.song for r in store.query(_FIND_SONGS, bindings)][:max(0, min(int(limit), 1000))]
    if not songs:
        return []
    return [{"song": str(r.song), "name": str(r.name), "popularity": int(r.pop),
             "ids": sorted(str(r.ids).split()), "artists": str(r.artists).split("; "),
             "genres": sorted(str(r.genres).split())} for r in store.query(_SONG_DETAILS, {"song": songs})]


# -- nodes, learning groups, model versions, measurements (for SPORE) -----------------------------------


def record_node(store: KnowledgeStore, actor: str, name: str | None = None) -> URIRef:
    """A fungus node, by its ActivityPub actor id."""
    n = check_iri(actor)
    triples = [(n, RDF.type, WWM.Node)] + ([(n, SCHEMA.name, Literal(name))] if name else [])
    store.replace(n, triples)
    return n


def record_group(store: KnowledgeStore, group: str, members: list[str] = (), name: str | None = None) -> URIRef:
    """A learning group (its IRI, e.g. its ActivityPub Group id) and all its members' actor ids."""
    g = check_iri(group)
    triples = [(g, RDF.type, WWM.LearningGroup)] + [(g, WWM.member, check_iri(m)) for m in members]
    if name:
        triples.append((g, SCHEMA.name, Literal(name)))
    store.replace(g, triples)
    return g


def join_group(store: KnowledgeStore, group: str, member: str) -> None:
    store.add([(check_iri(group), RDF.type, WWM.LearningGroup), (check_iri(group), WWM.member, check_iri(member))])


def leave_group(store: KnowledgeStore, group: str, member: str) -> None:
    from wwm.knowledge.terms import triples_text

    store.update(f"DELETE DATA {{ {triples_text([(check_iri(group), WWM.member, check_iri(member))])} }}")


def model_iri(sha256: str, base: str = DEFAULT_BASE) -> URIRef:
    """``urn:wwm:models/<sha256>``: a model version is named by its content."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValueError("a model version's sha256 is 64 lower-case hex digits")
    return iri(base, "models", sha256)


def record_model_version(store: KnowledgeStore, sha256: str, url: str | None = None, samples: int | None = None,
                         parents: list[str] = (), round: int | None = None, group: str | None = None,
                         by: str | None = None, at: float | None = None, base: str = DEFAULT_BASE) -> URIRef:
    """A model version: content hash, where its weights are, the samples behind it, the versions
    it was aggregated from (their sha256), the round that made it, its group and maker."""
    v = model_iri(sha256, base)
    triples = [(v, RDF.type, WWM.ModelVersion), (v, WWM.sha256, Literal(sha256)),
               (v, PROV.generatedAtTime, _time(at if at is not None else time.time()))]
    if url:
        triples.append((v, SCHEMA.contentUrl, check_iri(url)))
    if samples is not None:
        triples.append((v, WWM.samples, Literal(int(samples))))
    if round is not None:
        triples.append((v, WWM.round, Literal(int(round))))
    triples += [(v, PROV.wasDerivedFrom, model_iri(p, base)) for p in parents]
    if group:
        triples.append((v, WWM.group, check_iri(group)))
    if by:
        triples.append((v, PROV.wasAttributedTo, check_iri(by)))
    store.replace(v, triples)
    return v


def record_measurement(store: KnowledgeStore, entity: str, metric: str, value: float, world: str | None = None,
                       data: str | None = None, by: str | None = None, at: float | None = None,
                       base: str = DEFAULT_BASE) -> URIRef:
    """A measured value of ``metric`` for ``entity`` (a model version or Mind IRI), on a World or data set."""
    m = iri(base, "measurements", uuid.uuid4().hex)
    triples = [(m, RDF.type, WWM.Measurement), (m, WWM.ofEntity, check_iri(entity)),
               (m, WWM.metric, Literal(str(metric))), (m, SCHEMA.value, Literal(float(value), datatype=XSD.double)),
               (m, PROV.generatedAtTime, _time(at if at is not None else time.time()))]
    if world:
        triples.append((m, WWM.onWorld, target_iri(world, base)))
    if data:
        triples.append((m, WWM.onData, Literal(str(data))))
    if by:
        triples.append((m, PROV.wasAttributedTo, check_iri(by)))
    store.add(triples)
    return m
