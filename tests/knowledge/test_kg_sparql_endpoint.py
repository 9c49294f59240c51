"""/sparql on the gateway app: SPARQL 1.1 Protocol, read-only, time limit, result cap, negotiation."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from lxml import etree
from rdflib import Graph, Literal, URIRef

from kgkit import free_port
from wwm.gateway.scoreboard import Scoreboard
from wwm.gateway.wsgi import create_app
from wwm.knowledge.terms import WWM
from wwmtest import REPO

RUN = {"run": "r" * 22, "server": "worlds/songs", "kind": "world", "world": "worlds/songs",
       "minds": "minds/popularity", "steps": 5, "score": "0.5", "start": 1.0, "end": 2.0, "outcome": "done",
       "source": "gateway"}
NAMES = "SELECT ?name WHERE { ?s <https://schema.org/name> ?name } ORDER BY ?name"


@pytest.fixture(params=["embedded", "remote"])
def app(request, tmp_path, monkeypatch):
    from test_kg_writers import make_root

    monkeypatch.setenv("WWM_KNOWLEDGE_QUEUE", str(tmp_path / "queue.sqlite"))
    root = make_root(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    Scoreboard(str(runs / "scores.sqlite")).record(RUN)
    if request.param == "embedded":
        location = str(tmp_path / "kg")
    else:
        from wwm.knowledge.store import RemoteStore

        location = request.getfixturevalue("oxigraph_server").url
        RemoteStore(location, queue=str(tmp_path / "q.sqlite")).update("CLEAR ALL")
    app = create_app({"TESTING": True, "ROOT": str(root), "RUNS": str(runs), "KNOWLEDGE": location,
                      "SPARQL_TIMEOUT": 5.0, "SPARQL_SYNC": 0,
                      "KNOWLEDGE_WATCH": request.node.get_closest_marker("watch") is not None})
    yield app
    app.extensions["wwm.knowledge"].close()


def store_of(app):
    kg = app.extensions["wwm.knowledge"]
    return kg.open()


def test_select_in_every_result_format(app):
    c = app.test_client()
    r = c.get("/sparql", query_string={"query": NAMES})
    assert r.status_code == 200 and r.mimetype == "application/sparql-results+json"
    names = [b["name"]["value"] for b in r.get_json()["results"]["bindings"]]
    assert names == ["hello-python", "hello-python", "society-hello", "songs"]
    r = c.get("/sparql", query_string={"query": NAMES}, headers={"Accept": "application/sparql-results+xml"})
    assert r.mimetype == "application/sparql-results+xml"
    ns = {"s": "http://www.w3.org/2005/sparql-results#"}
    xml = etree.fromstring(r.data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert [e.text for e in xml.findall(".//s:literal", ns)] == names
    r = c.post("/sparql", data={"query": NAMES}, headers={"Accept": "text/csv"})
    assert r.mimetype == "text/csv" and [row[0] for row in csv.reader(io.StringIO(r.get_data(as_text=True)))] == ["name"] + names
    r = c.post("/sparql", data=NAMES, content_type="application/sparql-query")
    assert r.status_code == 200 and len(r.get_json()["results"]["bindings"]) == 4
    r = c.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})
    assert r.get_json()["boolean"] is True


def test_graphs_by_accept(app):
    c = app.test_client()
    q = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o . FILTER(?s = <urn:wwm:worlds/songs>) }"
    for accept, fmt in (("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/ld+json", "json-ld")):
        r = c.get("/sparql", query_string={"query": q}, headers={"Accept": accept})
        assert r.status_code == 200 and r.mimetype == accept
        g = Graph().parse(data=r.data, format=fmt)
        assert [str(o) for o in g.objects(URIRef("urn:wwm:worlds/songs"), WWM.kind)] == ["world"]
    r = c.get("/sparql", query_string={"query": q}, headers={"Accept": "image/png"})
    assert r.status_code == 406


def test_kept_in_step_with_the_scoreboard(app):
    c = app.test_client()
    q = "SELECT ?r WHERE { ?r a <https://w3id.org/wwm/ns#Run> }"
    assert len(c.get("/sparql", query_string={"query": q}).get_json()["results"]["bindings"]) == 1
    Scoreboard(os.path.join(app.config["RUNS"], "scores.sqlite")).record(dict(RUN, run="s" * 22, start=time.time()))
    assert len(c.get("/sparql", query_string={"query": q}).get_json()["results"]["bindings"]) == 2


@pytest.mark.parametrize("how", ["update-type", "update-param", "update-form", "drop-as-query", "insert-as-query"])
def test_updates_refused(app, how):
    c = app.test_client()
    before = c.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}).get_json()
    drop = "DROP ALL"
    if how == "update-type":
        r = c.post("/sparql", data=drop, content_type="application/sparql-update")
        assert r.status_code == 403
    elif how == "update-param":
        r = c.get("/sparql", query_string={"update": drop})
        assert r.status_code == 403
    elif how == "update-form":
        r = c.post("/sparql", data={"update": drop})
        assert r.status_code == 403
    elif how == "drop-as-query":
        r = c.get("/sparql", query_string={"query": drop})
        assert r.status_code == 400 and "malformed query" in r.get_data(as_text=True)
    else:
        r = c.post("/sparql", data={"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"})
        assert r.status_code == 400
    after = c.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}).get_json()
    assert after == before and int(after["results"]["bindings"][0]["n"]["value"]) > 10


def test_bad_requests(app):
    c = app.test_client()
    r = c.get("/sparql", query_string={"query": "SELECT ?s WHERE { ?s ?p"})
    assert r.status_code == 400 and "malformed query" in r.get_data(as_text=True)
    assert len(r.get_data(as_text=True)) > len("malformed query: \n")  # the parser's own words follow
    assert c.get("/sparql").status_code == 400
    assert c.get("/sparql?query=ASK{}&query=ASK{}").status_code == 400
    assert c.get("/sparql", query_string={"query": "ASK {}", "default-graph-uri": "urn:x"}).status_code == 400
    big = "ASK { } #" + "x" * 200_000
    assert c.post("/sparql", data=big, content_type="application/sparql-query").status_code == 413
    assert c.post("/sparql", data=b"ASK { \xff }", content_type="application/sparql-query").status_code == 400


def test_result_cap(app):
    app.extensions["wwm.knowledge"].max_rows = 3
    c = app.test_client()
    r = c.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 200 and r.headers["X-WWM-Truncated"] == "true"
    assert len(r.get_json()["results"]["bindings"]) == 3
    r = c.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"}, headers={"Accept": "application/n-triples"})
    assert r.headers["X-WWM-Truncated"] == "true" and len(r.data.splitlines()) == 3
    r = c.get("/sparql", query_string={"query": NAMES + " LIMIT 2"})
    assert "X-WWM-Truncated" not in r.headers


SLOW = """SELECT (COUNT(*) AS ?n) WHERE { ?a <urn:p> ?x . ?b <urn:p> ?y . ?c <urn:p> ?z .
          FILTER(CONCAT(STR(?x), STR(?y)) != STR(?z)) }"""


def test_time_limit_and_others_still_answered(app):
    store_of(app).add([(URIRef(f"urn:x/{i}"), URIRef("urn:p"), Literal(i)) for i in range(150)])
    app.extensions["wwm.knowledge"].timeout = 0.2
    c = app.test_client()
    t0 = time.monotonic()
    r = c.get("/sparql", query_string={"query": SLOW})
    assert r.status_code == 503 and "time limit" in r.get_data(as_text=True) and r.headers["Retry-After"]
    assert time.monotonic() - t0 < 30
    # the runaway query goes on in its worker, and other queries are still answered
    app.extensions["wwm.knowledge"].timeout = 20
    r = c.get("/sparql", query_string={"query": "ASK { <urn:x/1> ?p ?o }"})
    assert r.status_code == 200 and r.get_json()["boolean"] is True


def test_wwm_serve_answers_sparql(tmp_path):
    from test_kg_writers import make_root

    root = make_root(tmp_path)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), WWM_KNOWLEDGE=str(tmp_path / "kg"))
    proc = subprocess.Popen([sys.executable, "-m", "wwm", "serve", "--root", str(root), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": NAMES}, timeout=10)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "wwm serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        assert "songs" in [b["name"]["value"] for b in r.json()["results"]["bindings"]]
        r = requests.post(f"http://127.0.0.1:{port}/sparql", data="DROP ALL",
                          headers={"Content-Type": "application/sparql-update"}, timeout=10)
        assert r.status_code == 403
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.watch
def test_server_folders_go_in_live(app):
    root = app.config["ROOT"]
    c = app.test_client()
    ask = "ASK { ?s <https://schema.org/name> ?name }"

    def present(name, want, wait=30.0):
        deadline = time.monotonic() + wait
        while True:
            r = c.get("/sparql", query_string={"query": ask.replace("?name", json.dumps(name))})
            if r.get_json()["boolean"] is want:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    assert present("songs", True, 0)
    folder = os.path.join(root, "minds", "newcomer")
    os.makedirs(folder)
    with open(os.path.join(folder, "wwm.toml"), "w") as f:
        f.write('kind = "mind"\nname = "newcomer"\ncommand = "true"\ndescription = "first"\n')
    assert present("newcomer", True)
    desc = "SELECT ?d WHERE { <urn:wwm:minds/newcomer> <https://schema.org/description> ?d }"
    with open(os.path.join(folder, "wwm.toml"), "a") as f:
        f.write('author = "someone"\n')
    q = "ASK { <urn:wwm:minds/newcomer> <https://schema.org/author> \"someone\" }"
    deadline = time.monotonic() + 30
    while not c.get("/sparql", query_string={"query": q}).get_json()["boolean"]:
        assert time.monotonic() < deadline, "a changed manifest was not described again"
        time.sleep(0.1)
    assert [b["d"]["value"] for b in c.get("/sparql", query_string={"query": desc}).get_json()["results"]["bindings"]] == ["first"]
    import shutil

    shutil.rmtree(folder)
    assert present("newcomer", False)
    assert present("songs", True, 0)


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
    "PREFIX ex: <urn:x#> SELECT * WHERE {{ ?s ex:a\\' SERVICE <{url}> {{ ?s ?p ?o }} ?x ex:b\\' ?o }}",
    "SELECT * WHERE {{ VALUES ?u {{ <{url}> }} SERVICE ?u {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p 1SERVICE <{url}> {{ ?s ?p ?o }} }}",
])
def test_service_is_refused_no_request_made(app, template):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(1.0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
    try:
        r = app.test_client().get("/sparql", query_string={"query": template.format(url=url)})
        assert r.status_code == 403 and "SERVICE" in r.get_data(as_text=True)
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody was sent to the private address
    finally:
        listener.close()
    # words that only look like it are fine
    r = app.test_client().get("/sparql", query_string={
        "query": 'PREFIX as: <https://www.w3.org/ns/activitystreams#> SELECT ?service WHERE { '
                 '?service a as:Service ; ?p "SERVICE <x>" } # SERVICE'})
    assert r.status_code == 200
