"""One SQLite connection per thread (wwm.federation.localdb), as the federation and SPORE stores use it."""
from __future__ import annotations

import threading

from wwm.federation.localdb import ThreadConnections
from wwm.federation.store import Store
from wwm.spore.groups import SporeStore


def test_each_thread_gets_its_own_connection_to_one_wal_file(tmp_path):
    conns = ThreadConnections(str(tmp_path / "x.sqlite3"), "CREATE TABLE IF NOT EXISTS t (v INTEGER);")
    mine = conns()
    assert conns() is mine and mine.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seen = {}

    def other():
        seen["db"] = conns()
        seen["db"].execute("INSERT INTO t VALUES (7)")  # autocommit: visible to the other connections
        seen["same"] = conns() is seen["db"]

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["db"] is not mine and seen["same"]
    assert mine.execute("SELECT v FROM t").fetchall() == [(7,)]
    conns.close()
    assert conns() is not mine  # closed: the next call opens a new one
    assert ThreadConnections(conns.path)().execute("SELECT v FROM t").fetchall() == [(7,)]


def test_the_federation_and_spore_stores_share_the_helper(tmp_path):
    fed, spore = Store(str(tmp_path / "fed.sqlite3")), SporeStore(str(tmp_path / "spore.sqlite3"))
    assert isinstance(fed._db, ThreadConnections) and isinstance(spore._db, ThreadConnections)
    fed.add_follower("node", "https://peer.example/actor", None, "https://peer.example/inbox", None, 1.0)
    spore.put("round", 3)
    out = {}
    t = threading.Thread(target=lambda: out.update(followers=fed.followers("node"), round=spore.get("round")))
    t.start()
    t.join()
    assert out == {"followers": ["https://peer.example/actor"], "round": 3}
    fed.close()
