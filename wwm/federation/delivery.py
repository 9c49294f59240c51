"""Signed delivery of activities to remote inboxes: a durable queue with retries and backoff.

An activity to deliver is serialised once and queued per inbox in the store (SQLite),
so a restart loses nothing: a delivery claimed by a worker that died is claimed again
when its lease runs out.  Each attempt is a signed POST through the SSRF-guarded
client, signed with RFC 9421 where the server accepts it, else draft-cavage.  2xx: done.  401, 408, 429, 5xx and network errors: retried after
``base * 2**attempts`` seconds (capped, with jitter, at least any ``Retry-After``),
up to ``max_attempts``.  Other 4xx and refused addresses: given up at once ("dead").
401 is retried as Mastodon does: the receiver often answers it when it briefly failed to fetch
our key (a cold cache, a restart), and dropping the activity would lose e.g. an Accept for good.
"""
from __future__ import annotations

import json
import logging
import random

from .errors import FetchError, ForbiddenAddress
from .fetch import origin

__all__ = ["Delivery"]

log = logging.getLogger(__name__)
AP_CONTENT_TYPE = "application/activity+json"
RETRIED = (401, 408, 429)  # and every 5xx


class Delivery:
    """The outgoing queue of one node.

    Args:
        store: the :class:`~wwm.federation.store.Store`.
        http: the :class:`~wwm.federation.fetch.SafeHTTP` client.
        signer_for: ``signer_for(actor_name, rfc9421=bool)`` returns a request signer for that local actor.
        clock: ``time.time`` or a stand-in.
        base_delay: seconds before the first retry.
        max_delay: the longest wait between attempts.
        max_attempts: attempts before a delivery is given up.
        jitter: spread retries by up to this fraction of the delay.
    """

    def __init__(self, store, http, signer_for, *, clock, base_delay: float = 30.0, max_delay: float = 6 * 3600.0,
                 max_attempts: int = 10, jitter: float = 0.2, lease: float = 120.0):
        self.store = store
        self.http = http
        self.signer_for = signer_for
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.jitter = jitter
        self.lease = lease
        self.rfc9421: dict = {}  # server origin -> it accepts RFC 9421 signatures (False: use draft-cavage)

    def enqueue(self, actor: str, inboxes, activity: dict) -> list[int]:
        """Queue ``activity`` from local ``actor`` for each distinct inbox; returns the queue ids."""
        body = json.dumps(activity, separators=(",", ":")).encode("utf-8")
        now = self.clock()
        seen, ids = set(), []
        for inbox in inboxes:
            if isinstance(inbox, str) and inbox not in seen:
                seen.add(inbox)
                ids.append(self.store.enqueue_delivery(actor, inbox, body, now))
        return ids

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        delay *= 1.0 + self.jitter * random.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

    def run_due(self, limit: int = 20) -> int:
        """Attempt every due delivery (at most ``limit``); returns how many were attempted."""
        jobs = self.store.claim_deliveries(self.clock(), self.lease, limit)
        for job_id, actor, inbox, body, attempts in jobs:
            self._attempt(job_id, actor, inbox, bytes(body), attempts + 1)
        return len(jobs)

    def _post(self, actor: str, inbox: str, body: bytes):
        """POST signed with RFC 9421 first, then draft-cavage where that is refused ("double knocking",
        as Fedify does); the answer is remembered per server for the life of the process."""
        server = origin(inbox)
        rfc9421 = self.rfc9421.get(server, True)
        headers = {"Content-Type": AP_CONTENT_TYPE, "Accept": AP_CONTENT_TYPE}
        resp, _ = self.http.request("POST", inbox, data=body, read_body=False, headers=headers,
                                    signer=self.signer_for(actor, rfc9421=rfc9421))
        if rfc9421 and server not in self.rfc9421:
            if resp.status_code in (400, 401):
                self.rfc9421[server] = False
                return self._post(actor, inbox, body)
            if 200 <= resp.status_code < 300:
                self.rfc9421[server] = True
        return resp

    def _attempt(self, job_id: int, actor: str, inbox: str, body: bytes, attempt: int) -> None:
        retry_after = None
        try:
            resp = self._post(actor, inbox, body)
        except ForbiddenAddress as exc:
            log.warning("delivery %s to %s refused: %s", job_id, inbox, exc)
            self.store.delivery_dead(job_id, str(exc))
            return
        except FetchError as exc:
            error = str(exc)
        else:
            status = resp.status_code
            if 200 <= status < 300:
                self.store.delivery_done(job_id)
                return
            error = f"HTTP {status}"
            if status not in RETRIED and status < 500:
                log.warning("delivery %s to %s given up: %s", job_id, inbox, error)
                self.store.delivery_dead(job_id, error)
                return
            value = resp.headers.get("retry-after", "")
            retry_after = float(value) if value.isdigit() else None
        if attempt >= self.max_attempts:
            log.warning("delivery %s to %s given up after %d attempts: %s", job_id, inbox, attempt, error)
            self.store.delivery_dead(job_id, error)
            return
        self.store.delivery_retry(job_id, self.clock() + self.backoff(attempt, retry_after), error)
