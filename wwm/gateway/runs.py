"""One run's folder: its notes, its lock, and one query's session with Program 1's files.

A run lives in RUNS/<worlds|minds>/<name>/<run id>/: Program 1's message
files, its log, and our notes (``.wwm.json``: pid, phase, the World's current
state, timestamps).  A query holds the run's lock for its whole length.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time

from wwm.gateway.processes import kill_strays, process_alive, stop_process
from wwm.protocol.envelope import check_payload
from wwm.protocol.errors import Conflict, NotFound, ProgramTimeout, ProtocolError
from wwm.protocol.files import consume, open_watch, read_small, wait_for, write_atomic
from wwm.protocol.manifest import Server


def new_run_id() -> str:
    """An unguessable run id (144 random bits, URL-safe)."""
    import base64

    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")


def read_notes(run_dir: str) -> dict:
    """A run's notes; ``{}`` while it has none (a StartRun in progress, or gone)."""
    try:
        with open(os.path.join(run_dir, ".wwm.json"), encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def save_notes(run_dir: str, notes: dict) -> None:
    notes["used"] = time.time()
    write_atomic(os.path.join(run_dir, ".wwm.json"), json.dumps(notes))


class RunSession:
    """One query on one run: holds the run's lock and its notes.

    A second query on the same run while one is in progress is out of
    sequence (409), never queued behind it.
    """

    def __init__(self, gateway, server: Server, run: str, run_dir: str):
        self.g, self.server, self.run, self.dir = gateway, server, run, run_dir

    def __enter__(self):
        self.lock = open(os.path.join(self.dir, ".lock"), "a")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            raise Conflict("another query on this run is in progress", run=self.run) from None
        self.notes = read_notes(self.dir)
        if not self.notes:
            self.lock.close()
            raise NotFound(f"no run {self.run!r}")
        if self.notes.get("phase") == "ended":
            self.lock.close()
            raise NotFound(f"run {self.run!r} has ended ({self.notes.get('outcome', 'ended')})")
        self.log = self.g.log_name(self.server, self.run)
        self.watch = None  # opened before the first send, so every event of the answer is seen
        return self

    def __exit__(self, kind, exc, tb):
        try:
            if isinstance(exc, (ProtocolError, ProgramTimeout)):
                # The run cannot go on: end it, keep its log, name both.
                self.finish("crashed" if isinstance(exc, ProtocolError) else "timeout", str(exc))
                exc.message = f"run {self.run}: {exc.message} (see log {self.log})"
                exc.args = (exc.message,)
                exc.run = self.run
            elif self.notes.get("phase") != "ended":
                save_notes(self.dir, self.notes)
        finally:
            if self.watch is not None:
                self.watch.close()
            self.lock.close()
        return False

    # -- Program 1's files -------------------------------------------------

    @property
    def files(self) -> str:
        return self.dir  # shared or not, a run's files live in its own folder

    def alive(self) -> bool:
        return process_alive(self.notes.get("pid", 0), self.notes.get("start"))

    def check(self) -> None:
        """Raise when Program 1 has died or flooded its log."""
        if not self.alive():
            raise ProtocolError("Program 1 has exited")
        log = os.path.join(self.g.home(self.server) if self.server.shared else self.dir, "log")
        try:
            size = os.stat(log).st_size
        except FileNotFoundError:
            size = 0
        if size > self.server.limits["max_log"]:
            raise ProtocolError(f"Program 1 flooded its log (over {self.server.limits['max_log']} bytes)")

    def send(self, name: str, payload: str) -> None:
        self.check()
        if self.watch is None:
            self.watch = open_watch(self.dir)
        write_atomic(os.path.join(self.files, name), payload)

    def receive(self, names, timeout: float) -> str:
        """Wait for Program 1's message, consume it, check it; return the name."""
        names = ((names,) if isinstance(names, str) else tuple(names)) + ("error",)
        strict = self.watch is not None  # opened before our send: every rename was seen
        if self.watch is None:  # a World's first state: nothing was sent
            self.watch = open_watch(self.dir)
        got = wait_for(self.files, names, timeout, self.check, self.watch, strict)
        if got is None:
            raise ProgramTimeout(f"Program 1 did not answer within {timeout:g} s")
        if got == "done":
            return got
        if got == "error":
            detail = (read_small(os.path.join(self.files, "error"), 2000) or "").strip()
            raise ProtocolError(f"Program 1 gave up on the run: {detail or 'no reason given'}")
        raw = consume(os.path.join(self.files, got), self.server.limits["max_payload"])
        text = check_payload(raw, got, self.server.limits["max_payload"], from_program=True)
        if got == "state":
            self.notes["state"] = text
            return "state"
        return text

    def is_done(self) -> bool:
        return os.path.exists(os.path.join(self.files, "done"))

    def score(self) -> str:
        return (read_small(os.path.join(self.files, "score")) or "").strip()

    def finish(self, outcome: str, error: str | None = None) -> None:
        """End the run: ``stop``, then signals; record it; mark it ended."""
        write_atomic(os.path.join(self.files, "stop"), "")
        if not self.server.shared:
            stop_process(self.notes.get("pid", 0), self.notes.get("start"), self.server.limits["grace"])
            kill_strays(self.run)
        self.notes.update(phase="ended", outcome=outcome, ended=time.time())
        save_notes(self.dir, self.notes)
        try:
            self.g.record(self.server, self.run, self.notes, outcome, self.score(), error)
        except Exception as exc:  # the scoreboard must never break a run's ending
            sys.stderr.write(f"wwm gateway: scoreboard not updated: {exc!r}\n")


# ---------------------------------------------------------------------------
# messages
