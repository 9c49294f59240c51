"""The node's federation state in one SQLite file: followers, published objects, queues, caches.

Everything that must survive a restart lives here: followers and following, the
objects and activities the node published (its outbox), the inbox and delivery
queues, the replay cache of signatures and activity ids, remote actors and keys,
and the replies whose likes and answers feed back as reward.  WAL mode and a
connection per thread let the HTTP threads and the worker share it, and several
processes too (claims are leases, taken inside ``BEGIN IMMEDIATE``).
"""
from __future__ import annotations

import json
import os

from .httpsig import KeyInfo
from .keys import load_public_key
from .localdb import ThreadConnections

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS followers (
    actor TEXT NOT NULL, follower TEXT NOT NULL, follow_id TEXT, inbox TEXT NOT NULL,
    shared_inbox TEXT, created REAL NOT NULL, PRIMARY KEY (actor, follower));
CREATE TABLE IF NOT EXISTS following (
    actor TEXT NOT NULL, target TEXT NOT NULL, follow_id TEXT NOT NULL, state TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (actor, target));
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY, actor TEXT NOT NULL, kind TEXT NOT NULL, doc TEXT NOT NULL,
    public INTEGER NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS objects_outbox ON objects (actor, kind, created);
CREATE TABLE IF NOT EXISTS inbox_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT, activity TEXT NOT NULL, received REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, claimed_until REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT NOT NULL, inbox TEXT NOT NULL, body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, claimed_until REAL NOT NULL DEFAULT 0, last_error TEXT,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS remote_actors (id TEXT PRIMARY KEY, doc TEXT NOT NULL, fetched REAL NOT NULL);
CREATE TABLE IF NOT EXISTS remote_keys (
    key_id TEXT PRIMARY KEY, owner TEXT NOT NULL, pem TEXT NOT NULL, fetched REAL NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    note TEXT PRIMARY KEY, mind TEXT NOT NULL, sender TEXT NOT NULL, request TEXT,
    consumed INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS replies_by_sender ON replies (mind, sender, created);
CREATE TABLE IF NOT EXISTS feedback (
    note TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, value REAL NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (note, actor, kind));
"""


class Store:
    """SQLite-backed federation state at ``path`` (created on first use)."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        self._db = ThreadConnections(path, _SCHEMA)  # self._db(): this thread's connection

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, exc, tb):
            self.db.execute("ROLLBACK" if kind else "COMMIT")

    def _tx(self):
        return self._Tx(self._db())

    def _one(self, sql, args=()):
        return self._db().execute(sql, args).fetchone()

    def _all(self, sql, args=()):
        return self._db().execute(sql, args).fetchall()

    def close(self) -> None:
        self._db.close()

    # -- followers / following ------------------------------------------------

    def add_follower(self, actor: str, follower: str, follow_id: str | None, inbox: str,
                     shared_inbox: str | None, now: float) -> None:
        self._db().execute(
            "INSERT INTO followers VALUES (?,?,?,?,?,?) ON CONFLICT (actor, follower) DO UPDATE SET "
            "follow_id=excluded.follow_id, inbox=excluded.inbox, shared_inbox=excluded.shared_inbox",
            (actor, follower, follow_id, inbox, shared_inbox, now))

    def remove_follower(self, actor: str | None, follower: str) -> int:
        """Remove ``follower`` from ``actor`` (from every local actor when ``actor`` is None)."""
        if actor is None:
            return self._db().execute("DELETE FROM followers WHERE follower=?", (follower,)).rowcount
        return self._db().execute("DELETE FROM followers WHERE actor=? AND follower=?",
                                  (actor, follower)).rowcount

    def is_follower(self, actor: str, follower: str) -> bool:
        return self._one("SELECT 1 FROM followers WHERE actor=? AND follower=?", (actor, follower)) is not None

    def followers(self, actor: str, offset: int = 0, limit: int = 1000) -> list[str]:
        return [r[0] for r in self._all("SELECT follower FROM followers WHERE actor=? ORDER BY created, follower "
                                        "LIMIT ? OFFSET ?", (actor, limit, offset))]

    def count_followers(self, actor: str | None = None) -> int:
        if actor is None:
            return self._one("SELECT COUNT(*) FROM followers")[0]
        return self._one("SELECT COUNT(*) FROM followers WHERE actor=?", (actor,))[0]

    def follower_inboxes(self, actor: str) -> list[str]:
        """One inbox per follower server: the shared inbox where there is one."""
        rows = self._all("SELECT DISTINCT COALESCE(shared_inbox, inbox) FROM followers WHERE actor=?", (actor,))
        return [r[0] for r in rows]

    def set_following(self, actor: str, target: str, follow_id: str, state: str, now: float) -> None:
        self._db().execute("INSERT OR REPLACE INTO following VALUES (?,?,?,?,?)",
                           (actor, target, follow_id, state, now))

    def update_following(self, actor: str, target: str, state: str | None) -> int:
        """Mark a follow accepted (``state``) or forget it (``state=None``)."""
        if state is None:
            return self._db().execute("DELETE FROM following WHERE actor=? AND target=?", (actor, target)).rowcount
        return self._db().execute("UPDATE following SET state=? WHERE actor=? AND target=?",
                                  (state, actor, target)).rowcount

    def following_of(self, target: str) -> list[tuple[str, str, str]]:
        """(local actor, follow id, state) for every follow of ``target``."""
        return self._all("SELECT actor, follow_id, state FROM following WHERE target=?", (target,))

    def following(self, actor: str, offset: int = 0, limit: int = 1000) -> list[str]:
        return [r[0] for r in self._all("SELECT target FROM following WHERE actor=? AND state='accepted' "
                                        "ORDER BY created LIMIT ? OFFSET ?", (actor, limit, offset))]

    def links_since(self, actor: str) -> list[tuple[str, float]]:
        """(peer URL, when) for every follower and every accepted follow of ``actor``."""
        return self._all("SELECT follower, created FROM followers WHERE actor=?", (actor,)) + \
            self._all("SELECT target, created FROM following WHERE actor=? AND state='accepted'", (actor,))

    def count_following(self, actor: str) -> int:
        return self._one("SELECT COUNT(*) FROM following WHERE actor=? AND state='accepted'", (actor,))[0]

    # -- published objects -------------------------------------------------------

    def save_object(self, obj_id: str, actor: str, kind: str, doc: dict, public: bool, now: float) -> None:
        self._db().execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?)",
                           (obj_id, actor, kind, json.dumps(doc), int(public), now))

    def get_object(self, obj_id: str) -> tuple[dict, str, bool] | None:
        row = self._one("SELECT doc, actor, public FROM objects WHERE id=?", (obj_id,))
        return (json.loads(row[0]), row[1], bool(row[2])) if row else None

    def outbox(self, actor: str, offset: int = 0, limit: int = 20) -> list[dict]:
        rows = self._all("SELECT doc FROM objects WHERE actor=? AND kind='activity' AND public=1 "
                         "ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?", (actor, limit, offset))
        return [json.loads(r[0]) for r in rows]

    def count_outbox(self, actor: str) -> int:
        return self._one("SELECT COUNT(*) FROM objects WHERE actor=? AND kind='activity' AND public=1",
                         (actor,))[0]

    # -- inbox queue -------------------------------------------------------------

    def enqueue_inbox(self, actor: str | None, activity: dict, now: float) -> int:
        return self._db().execute("INSERT INTO inbox_jobs (actor, activity, received) VALUES (?,?,?)",
                                  (actor, json.dumps(activity), now)).lastrowid

    def claim_inbox(self, now: float, lease: float, limit: int = 10) -> list[tuple[int, str | None, dict, int]]:
        with self._tx() as db:
            rows = db.execute("SELECT id, actor, activity, attempts FROM inbox_jobs WHERE claimed_until<=? "
                              "ORDER BY id LIMIT ?", (now, limit)).fetchall()
            for row in rows:
                db.execute("UPDATE inbox_jobs SET claimed_until=?, attempts=attempts+1 WHERE id=?",
                           (now + lease, row[0]))
        return [(r[0], r[1], json.loads(r[2]), r[3] + 1) for r in rows]

    def finish_inbox(self, job_id: int) -> None:
        self._db().execute("DELETE FROM inbox_jobs WHERE id=?", (job_id,))

    def count_inbox(self) -> int:
        return self._one("SELECT COUNT(*) FROM inbox_jobs")[0]

    # -- delivery queue ----------------------------------------------------------

    def enqueue_delivery(self, actor: str, inbox: str, body: bytes, now: float) -> int:
        return self._db().execute("INSERT INTO deliveries (actor, inbox, body, next_at, created) VALUES (?,?,?,?,?)",
                                  (actor, inbox, body, now, now)).lastrowid

    def claim_deliveries(self, now: float, lease: float, limit: int = 10) -> list[tuple[int, str, str, bytes, int]]:
        with self._tx() as db:
            rows = db.execute("SELECT id, actor, inbox, body, attempts FROM deliveries WHERE status='pending' "
                              "AND next_at<=? AND claimed_until<=? ORDER BY next_at, id LIMIT ?",
                              (now, now, limit)).fetchall()
            for row in rows:
                db.execute("UPDATE deliveries SET claimed_until=? WHERE id=?", (now + lease, row[0]))
        return [tuple(r) for r in rows]

    def delivery_done(self, delivery_id: int) -> None:
        self._db().execute("UPDATE deliveries SET status='done', attempts=attempts+1, last_error=NULL, "
                           "body=X'' WHERE id=?", (delivery_id,))

    def delivery_retry(self, delivery_id: int, next_at: float, error: str) -> None:
        self._db().execute("UPDATE deliveries SET attempts=attempts+1, next_at=?, claimed_until=0, last_error=? "
                           "WHERE id=?", (next_at, error[:500], delivery_id))

    def delivery_dead(self, delivery_id: int, error: str) -> None:
        self._db().execute("UPDATE deliveries SET status='dead', attempts=attempts+1, last_error=? WHERE id=?",
                           (error[:500], delivery_id))

    def deliveries(self, status: str | None = None) -> list[dict]:
        sql = "SELECT id, actor, inbox, body, status, attempts, next_at, last_error FROM deliveries"
        rows = self._all(sql + (" WHERE status=?" if status else "") + " ORDER BY id", (status,) if status else ())
        keys = ("id", "actor", "inbox", "body", "status", "attempts", "next_at", "last_error")
        return [dict(zip(keys, r)) for r in rows]

    def purge_deliveries(self, before: float) -> int:
        return self._db().execute("DELETE FROM deliveries WHERE status IN ('done','dead') AND created<?",
                                  (before,)).rowcount

    # -- replay cache ------------------------------------------------------------

    def remember(self, key: str, expires: float, now: float) -> bool:
        """Record ``key`` until ``expires``; False when it is already there (a replay)."""
        with self._tx() as db:
            db.execute("DELETE FROM seen WHERE key=? AND expires<?", (key, now))
            return db.execute("INSERT OR IGNORE INTO seen VALUES (?,?)", (key, expires)).rowcount == 1

    def seen(self, key: str) -> bool:
        return self._one("SELECT 1 FROM seen WHERE key=?", (key,)) is not None

    def purge_seen(self, now: float) -> int:
        return self._db().execute("DELETE FROM seen WHERE expires<?", (now,)).rowcount

    # -- remote cache ------------------------------------------------------------

    def remote_actor(self, actor_id: str) -> tuple[dict, float] | None:
        row = self._one("SELECT doc, fetched FROM remote_actors WHERE id=?", (actor_id,))
        return (json.loads(row[0]), row[1]) if row else None

    def save_remote_actor(self, actor_id: str, doc: dict, now: float) -> None:
        self._db().execute("INSERT OR REPLACE INTO remote_actors VALUES (?,?,?)", (actor_id, json.dumps(doc), now))

    def forget_remote_actor(self, actor_id: str) -> None:
        self._db().execute("DELETE FROM remote_actors WHERE id=?", (actor_id,))
        self._db().execute("DELETE FROM remote_keys WHERE owner=?", (actor_id,))

    def remote_key(self, key_id: str) -> tuple[KeyInfo, float] | None:
        row = self._one("SELECT owner, pem, fetched FROM remote_keys WHERE key_id=?", (key_id,))
        if not row:
            return None
        return KeyInfo(key_id, row[0], row[1], load_public_key(row[1])), row[2]

    def save_remote_key(self, info: KeyInfo, now: float) -> None:
        self._db().execute("INSERT OR REPLACE INTO remote_keys VALUES (?,?,?,?)",
                           (info.key_id, info.owner, info.pem, now))

    def touch_remote_key(self, key_id: str, now: float) -> None:
        self._db().execute("UPDATE remote_keys SET fetched=? WHERE key_id=?", (now, key_id))

    # -- replies and their feedback ----------------------------------------------

    def save_reply(self, note: str, mind: str, sender: str, request: str | None, now: float) -> None:
        self._db().execute("INSERT OR REPLACE INTO replies (note, mind, sender, request, created) VALUES (?,?,?,?,?)",
                           (note, mind, sender, request, now))

    def reply(self, note: str) -> dict | None:
        row = self._one("SELECT mind, sender, request, consumed FROM replies WHERE note=?", (note,))
        return dict(zip(("mind", "sender", "request", "consumed"), row)) if row else None

    def add_feedback(self, note: str, actor: str, kind: str, value: float, now: float) -> bool:
        return self._db().execute("INSERT OR IGNORE INTO feedback VALUES (?,?,?,?,?)",
                                  (note, actor, kind, value, now)).rowcount == 1

    def remove_feedback(self, note: str, actor: str, kind: str) -> int:
        return self._db().execute("DELETE FROM feedback WHERE note=? AND actor=? AND kind=?",
                                  (note, actor, kind)).rowcount

    def feedback(self, note: str) -> list[tuple[str, str, float]]:
        return self._all("SELECT actor, kind, value FROM feedback WHERE note=? ORDER BY created", (note,))

    def take_reward(self, mind: str, sender: str) -> float | None:
        """The reward for the last unconsumed reply of ``mind`` to ``sender``, marking it consumed.

        The reward is the sum of the feedback on that reply, clamped to [-1, 1]; 0 when there was none.
        Returns None when there is no such reply.
        """
        with self._tx() as db:
            row = db.execute("SELECT note FROM replies WHERE mind=? AND sender=? AND consumed=0 "
                             "ORDER BY created DESC LIMIT 1", (mind, sender)).fetchone()
            if not row:
                return None
            db.execute("UPDATE replies SET consumed=1 WHERE mind=? AND sender=?", (mind, sender))
            total = db.execute("SELECT COALESCE(SUM(value), 0) FROM feedback WHERE note=?", (row[0],)).fetchone()[0]
        return max(-1.0, min(1.0, float(total)))
