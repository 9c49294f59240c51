"""Faults: kill -9 of a writer loses nothing acknowledged; a second opener is told; a SPARQL server
that is down keeps writes in a durable queue that is replayed, in order, when it is back."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rdflib import Literal, URIRef

from kgkit import OxigraphServer, oxigraph_or_skip
from wwm.knowledge.store import EmbeddedStore, RemoteStore, StoreUnavailable
from wwm.knowledge.terms import WWM
from wwmtest import REPO

WRITER = """
import sys
from rdflib import Literal, URIRef
from wwm.knowledge.store import EmbeddedStore
from wwm.knowledge.terms import WWM
s = EmbeddedStore(sys.argv[1])
i = 0
while True:
    s.add([(URIRef(f"urn:wwm:runs/{i}"), WWM.steps, Literal(i))])
    print(i, flush=True)   # acknowledged: add() has returned
    i += 1
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    path = str(tmp_path / "kg")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, env=env, text=True)
    acked = -1
    deadline = time.monotonic() + 60
    try:
        while acked < 200 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert acked >= 200, "the writer did not get going"
    with EmbeddedStore(path) as s:
        got = {int(r.n) for r in s.query("SELECT ?n WHERE { ?r <https://w3id.org/wwm/ns#steps> ?n }")}
    assert set(range(acked + 1)) <= got


def test_second_process_is_told_the_store_is_held(tmp_path):
    path = str(tmp_path / "kg")
    with EmbeddedStore(path):
        code = "import sys; from wwm.knowledge.store import EmbeddedStore; EmbeddedStore(sys.argv[1])"
        out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert out.returncode != 0 and "StoreUnavailable" in out.stderr and "SPARQL endpoint" in out.stderr


def test_writes_wait_for_a_server_that_is_down(tmp_path):
    oxigraph_or_skip()
    server = OxigraphServer(str(tmp_path / "data"))
    server.start()
    queue = str(tmp_path / "queue.sqlite")
    s = RemoteStore(server.url, queue=queue, timeout=5)
    r = URIRef("urn:wwm:runs/1")
    try:
        s.add([(r, WWM.steps, Literal(1))])
        server.stop()
        # the server is gone: writes are queued (not lost, not raised), reads say so clearly
        s.add([(r, WWM.outcome, Literal("running"))])
        s.replace(r, [(r, WWM.steps, Literal(2)), (r, WWM.outcome, Literal("done"))])
        s.add([(URIRef("urn:wwm:runs/2"), WWM.steps, Literal('x" } DROP ALL'))])
        assert len(s.queue.pending(s.update_url)) == 3
        with pytest.raises(StoreUnavailable, match="unreachable"):
            s.query("ASK { ?s ?p ?o }")
        # a new process sees the same queue (it is on disk) and replays it once the server is back
        server.start()
        s2 = RemoteStore(server.url, queue=queue, timeout=5)
        rows = {(str(x.p), str(x.o)) for x in s2.query("SELECT ?p ?o WHERE { ?s ?p ?o }", {"s": r})}
        assert rows == {(str(WWM.steps), "2"), (str(WWM.outcome), "done")}  # replayed in order
        assert s2.count() == 3
        assert s2.queue.pending(s2.update_url) == []
    finally:
        server.stop()
