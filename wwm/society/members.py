"""A society's link to one member Mind: a worker thread, one run, one keep-alive connection.

Each member has its own thread, so the society asks every member at once and
each keeps its HTTP connection alive between steps (the client keeps one
connection per thread).  The society never waits for a member longer than its
deadline: a late answer is dropped, and the member is skipped while its thread
is still busy.  A member whose run failed (its gateway is down, its Program 1
crashed or timed out, its run was reaped) gets a new run on a later step, no
sooner than ``retry`` seconds after the failure: it rejoins when it recovers.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import threading
import time
from dataclasses import dataclass

from wwm.protocol.errors import BadRequest, BadResponse, ClientError, Conflict, ConnectionFailed, GatewayError, NotFound, ProgramTimeout, ProtocolError, TooManyRuns
from wwm.protocol.annotations import Annotated, AnnotationError, parse
from wwm.society.soml import Member

__all__ = ["Answer", "MemberLink", "classify"]

# Why a member was skipped for a step.
DOWN = "down"            # its gateway cannot be reached
CRASHED = "crashed"      # its Program 1 crashed or gave up (HTTP 502)
TIMEOUT = "timeout"      # its Program 1 was too slow for its own gateway (504)
SLOW = "slow"            # no answer within the society's deadline
BUSY = "busy"            # still working on an earlier state
GARBAGE = "garbage"      # an answer that is not a usable action
REFUSED = "refused"      # its gateway refused the state or is full (400, 503)
WAITING = "waiting"      # failed earlier; not retried yet
ENDS_RUN = (DOWN, CRASHED, TIMEOUT)


def classify(exc: BaseException) -> tuple[str, bool]:
    """``(reason, run_is_lost)`` for an error from a member's gateway."""
    if isinstance(exc, (ConnectionFailed, OSError, http.client.HTTPException)):
        return DOWN, True         # raw socket errors too (refused, reset, timed out)
    if isinstance(exc, ProgramTimeout):
        return TIMEOUT, True
    if isinstance(exc, ProtocolError):
        return CRASHED, True
    if isinstance(exc, NotFound):
        return DOWN, True            # run reaped or server gone: start again later
    if isinstance(exc, Conflict):
        return BUSY, False
    if isinstance(exc, (TooManyRuns, BadRequest)):
        return REFUSED, True
    if isinstance(exc, (BadResponse, AnnotationError)):
        return GARBAGE, False
    if isinstance(exc, (GatewayError, ClientError)):
        return CRASHED, True
    return GARBAGE, False


@dataclass
class Answer:
    """A member's answer to one step: a parsed action, or why there is none."""

    member: "MemberLink"
    step: int
    parsed: Annotated | None
    reason: str | None = None     # a skip reason when parsed is None
    detail: str = ""
    seconds: float = 0.0
    fresh: bool = False           # the answer came from a run started for this step


class MemberLink:
    """One member of a running society."""

    def __init__(self, member: Member, *, ranked: bool, runs: str, seed: int | str | None = None,
                 retry: float = 1.0, timeout: float = 30.0):
        self.member, self.name, self.weight = member, member.name, member.weight
        self.ranked, self.runs, self.seed = ranked, runs, seed
        self.retry, self.timeout = retry, timeout
        self.server = None
        self.run = None
        self.busy = False
        self.retry_at = 0.0
        self.status = "new"           # ok | one of the skip reasons
        self.detail = ""
        self.logged, self.logged_at, self.held = 0, 0.0, 0   # log lines written, when, held back
        self.stats = {"asked": 0, "answered": 0, "obeyed": 0, "runs": 0, "skipped": {}, "errors": {},
                      "seconds": 0.0}
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=f"wwm-member-{self.name}", daemon=True)
        self._thread.start()

    # -- called by the society (main thread) ------------------------------------

    def ready(self, now: float, force: bool = False) -> str | None:
        """None when the member can be asked now, else the reason it cannot."""
        with self._lock:
            if self.busy:
                return BUSY
            if self.run is None and now < self.retry_at and not force:
                return WAITING
        return None

    def ask(self, step: int, payload: str, first_payload: str, inbox: queue.Queue) -> None:
        """Send a state to the member; its :class:`Answer` will arrive in ``inbox``.

        ``first_payload`` (the state without its reward line) is sent instead
        when the member needs a new run.
        """
        with self._lock:
            self.busy = True
        self.stats["asked"] += 1
        self._jobs.put((step, payload, first_payload, inbox))

    def skip(self, reason: str, detail: str = "") -> bool:
        """Count a skipped step; True when the member's status changed (worth a log line)."""
        self.stats["skipped"][reason] = self.stats["skipped"].get(reason, 0) + 1
        changed = reason != self.status
        self.status, self.detail = reason, detail
        return changed

    def close(self, wait: float = 1.0) -> None:
        """End the member's run (best effort, at most ``wait`` seconds)."""
        self.begin_close()
        self.finish_close(wait)

    def begin_close(self) -> None:
        """Ask the worker to end the run and leave (it does so after any call in progress)."""
        self._jobs.put(None)

    def finish_close(self, wait: float) -> None:
        """Wait up to ``wait`` seconds for the worker; stop a stuck local member directly."""
        self._thread.join(wait)
        if self._thread.is_alive():
            self._force_stop()

    def report(self) -> dict:
        """The member's state for ``society.json``."""
        s = self.stats
        mean = s["seconds"] / s["answered"] if s["answered"] else None
        return {"name": self.name, "href": self.member.href, "weight": self.weight, "status": self.status,
                "detail": self.detail, "asked": s["asked"], "answered": s["answered"], "obeyed": s["obeyed"],
                "runs": s["runs"], "skipped": dict(s["skipped"]), "errors": dict(s["errors"]),
                "mean_ms": None if mean is None else round(mean * 1000, 3)}

    # -- the worker thread -------------------------------------------------------------

    def _connect(self):
        from wwm.client import connect  # deferred: the client pulls in http.client

        if self.server is None:
            self.server = connect(self.member.href, runs=self.runs, timeout=self.timeout)
        return self.server

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._end_run()
                return
            step, payload, first_payload, inbox = job
            started = time.perf_counter()
            fresh = self.run is None
            try:
                if fresh:
                    self.run = self._connect().start_run(self.seed)
                    self.stats["runs"] += 1
                text = self.run.get_action(first_payload if fresh else payload)
                answer = Answer(self, step, None, seconds=time.perf_counter() - started, fresh=fresh)
                try:
                    answer.parsed = parse(text, self.ranked)
                except AnnotationError as exc:
                    answer.reason, answer.detail = GARBAGE, str(exc)
                    self.stats["errors"][GARBAGE] = self.stats["errors"].get(GARBAGE, 0) + 1
            except Exception as exc:  # every failure of one member is that member's, never the society's
                reason, lost = classify(exc)
                if self.run is None:  # it failed to start: a missing folder, a bad URL, a full gateway
                    reason, lost = (DOWN if reason == GARBAGE else reason), True
                errors = self.stats["errors"]
                errors[reason] = errors.get(reason, 0) + 1  # counted even when the answer comes too late
                answer = Answer(self, step, None, reason, _short(exc), time.perf_counter() - started, fresh)
                if lost:
                    self._drop_run()
                    with self._lock:
                        self.retry_at = time.monotonic() + self.retry
            with self._lock:
                self.busy = False
            inbox.put(answer)

    def _drop_run(self) -> None:
        run, self.run = self.run, None
        if run is not None:
            try:
                run.end()
            except Exception:  # its gateway has usually ended it already
                pass

    def _end_run(self) -> None:
        self._drop_run()
        if self.server is not None:
            try:
                self.server.close()
            except Exception:
                pass

    def _force_stop(self) -> None:
        """The worker is stuck in a call: stop a local member's Program 1 directly."""
        if self.run is not None:
            try:
                self.run.abort()
            except OSError:
                pass


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
