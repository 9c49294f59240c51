"""Writers: servers from manifests, runs from the scoreboard, the song catalog, SPORE's records."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
from rdflib import Literal, URIRef

from wwm.gateway.scoreboard import Scoreboard
from wwm.protocol.manifest import load_server
from wwm.knowledge import writers
from wwm.knowledge.terms import iri
from wwm.knowledge.store import EmbeddedStore
from wwm.knowledge.terms import TermError
from wwmtest import REPO

P = "PREFIX wwm: <https://w3id.org/wwm/ns#> PREFIX schema: <https://schema.org/> PREFIX prov: <http://www.w3.org/ns/prov#>\n"


def make_root(tmp_path):
    root = tmp_path / "root"
    for sub in ("worlds/songs", "worlds/hello-python", "minds/hello-python", "minds/society-hello"):
        (root / sub).mkdir(parents=True)
        for f in ("wwm.toml", "society.xml"):
            if (REPO / sub / f).exists():
                shutil.copy(REPO / sub / f, root / sub / f)
    return root


def test_servers_from_manifests(store, tmp_path):
    root = make_root(tmp_path)
    hostile = root / "minds" / "evil"
    hostile.mkdir()
    (hostile / "wwm.toml").write_text('kind = "mind"\nname = "evil"\ncommand = "true"\n'
                                      'description = "x\\" } ; DROP ALL ; #\\n<urn:a>"\n')
    done = writers.record_servers(store, str(root))
    assert len(done) == 5
    worlds = {(str(r.name), str(r.params)) for r in store.query(P + """
        SELECT ?name (GROUP_CONCAT(?param; separator=" ") AS ?params) WHERE {
          ?w a wwm:World ; schema:name ?name . OPTIONAL { ?w wwm:param ?param } } GROUP BY ?name""")}
    songs = load_server(str(root / "worlds" / "songs"))
    assert ("songs", " ".join(sorted(songs.manifest["params"]))) in {(n, " ".join(sorted(p.split()))) for n, p in worlds}
    members = [r.m for r in store.query(P + "SELECT ?m WHERE { ?s wwm:memberMind ?m }",
                                        {"s": writers.server_iri("minds/society-hello")})]
    assert URIRef("urn:wwm:minds/hello-python") in members and len(members) == 4
    desc = [str(r.d) for r in store.query(P + "SELECT ?d WHERE { ?s schema:description ?d }",
                                          {"s": writers.server_iri("minds/evil")})]
    assert desc == ['x" } ; DROP ALL ; #\n<urn:a>']
    # a folder removed: its server leaves the graph on the next pass
    shutil.rmtree(hostile)
    writers.record_servers(store, str(root))
    assert not store.query("ASK { ?s ?p ?o }", {"s": writers.server_iri("minds/evil")}).askAnswer
    assert store.query("ASK { ?s ?p ?o }", {"s": writers.server_iri("worlds/songs")}).askAnswer


def scoreboard(tmp_path):
    board = Scoreboard(str(tmp_path / "scores.sqlite"))
    rows = []
    for i, (world, minds, score) in enumerate([
            ("worlds/songs", "minds/popularity", "0.31\nhr@10: 0.2"), ("worlds/songs", "minds/popularity", "0.35"),
            ("worlds/songs", "minds/itemknn", "0.40"), ("worlds/house", "minds/house-greedy", "12"),
            ("http://other.example/wwm/worlds/songs", "http://x.example/wwm/minds/a%20b", "0.9"),
            ("worlds/songs", 'http://evil.example/">}DROP{ALL', "0.1"),
            ("worlds/songs", "/home/u/minds/random", "0.05"), ("worlds/songs", "minds/random", "")]):
        rec = {"run": f"run{i:02d}" + "x" * 20, "server": world, "kind": "world", "world": world, "minds": minds,
               "steps": 10 * i, "score": score, "start": 1000.0 + i, "end": 1100.0 + i, "outcome": "done",
               "error": None, "source": "gateway"}
        board.record(rec)
        rows.append(rec)
    return board, rows


TOP = P + """SELECT ?mind (AVG(?score) AS ?mean) (COUNT(?run) AS ?runs) WHERE {
  ?run a wwm:Run ; wwm:world ?world ; wwm:mind ?mind ; wwm:score ?score .
} GROUP BY ?mind ORDER BY DESC(?mean) ?mind LIMIT 10"""


def test_runs_from_the_scoreboard(store, tmp_path):
    board, rows = scoreboard(tmp_path)
    assert writers.sync_scoreboard(store, board.path) == len(rows)
    top = [(str(r.mind), round(float(r.mean), 6), int(r.runs))
           for r in store.query(TOP, {"world": URIRef("urn:wwm:worlds/songs")})]
    db = sqlite3.connect(board.path)
    expect = db.execute("SELECT minds, AVG(score_value), COUNT(*) FROM runs WHERE world = 'worlds/songs' "
                        "AND score_value IS NOT NULL GROUP BY minds ORDER BY 2 DESC").fetchall()
    assert top == [(str(writers.target_iri(m)), round(v, 6), c) for m, v, c in expect]
    assert [(m, round(v, 6), c) for m, v, c in writers.top_minds(store, "worlds/songs")] == top  # the summaries
    assert [m for m, _, _ in top][:2] == ["urn:wwm:minds/itemknn", "urn:wwm:minds/popularity"]
    # a hostile Mind URL is percent-encoded into an IRI, not injected; a folder keeps its server name
    minds = {str(r.m) for r in store.query(P + "SELECT DISTINCT ?m WHERE { ?r wwm:mind ?m }")}
    assert "urn:wwm:minds/random" in minds and "http://x.example/wwm/minds/a%20b" in minds
    assert "http://evil.example/%22%3E%7DDROP%7BALL" in minds
    # kept in step: a changed run is rewritten, not duplicated
    rows[0].update(score="0.99", end=5000.0)
    board.record(rows[0])
    assert writers.sync_scoreboard(store, board.path, since=4000.0) == 1
    r0 = iri("urn:wwm:", "runs", rows[0]["run"])
    assert [float(r.s) for r in store.query(P + "SELECT ?s WHERE { ?r wwm:score ?s }", {"r": r0})] == [0.99]
    assert writers.top_minds(store, "worlds/songs")[0] == ("urn:wwm:minds/popularity", (0.99 + 0.35) / 2, 2)
    # rebuilt on demand: a run deleted from the scoreboard leaves the graph
    with db:
        db.execute("DELETE FROM runs WHERE run = ?", (rows[1]["run"],))
    assert writers.rebuild_from_scoreboard(store, board.path) == len(rows) - 1
    n = store.query(P + "SELECT (COUNT(?r) AS ?n) WHERE { ?r a wwm:Run }")
    assert int(next(iter(n))[0]) == len(rows) - 1
    assert writers.top_minds(store, "worlds/songs")[0] == ("urn:wwm:minds/popularity", 0.99, 1)
    assert [m for m, _, _ in writers.top_minds(store, "worlds/house")] == ["urn:wwm:minds/house-greedy"]


def test_spore_records(store):
    node, peer = "https://a.example/actor", "https://b.example/actor"
    writers.record_node(store, node, "node a")
    g = writers.record_group(store, "https://a.example/groups/g1", [node], name="g1")
    writers.join_group(store, str(g), peer)
    members = {str(r.m) for r in store.query(P + "SELECT ?m WHERE { ?g wwm:member ?m }", {"g": g})}
    assert members == {node, peer}
    writers.leave_group(store, str(g), node)
    assert {str(r.m) for r in store.query(P + "SELECT ?m WHERE { ?g wwm:member ?m }", {"g": g})} == {peer}
    v0, v1, v2 = "0" * 64, "1" * 64, "2" * 64
    writers.record_model_version(store, v0, url="https://a.example/w/0", samples=10, round=0, group=str(g), by=node)
    writers.record_model_version(store, v1, url="https://b.example/w/1", samples=20, round=0, group=str(g), by=peer)
    writers.record_model_version(store, v2, samples=30, parents=[v0, v1], round=1, group=str(g), by=node)
    lineage = {(str(r.sha), int(r.round)) for r in store.query(P + """SELECT ?sha ?round WHERE {
        ?model prov:wasDerivedFrom* ?v . ?v wwm:sha256 ?sha ; wwm:round ?round }""",
                                                            {"model": writers.model_iri(v2)})}
    assert lineage == {(v0, 0), (v1, 0), (v2, 1)}
    for v, hr in ((v0, 0.10), (v1, 0.15), (v2, 0.19)):
        writers.record_measurement(store, str(writers.model_iri(v)), "hr@10", hr, world="worlds/songs", by=node)
    writers.record_measurement(store, str(writers.model_iri(v2)), "hr@10", 0.2, data="ml-100k")
    best = [(str(r.group), float(r.best)) for r in store.query(P + """SELECT ?group (MAX(?value) AS ?best) WHERE {
        ?m a wwm:Measurement ; wwm:metric ?metric ; schema:value ?value ; wwm:ofEntity ?v ; wwm:onWorld ?w .
        ?v wwm:group ?group } GROUP BY ?group""", {"metric": "hr@10", "w": URIRef("urn:wwm:worlds/songs")})]
    assert best == [(str(g), 0.19)]
    with pytest.raises(ValueError):
        writers.record_model_version(store, "../../etc/passwd")
    with pytest.raises(TermError):
        writers.record_group(store, "https://a.example/g> } DROP ALL", [])
    with pytest.raises(TermError):
        writers.record_model_version(store, v0, url="javascript:alert(1)<x>")


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    from wwm.songs.catalog import load_catalog

    s = EmbeddedStore(str(tmp_path_factory.mktemp("songs") / "kg"))
    catalog = load_catalog()
    n = writers.record_catalog(s, catalog)
    yield s, catalog, n
    s.close()


def test_catalog_merges_duplicate_songs(songs):
    from wwm.songs.catalog import normalize

    store, catalog, n = songs
    keys = {(normalize(t.name), tuple(sorted(normalize(a) for a in t.artist_list))) for t in catalog.tracks}
    assert n == len(keys) == len(catalog)  # one song per record: the catalog merged its listings
    ids = store.query(P + "SELECT (COUNT(DISTINCT ?id) AS ?n) WHERE { ?s wwm:spotifyId ?id }")
    assert int(next(iter(ids))[0]) == len(catalog) + len(catalog.aliases)  # every listing, as an id of its song
    hits = writers.find_tracks(store, title="Mr. Brightside")
    assert len(hits) == 1 and hits[0]["artists"] == ["The Killers"] and len(hits[0]["ids"]) > 1
    song = next(t for t in catalog.tracks if normalize(t.name) == "mr brightside")
    assert sorted([song.id] + [a for a, s in catalog.aliases.items() if s == song.id]) == hits[0]["ids"]


def test_find_tracks(songs):
    store, catalog, _ = songs
    metallica = writers.find_tracks(store, artist="metallica", limit=50)
    assert metallica and all("Metallica" in t["artists"] for t in metallica)
    songs = {t.id for t in catalog.tracks if "Metallica" in t.artist_list}
    expect = songs | {alias for alias, song in catalog.aliases.items() if song in songs}  # every id of each song
    assert {i for t in metallica for i in t["ids"]} == expect
    metal = writers.find_tracks(store, genre="Metal", limit=5)
    assert len(metal) == 5 and all("metal" in t["genres"] for t in metal)
    assert [t["popularity"] for t in metal] == sorted((t["popularity"] for t in metal), reverse=True)
    assert writers.find_tracks(store, genre="jazz") == []  # a genre the catalog lacks: nothing, honestly
    both = writers.find_tracks(store, genre="metal", artist="Metallica", title="sandman")
    assert [t["name"] for t in both] == ["Enter Sandman"]
    before = store.count()
    for evil in ('" } DROP ALL #', "x') || true || ('", "\\u0022"):
        assert writers.find_tracks(store, title=evil, genre=evil, artist=evil) == []
    assert store.count() == before
