"""``Federation``: one node's ActivityPub machinery, built from a config mapping, no Flask needed.

It owns the store, the key store, the local actor registry, the SSRF-guarded HTTP
client, the remote actor/key cache, the delivery queue and the inbox processing,
and runs the asynchronous side (inbox jobs, deliveries) either in a background
worker thread (:meth:`start_worker`) or on demand (:meth:`run_pending`, for tests
and cron-style use).

Configuration keys (Flask ``app.config`` or a dict; defaults in brackets):

=============================== ==========================================================
``FEDERATION_BASE_URL``         public base URL, e.g. ``https://fungus.example`` [required]
``ROOT``                        folder with ``minds/`` and ``worlds/`` [none: node actor only]
``RUNS``                        runs folder for the Minds asked on mentions [``ROOT/runs``]
``FEDERATION_DIR``              keys and state [``ROOT/var/federation``]
``FEDERATION_NODE_NAME``        the node actor's username [``node``]
``ALLOW_PRIVATE_FETCH``         TESTS ONLY: fetch from loopback/private addresses, plain http [False]
``FEDERATION_ALLOW_HTTP``       allow plain-http remote URLs [same as ALLOW_PRIVATE_FETCH]
``FEDERATION_CA_BUNDLE``        CA file for outgoing TLS (tests with a private CA) [system]
``FEDERATION_MAX_BODY``         largest inbox body, bytes [262144]
``FEDERATION_MAX_SKEW``         how far a signed Date may be off, seconds [3600]
``FEDERATION_RATE``             per-sender inbox rate: requests per second [1.0]
``FEDERATION_BURST``            per-sender burst [30]
``FEDERATION_IP_RATE``          per-address inbox rate [10.0]; ``FEDERATION_IP_BURST`` [300]
``FEDERATION_KEY_REFETCH``      a key is refetched at most this often, seconds [60]
``FEDERATION_AUTHORIZED_FETCH`` require signed GETs for outbox/collections/objects [False]
``FEDERATION_RETRY_BASE``       first retry delay of a delivery, seconds [30]
``FEDERATION_RETRY_MAX``        longest delay between attempts, seconds [21600]
``FEDERATION_MAX_ATTEMPTS``     attempts before a delivery is given up [10]
``FEDERATION_POLL``             worker idle poll interval, seconds [0.5]
``FEDERATION_ASK_MIND``         the mention answerer: a callable or "module:function" (mentions.py) [songs]
``FEDERATION_REPLY_RATE``       Mind answers per sender per hour [30]
``FEDERATION_ANNOUNCE_RUNS``    the worker posts finished World runs of this gateway [False]
``FEDERATION_ANNOUNCE_RATE``    such posts per hour, at most [6]
``FEDERATION_ANNOUNCE_MIN_STEPS`` shorter runs are not posted [10]
=============================== ==========================================================
"""
from __future__ import annotations

import logging
import os
import threading
import time

from .actors import Actors
from .delivery import Delivery
from .errors import FederationError
from .fetch import RemoteActors, SafeHTTP
from .httpsig import sign_request
from .keys import KeyStore
from .store import Store

__all__ = ["Federation", "RateLimiter"]


class RateLimiter:
    """Token buckets by key: ``rate`` tokens per second, at most ``burst``; in memory, LRU-bounded."""

    def __init__(self, rate: float, burst: float, *, clock=time.monotonic, max_keys: int = 10000):
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """Take one token for ``key``; returns (allowed, seconds until a token is free)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)  # re-inserted last: dict order is LRU order
            while len(self._buckets) > self.max_keys:
                self._buckets.pop(next(iter(self._buckets)))
        return allowed, 0.0 if allowed else (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class Federation:
    """The ActivityPub side of one node.

    Args:
        config: a mapping of the keys in this module's docstring.
        clock: ``time.time`` or a stand-in (tests move time forward).
    """

    def __init__(self, config, *, clock=time.time):
        get = config.get
        base = get("FEDERATION_BASE_URL")
        if not base:
            raise FederationError("FEDERATION_BASE_URL is not set")
        self.config = config
        self.clock = clock
        self.log = logging.getLogger("wwm.federation")
        root = get("ROOT")
        self.root = os.fspath(root) if root else None
        runs = get("RUNS") or (os.path.join(self.root, "runs") if self.root else None)
        self.runs = os.fspath(runs) if runs else None
        directory = get("FEDERATION_DIR") or os.path.join(self.root or ".", "var", "federation")
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self.actors = Actors(base, self.root, get("FEDERATION_NODE_NAME") or "node")
        self.keys = KeyStore(os.path.join(self.directory, "keys"))
        self.store = Store(os.path.join(self.directory, "federation.sqlite3"))
        private = _flag(get("ALLOW_PRIVATE_FETCH", False))
        self.http = SafeHTTP(allow_private=private, allow_http=_flag(get("FEDERATION_ALLOW_HTTP", private)),
                             verify=get("FEDERATION_CA_BUNDLE") or True)
        self.max_body = int(get("FEDERATION_MAX_BODY", 256 * 1024))
        self.max_skew = float(get("FEDERATION_MAX_SKEW", 3600))
        self.authorized_fetch = _flag(get("FEDERATION_AUTHORIZED_FETCH", False))
        self.sender_limiter = RateLimiter(float(get("FEDERATION_RATE", 1.0)), float(get("FEDERATION_BURST", 30)))
        self.ip_limiter = RateLimiter(float(get("FEDERATION_IP_RATE", 10.0)), float(get("FEDERATION_IP_BURST", 300)))
        self.reply_limiter = RateLimiter(float(get("FEDERATION_REPLY_RATE", 30)) / 3600.0,
                                         float(get("FEDERATION_REPLY_RATE", 30)))
        self.announce_runs = _flag(get("FEDERATION_ANNOUNCE_RUNS", False))
        self.announce_min_steps = int(get("FEDERATION_ANNOUNCE_MIN_STEPS", 10))
        rate = float(get("FEDERATION_ANNOUNCE_RATE", 6))
        self.announce_limiter = RateLimiter(rate / 3600.0, rate)
        self.started = clock()
        self.remote = RemoteActors(self.http, self.store, signer=self.signer_for(self.actors.node_name),
                                   clock=clock, refetch_interval=float(get("FEDERATION_KEY_REFETCH", 60)))
        self.delivery = Delivery(self.store, self.http, self.signer_for, clock=clock,
                                 base_delay=float(get("FEDERATION_RETRY_BASE", 30)),
                                 max_delay=float(get("FEDERATION_RETRY_MAX", 6 * 3600)),
                                 max_attempts=int(get("FEDERATION_MAX_ATTEMPTS", 10)))
        from .mentions import default_ask_mind

        ask = get("FEDERATION_ASK_MIND") or default_ask_mind
        if isinstance(ask, str):  # "package.module:function"
            import importlib

            module, _, attr = ask.partition(":")
            ask = getattr(importlib.import_module(module), attr)
        self.ask_mind = ask
        self.handlers: list = []  # extra ``fn(fed, actor_name, activity)`` run after the built-in ones
        self.follow_policy = None  # ``fn(local_name, follower) -> bool``: False answers a Follow with Reject
        self.poll = float(get("FEDERATION_POLL", 0.5))
        self._minds = None  # the worker's pool for Mind calls: a slow Mind must not hold up deliveries
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    # -- keys and signing ----------------------------------------------------------

    def ensure_keys(self) -> list[str]:
        """Generate (once) and load the key of every local actor; returns their names."""
        names = sorted(self.actors.all())
        for name in names:
            self.keys.private_key(name)
        return names

    def signer_for(self, actor: str, *, rfc9421: bool = False):
        """A request signer (for :meth:`SafeHTTP.request`) that signs as local ``actor``
        (draft-cavage, or RFC 9421 with ``rfc9421``)."""
        sign = sign_request
        if rfc9421:
            from .rfc9421 import sign

        def signer(method, url, body, headers):
            return sign(method, url, key_id=self.actors.key_id(actor), private_key=self.keys.private_key(actor),
                        body=body, headers=headers, now=self.clock())

        return signer

    def actor_document(self, name: str) -> dict | None:
        actor = self.actors.get(name)
        return None if actor is None else self.actors.document(actor, self.keys.public_pem(name))

    def server_changed(self, server_id: str, change: str) -> dict | None:
        """A server folder under ROOT was added, changed (``update``) or removed (``delete``):
        its actor's followers get an ``Update`` with the new document, or a ``Delete``.
        Returns the activity published, or None (no such actor, or nobody follows it)."""
        import uuid

        from .actors import AP_CONTEXT, AS_PUBLIC
        from .outbox import publish

        before = self.actors.by_server(server_id)
        self.actors.invalidate()
        after = self.actors.by_server(server_id)
        actor = after or before
        if actor is None:
            return None
        inboxes = self.store.follower_inboxes(actor.name)
        if not inboxes:
            return None
        me = self.actors.id(actor.name)
        activity = {"@context": AP_CONTEXT, "id": self.actors.object_url(uuid.uuid4().hex), "actor": me,
                    "to": [AS_PUBLIC], "cc": [me + "/followers"]}
        if after is not None and change != "delete":
            activity.update(type="Update", object=self.actor_document(actor.name))
        else:
            activity.update(type="Delete", object=me)
        publish(self, actor.name, activity, inboxes=inboxes)
        return activity

    # -- the asynchronous side -----------------------------------------------------------

    def run_pending(self, limit: int = 50) -> int:
        """Process queued inbox activities, then attempt due deliveries; returns the work done."""
        from .inbox import process_activity

        done = 0
        for job_id, actor, activity, attempts in self.store.claim_inbox(self.clock(), lease=300.0, limit=limit):
            try:
                process_activity(self, actor, activity)
            except Exception:  # one bad activity must not stop the queue
                self.log.exception("inbox job %s failed (attempt %d)", job_id, attempts)
                if attempts < 3:
                    continue  # its lease runs out and it is tried again
            self.store.finish_inbox(job_id)
            done += 1
        done += self.delivery.run_due(limit)
        return done

    def in_background(self, fn, *args) -> None:
        """Run ``fn(*args)`` off the worker thread when the worker runs (a Mind call), else at once."""
        if self._minds is None:
            fn(*args)
            return

        def run():
            try:
                fn(*args)
            except Exception:
                self.log.exception("background job failed")
            self.wake()  # its replies are queued: deliver them now

        self._minds.submit(run)

    def wake(self) -> None:
        """Tell the worker there is new work (inbox job or delivery)."""
        self._wake.set()

    def start_worker(self) -> threading.Thread:
        """Start the background worker thread (idempotent)."""
        if self._worker is None or not self._worker.is_alive():
            from concurrent.futures import ThreadPoolExecutor

            self._stop.clear()
            self._minds = self._minds or ThreadPoolExecutor(max_workers=2, thread_name_prefix="wwm-mind")
            self._worker = threading.Thread(target=self._work, name="wwm-federation-worker", daemon=True)
            self._worker.start()
        return self._worker

    def stop_worker(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        if self._minds is not None:
            self._minds.shutdown(wait=False, cancel_futures=True)
            self._minds = None

    def _work(self) -> None:
        from .outbox import announce_finished_runs

        last_purge = last_announce = 0.0
        while not self._stop.is_set():
            try:
                busy = self.run_pending()
                now = self.clock()
                if self.announce_runs and now - last_announce > 30:
                    busy += len(announce_finished_runs(self, self.started, min_steps=self.announce_min_steps))
                    last_announce = now
                if now - last_purge > 3600:
                    self.store.purge_seen(now)
                    self.store.purge_deliveries(now - 7 * 86400)
                    last_purge = now
            except Exception:
                self.log.exception("federation worker")
                busy = 0
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()

    def close(self) -> None:
        self.stop_worker()
        self.store.close()
