"""One SQLite connection per thread on one file, for the stores that the HTTP threads, the
worker threads and other processes of a node share (the federation's, SPORE's).

A ``sqlite3`` connection must not cross threads, so each thread opens its own on first use.
WAL lets readers and one writer work at once; the busy timeout makes a writer wait for
another instead of failing.
"""
from __future__ import annotations

import sqlite3
import threading

__all__ = ["ThreadConnections"]


class ThreadConnections:
    """``conns()`` is the calling thread's connection to ``path`` (autocommit, WAL); ``schema``
    (SQL statements) is run once, here, so the tables exist before any use."""

    def __init__(self, path: str, schema: str = ""):
        self.path = path
        self._local = threading.local()
        if schema:
            self().executescript(schema)

    def __call__(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
        return db

    def close(self) -> None:
        """Close the calling thread's connection (the next call opens a new one)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
