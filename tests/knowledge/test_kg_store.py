"""The knowledge stores: one suite on the embedded store, rdflib's memory store and a real `oxigraph serve`."""
from __future__ import annotations

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

from wwm.knowledge.store import QueryError, bind_values
from wwm.knowledge.terms import WWM, TermError

A, B, C = URIRef("urn:wwm:minds/a"), URIRef("urn:wwm:minds/b"), URIRef("urn:wwm:minds/c")
W1, W2 = URIRef("urn:wwm:worlds/one"), URIRef("urn:wwm:worlds/two")

HOSTILE = [
    'x" } ; DROP ALL ; INSERT DATA { <urn:x> <urn:y> "z',
    "x' } DROP ALL #",
    "line one\nline two\r\n",
    "> } DROP ALL",
    'back\\slash \\" and \\u0022',
    '"""triple""" and \'\'\'single\'\'\'',
    "tab\tnul-free control \x01 \x1f",
    "?s ?p ?o } . FILTER(true) {",
    "ünïcødé ✓ 🎵",
    "",
]


def run(rid, world, mind, score):
    r = URIRef(f"urn:wwm:runs/{rid}")
    return [(r, RDF.type, WWM.Run), (r, WWM.world, world), (r, WWM.mind, mind),
            (r, WWM.score, Literal(score, datatype=XSD.double))]


TOP = """PREFIX wwm: <https://w3id.org/wwm/ns#>
SELECT ?mind (AVG(?score) AS ?mean) (COUNT(?run) AS ?runs) WHERE {
  ?run a wwm:Run ; wwm:world ?world ; wwm:mind ?mind ; wwm:score ?score .
} GROUP BY ?mind ORDER BY DESC(?mean) LIMIT 10"""


def test_add_and_query_with_bindings(store):
    store.add(run(1, W1, A, 10) + run(2, W1, A, 20) + run(3, W1, B, 30) + run(4, W2, C, 99) + run(5, W2, A, 0))
    rows = [(r.mind, float(r.mean), int(r.runs)) for r in store.query(TOP, {"world": W1})]
    # the binding applies before GROUP BY: W2's runs count for neither A nor C
    assert rows == [(B, 30.0, 1), (A, 15.0, 2)]
    rows = [(r.mind, float(r.mean)) for r in store.query(TOP, {"world": W2})]
    assert rows == [(C, 99.0), (A, 0.0)]
    assert store.count() == 20
    assert store.query("ASK { ?r ?p ?w }", {"w": W2}).askAnswer is True
    assert store.query("ASK { ?r ?p ?w }", {"w": URIRef("urn:wwm:worlds/none")}).askAnswer is False


def test_hostile_literals_stay_literals(store):
    subjects = [URIRef(f"urn:wwm:thing/{i}") for i in range(len(HOSTILE))]
    store.add([(s, WWM.scoreText, Literal(text)) for s, text in zip(subjects, HOSTILE)])
    store.add([(A, RDF.type, WWM.Mind)])
    assert store.count() == len(HOSTILE) + 1
    for s, text in zip(subjects, HOSTILE):
        got = [r.s for r in store.query("SELECT ?s WHERE { ?s ?p ?text }", {"text": Literal(text)})]
        assert got == [s], repr(text)
        back = [str(r.text) for r in store.query("SELECT ?text WHERE { ?s ?p ?text }", {"s": s})]
        assert back == [text]
    assert store.count() == len(HOSTILE) + 1  # no DROP ran, nothing was inserted
    # a plain Python string binds as a literal too, never as query text
    assert [r.s for r in store.query("SELECT ?s WHERE { ?s ?p ?o }", {"o": HOSTILE[0]})] == [subjects[0]]


@pytest.mark.parametrize("bad", ["http://a> } DROP ALL", "urn:x y", 'http://a/"b', "http://a/{b}",
                                 "no-scheme", "http://a/\nb", "http://a/b\\c", "urn:x^y", "urn:`x`"])
def test_hostile_iris_refused(store, bad):
    store.add([(A, RDF.type, WWM.Mind)])
    with pytest.raises(TermError):
        store.add([(URIRef(bad), RDF.type, WWM.Mind)])
    with pytest.raises(TermError):
        store.add([(A, WWM.memberMind, URIRef(bad))])
    with pytest.raises(TermError):
        store.replace(URIRef(bad), [])
    with pytest.raises(TermError):
        list(store.query("SELECT ?p WHERE { ?s ?p ?o }", {"s": URIRef(bad)}))
    assert store.count() == 1


def test_hostile_variable_names_refused(store):
    with pytest.raises((TermError, QueryError, ValueError)):
        list(store.query("SELECT ?s WHERE { ?s ?p ?o }", {"o) {} } DROP ALL #": Literal(1)}))


def test_replace_and_remove(store):
    store.add(run(1, W1, A, 10) + run(2, W1, B, 5))
    r1 = URIRef("urn:wwm:runs/1")
    store.replace(r1, [(r1, RDF.type, WWM.Run), (r1, WWM.score, Literal(11.0))])
    got = {(r.p, r.o) for r in store.query("SELECT ?p ?o WHERE { ?s ?p ?o }", {"s": r1})}
    assert got == {(RDF.type, WWM.Run), (WWM.score, Literal(11.0))}
    store.remove(r1)
    assert store.query("ASK { ?s ?p ?o }", {"s": r1}).askAnswer is False
    assert store.count() == 4


def test_construct_dump_and_load(store, tmp_path):
    store.add(run(1, W1, A, 10) + [(A, WWM.scoreText, Literal(HOSTILE[0])), (A, WWM.scoreText, Literal("é", lang="fr"))])
    g = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", {"s": A}).graph
    assert len(g) == 2
    turtle, jsonld = store.dump("turtle"), store.dump("json-ld")
    assert b"@prefix wwm:" in turtle
    for data, fmt in ((turtle, "turtle"), (jsonld, "json-ld")):
        store.update("CLEAR ALL")
        assert store.count() == 0
        assert store.load(data, fmt) == 6
        assert store.count() == 6
        assert store.query("ASK { ?s ?p ?o }", {"o": Literal(HOSTILE[0])}).askAnswer


def test_malformed_query_and_update(store):
    with pytest.raises(QueryError):
        store.query("SELECT ?s WHERE { ?s ?p }")
    with pytest.raises(QueryError):
        store.update("INSERT DATA { <urn:a> <urn:b> }")
    with pytest.raises(QueryError):
        store.load(b"<urn:a> <urn:b> .", "nt")


def test_bind_values_places_block_in_where_group():
    q = 'PREFIX x: <urn:x#> SELECT ?s # WHERE { in a comment\nWHERE { ?s x:p "WHERE {" }'
    out = bind_values(q, {"o": Literal('a"b')})
    assert out.index("VALUES") > out.index("\nWHERE {")
    assert 'VALUES (?o) { ("a\\"b") }' in out
    assert bind_values("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", {"s": A}).startswith(
        "CONSTRUCT { ?s ?p ?o } WHERE {\nVALUES (?s) { (<urn:wwm:minds/a>) }")
    assert bind_values("ASK { ?s ?p ?o }", {"s": A}).startswith("ASK {\nVALUES")
