"""`wwm graph query|dump|load|sync` through click's CliRunner, on an embedded store and on oxigraph serve."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wwm.cli import cli
from wwm.gateway.scoreboard import Scoreboard


@pytest.fixture(params=["embedded", "remote"])
def location(request, tmp_path, monkeypatch):
    monkeypatch.setenv("WWM_KNOWLEDGE_QUEUE", str(tmp_path / "queue.sqlite"))
    if request.param == "embedded":
        return str(tmp_path / "kg")
    server = request.getfixturevalue("oxigraph_server")
    from wwm.knowledge.store import RemoteStore

    RemoteStore(server.url, queue=str(tmp_path / "queue.sqlite")).update("CLEAR ALL")
    return server.url


def graph(location, *args, input=None):
    result = CliRunner().invoke(cli, ["graph", "--store", location, *args], input=input, catch_exceptions=False)
    return result


def test_sync_query_dump_load(location, tmp_path):
    from test_kg_writers import make_root

    root = make_root(tmp_path)
    (root / "runs").mkdir()
    Scoreboard(str(root / "runs" / "scores.sqlite")).record(
        {"run": "r" * 22, "server": "worlds/songs", "kind": "world", "world": "worlds/songs",
         "minds": "minds/popularity", "steps": 5, "score": "0.5", "start": 1.0, "end": 2.0, "outcome": "done",
         "source": "gateway"})
    out = graph(location, "sync", "--root", str(root))
    assert out.exit_code == 0, out.output
    assert "4 servers, 1 runs" in out.output
    q = ("PREFIX wwm: <https://w3id.org/wwm/ns#> SELECT ?mind (AVG(?s) AS ?mean) WHERE "
         "{ ?r wwm:world ?world ; wwm:mind ?mind ; wwm:score ?s } GROUP BY ?mind")
    out = graph(location, "query", q, "--iri", "world=urn:wwm:worlds/songs", "--format", "json")
    data = json.loads(out.output)
    assert [(b["mind"]["value"], float(b["mean"]["value"])) for b in data["results"]["bindings"]] == [
        ("urn:wwm:minds/popularity", 0.5)]
    out = graph(location, "query", q, "--iri", "world=urn:wwm:worlds/none")
    assert out.output.split() == ["mind", "mean"]
    out = graph(location, "query", "-", "--format", "csv", input="SELECT ?n WHERE { ?s <https://schema.org/name> ?n }"
                " ORDER BY ?n")
    assert out.output.splitlines()[:2] == ["n", "hello-python"]
    out = graph(location, "query", "ASK { ?s ?p ?o }", "--literal", 'o=x" } DROP ALL')
    assert out.output.strip() == "false"
    out = graph(location, "query", "ASK { ?s ?p ?o }", "--iri", "s=http://a> } DROP ALL")
    assert out.exit_code == 1 and "not a valid IRI" in out.output
    out = graph(location, "query", "SELECT ?s WHERE { ?s }")
    assert out.exit_code == 1 and "Error" in out.output

    for fmt, name in (("turtle", "g.ttl"), ("json-ld", "g.jsonld")):
        dump = tmp_path / name
        assert graph(location, "dump", "--format", fmt, "-o", str(dump)).exit_code == 0
        fresh = str(tmp_path / f"fresh-{fmt}") if not location.startswith("http") else location
        if fresh == location:  # one server: empty it before loading the dump back
            from wwm.knowledge.store import RemoteStore

            RemoteStore(location, queue=str(tmp_path / "q2.sqlite")).update("CLEAR ALL")
        out = graph(fresh, "load", str(dump))
        assert out.exit_code == 0 and "loaded" in out.output, out.output
        again = graph(fresh, "dump", "--format", "nt").output.splitlines()
        assert len(again) > 20 and any("hello-python" in line for line in again)


def test_load_refuses_hostile_and_broken_files(location, tmp_path):
    bad = tmp_path / "bad.nt"
    bad.write_text("<urn:a> <urn:b> .\n")
    out = graph(location, "load", str(bad))
    assert out.exit_code == 1 and "cannot parse" in out.output
    evil = tmp_path / "evil.ttl"
    evil.write_text('<urn:a> <urn:b> "x\\" } ; DROP ALL ; INSERT DATA { <urn:c> <urn:d> <urn:e> } #" .\n')
    assert graph(location, "load", str(evil)).exit_code == 0
    out = graph(location, "query", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--format", "csv")
    assert out.output.splitlines()[1] == "1"


def test_load_refuses_hostile_iris(location, tmp_path):
    # Turtle allows \u escapes in IRIs: decoded, this one would close the IRI and inject
    evil = tmp_path / "evil.ttl"
    evil.write_text('<http://a.example/x\\u003E\\u0020}\\u0020DROP\\u0020ALL> <urn:p> "x" .\n')
    out = graph(location, "load", str(evil))
    assert out.exit_code == 1 and "not a valid IRI" in out.output
    # JSON-LD can carry any string as an id: rdflib's parser drops what is not an IRI, or we refuse it
    evil = tmp_path / "evil.jsonld"
    evil.write_text(json.dumps([{"@id": "http://a.example/x> } ; DROP ALL ; #", "https://schema.org/name": "x"}]))
    out = graph(location, "load", str(evil))
    assert "not a valid IRI" in out.output or "loaded 0 triples" in out.output
    out = graph(location, "query", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--format", "csv")
    assert out.output.splitlines()[1] == "0"
