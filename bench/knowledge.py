#!/usr/bin/env python3
"""Knowledge-graph benchmark: load rate and query latency, side by side in one run.

Stores, each filled with the same synthetic scoreboard (runs of M Minds in W
Worlds, 7 triples a run: type, world, mind, score, steps, outcome, source):

- ``embedded``: Oxigraph in a folder through rdflib (wwm.knowledge.EmbeddedStore, the default);
- ``oxigraph-serve``: a real ``oxigraph serve`` on 127.0.0.1 (wwm.knowledge.RemoteStore, HTTP);
- ``rdflib-memory``: rdflib's own in-memory graph and SPARQL engine (up to ``--rdflib-max`` triples);
- ``sqlite``: the same runs in a scoreboard file (the gateway's own schema, wwm.gateway.scoreboard.Scoreboard).

Load: triples (rows) per second through the store's ``add`` in batches of 5,000;
then the score summaries (``writers.update_summaries``, all at once as a rebuild does: runs and mean score of
each World and Mind, 4 triples each) are computed in the store, timed apart.
Query: "top 10 Minds by mean score in World W", W changing each time, results
converted to Python, p50 and p90 over ``--queries`` runs, asked two ways: over
every run (``raw``, the aggregate in SPARQL) and from the summaries
(``writers.top_minds``, what the project uses); for SQLite the same question in
SQL over the scoreboard's own table. Target: p50 <= 10 ms at 1M triples on the
embedded store.

    python bench/knowledge.py [--sizes 10000,100000,1000000] [--queries 200]

Heavy sizes on a shared machine: ``flock /tmp/wwm-heavy.lock nice -n 19 python bench/knowledge.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "knowledge"))

from rdflib import Literal, URIRef  # noqa: E402
from rdflib.namespace import RDF, XSD  # noqa: E402

from wwm.gateway.scoreboard import Scoreboard  # noqa: E402
from wwm.knowledge.store import EmbeddedStore, MemoryStore, RemoteStore  # noqa: E402
from wwm.knowledge.writers import top_minds, update_summaries  # noqa: E402
from wwm.knowledge.terms import WWM  # noqa: E402

TRIPLES_PER_RUN = 7
TOP = """PREFIX wwm: <https://w3id.org/wwm/ns#>
SELECT ?mind (AVG(?score) AS ?mean) (COUNT(?run) AS ?runs) WHERE {
  ?run wwm:world ?world ; wwm:mind ?mind ; wwm:score ?score .
} GROUP BY ?mind ORDER BY DESC(?mean) LIMIT 10"""
TOP_SQL = ("SELECT minds, AVG(score_value) AS mean, COUNT(*) FROM runs WHERE world = ? "
           "GROUP BY minds ORDER BY mean DESC LIMIT 10")


def synthetic_runs(n_runs: int, worlds: int, minds: int, seed: int = 1):
    rng = random.Random(seed)
    skill = [rng.random() for _ in range(minds)]
    for i in range(n_runs):
        m = rng.randrange(minds)
        yield {"run": f"run{i:09d}", "world": f"worlds/w{rng.randrange(worlds)}", "minds": f"minds/m{m}",
               "score": round(skill[m] + rng.gauss(0, 0.1), 4), "steps": 100, "outcome": "done", "source": "gateway"}


def run_triples(rec):
    r = URIRef("urn:wwm:runs/" + rec["run"])
    return [(r, RDF.type, WWM.Run), (r, WWM.world, URIRef("urn:wwm:" + rec["world"])),
            (r, WWM.mind, URIRef("urn:wwm:" + rec["minds"])),
            (r, WWM.score, Literal(rec["score"], datatype=XSD.double)), (r, WWM.steps, Literal(rec["steps"])),
            (r, WWM.outcome, Literal(rec["outcome"])), (r, WWM.source, Literal(rec["source"]))]


def p(values, q):
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def bench_store(name, store, runs, worlds, queries, summarise=True):
    batch, t0 = [], time.perf_counter()
    for rec in runs:
        batch += run_triples(rec)
        if len(batch) >= 5000:
            store.add(batch)
            batch = []
    store.add(batch)
    load = time.perf_counter() - t0
    n = len(runs) * TRIPLES_PER_RUN
    t0 = time.perf_counter()
    if summarise:
        update_summaries(store)  # all at once, as a rebuild does
    summarise_s = time.perf_counter() - t0
    raw, summary = [], []
    rng = random.Random(2)
    for _ in range(queries):
        w = URIRef(f"urn:wwm:worlds/w{rng.randrange(worlds)}")
        t = time.perf_counter()
        top = [(str(r.mind), float(r.mean), int(r.runs)) for r in store.query(TOP, {"world": w})]
        raw.append(time.perf_counter() - t)
        if summarise:
            t = time.perf_counter()
            best = top_minds(store, w)
            summary.append(time.perf_counter() - t)
            assert [m for m, _, _ in best] == [m for m, _, _ in top], "summaries and runs disagree"
    out = {"store": name, "triples": n, "load_s": round(load, 2), "load_rate": round(n / load),
           "raw_p50_ms": round(p(raw, 50) * 1000, 2), "raw_p90_ms": round(p(raw, 90) * 1000, 2), "top_rows": len(top)}
    if summarise:
        out.update(summarise_s=round(summarise_s, 2), p50_ms=round(p(summary, 50) * 1000, 2),
                   p90_ms=round(p(summary, 90) * 1000, 2))
    return out


def bench_sqlite(path, runs, worlds, queries):
    t0 = time.perf_counter()
    Scoreboard(path)._db().close()  # the gateway's own table
    db = sqlite3.connect(path)
    with db:
        db.executemany("INSERT INTO runs (run, server, kind, world, minds, steps, score, score_value, start, end, "
                       "outcome, error, source) VALUES (?, ?, 'world', ?, ?, ?, ?, ?, 0, 0, ?, NULL, ?)",
                       [(r["run"], r["world"], r["world"], r["minds"], r["steps"], str(r["score"]), r["score"],
                         r["outcome"], r["source"]) for r in runs])
    load = time.perf_counter() - t0
    rng = random.Random(2)
    times = []
    for _ in range(queries):
        w = f"worlds/w{rng.randrange(worlds)}"
        t = time.perf_counter()
        top = db.execute(TOP_SQL, (w,)).fetchall()
        times.append(time.perf_counter() - t)
    db.close()
    return {"store": "sqlite", "triples": len(runs) * TRIPLES_PER_RUN, "load_s": round(load, 2),
            "load_rate": round(len(runs) / load), "p50_ms": round(p(times, 50) * 1000, 2),
            "p90_ms": round(p(times, 90) * 1000, 2), "top_rows": len(top), "note": "rows/s"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="Triple counts, comma-separated.")
    ap.add_argument("--worlds", type=int, default=100, help="Worlds the runs are spread over.")
    ap.add_argument("--minds", type=int, default=500, help="Minds the runs are spread over.")
    ap.add_argument("--queries", type=int, default=200, help="Queries timed per store and size.")
    ap.add_argument("--rdflib-max", type=int, default=100_000, help="Largest size tried on rdflib's memory store.")
    ap.add_argument("--no-server", action="store_true", help="Leave out oxigraph serve.")
    a = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="wwm-kg-bench-") as tmp:
        server = None
        if not a.no_server:
            from kgkit import OxigraphServer

            server = OxigraphServer(os.path.join(tmp, "server"))
            server.start()
        try:
            for size in [int(s) for s in a.sizes.split(",")]:
                runs = list(synthetic_runs(size // TRIPLES_PER_RUN, a.worlds, a.minds))
                stores = [("embedded", lambda: EmbeddedStore(os.path.join(tmp, f"embedded-{size}")))]
                if server:
                    stores.append(("oxigraph-serve", lambda: _cleared(RemoteStore(server.url, queue=os.path.join(
                        tmp, "queue.sqlite"), timeout=600))))
                if size <= a.rdflib_max:
                    stores.append(("rdflib-memory", MemoryStore))
                for name, make in stores:
                    store = make()
                    try:  # rdflib's own update engine takes 80 s for the summaries of 10k triples: raw only
                        results.append(bench_store(name, store, runs, a.worlds, a.queries,
                                                   summarise=name != "rdflib-memory"))
                    finally:
                        store.close()
                    print(_row(results[-1]), flush=True)
                results.append(bench_sqlite(os.path.join(tmp, f"scores-{size}.sqlite"), runs, a.worlds, a.queries))
                print(_row(results[-1]), flush=True)
        finally:
            if server:
                server.stop()
    print(json.dumps({"bench": "knowledge", "worlds": a.worlds, "minds": a.minds, "queries": a.queries,
                      "results": results}))
    return 0


def _cleared(store):
    store.update("CLEAR ALL")
    return store


def _row(r) -> str:
    unit = "rows/s" if r["store"] == "sqlite" else "triples/s"
    line = f"{r['triples']:>9,} triples  {r['store']:<15} load {r['load_s']:>7.2f} s ({r['load_rate']:>9,} {unit})  "
    line += (f"top-10 p50 {r['p50_ms']:>7.2f} ms  p90 {r['p90_ms']:>7.2f} ms" if "p50_ms" in r
             else "top-10 (no summaries)             ")
    if "raw_p50_ms" in r:
        line += (f"  | over every run p50 {r['raw_p50_ms']:>7.2f} ms  p90 {r['raw_p90_ms']:>7.2f} ms"
                 + (f"  | summaries built in {r['summarise_s']:.2f} s" if "summarise_s" in r else ""))
    return line


if __name__ == "__main__":
    sys.exit(main())
