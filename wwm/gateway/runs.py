"""One run's folder: its notes, its lock, and one query's session with Program 1's files.

A run lives in RUNS/<worlds|minds>/<name>/<run id>/: Program 1's message
files, its log, and our notes (``.wwm.json``: pid, phase, the World's current
state, timestamps).  A query holds the run's lock for its whole length.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import threading
import time

from wwm.gateway.processes import kill_strays, process_alive, stop_process
from wwm.protocol.envelope import check_payload
from wwm.protocol.errors import Conflict, NotFound, ProgramTimeout, ProtocolError
from wwm.protocol.files import consume, open_watch, read_small, unlink_quiet, wait_for, write_atomic
from wwm.protocol.manifest import Server


def new_run_id() -> str:
    """An unguessable run id (144 random bits, URL-safe)."""
    import base64

    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")


LIVE = ".live"  # RUNS/.live/<folder>%<name>%<run>: one entry per run not yet ended


def live_entry(runs: str, server_id: str, run: str) -> str:
    return os.path.join(runs, LIVE, f"{server_id.replace('/', '%')}%{run}")


def claim_live(runs: str, server_id: str, run: str, client: str) -> None:
    """Count a run as live (StartRun, under the start lock); the entry holds its client."""
    os.makedirs(os.path.join(runs, LIVE), exist_ok=True)
    write_atomic(live_entry(runs, server_id, run), client)


def drop_live(runs: str, server_id: str, run: str) -> None:
    unlink_quiet(live_entry(runs, server_id, run))


def list_live(runs: str) -> list[tuple[str, str, str]]:
    """``(server id, run, client)`` of every live run: O(live runs), not O(all runs kept)."""
    folder = os.path.join(runs, LIVE)
    found = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        parts = name.split("%")
        if len(parts) == 3 and not name.endswith(".tmp"):
            found.append((f"{parts[0]}/{parts[1]}", parts[2], read_small(os.path.join(folder, name), 256) or ""))
    return found


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


class RunLock:
    """Exclusive hold of one run, across threads and processes, never inherited.

    A POSIX record lock (``lockf``) guards against other processes (CGI
    requests, gunicorn workers).  Unlike ``flock``, it is not shared with a
    child forked at that moment: with ``flock``, a Program 1 being spawned by
    another thread kept a copy of the lock until its ``exec``, and the run's
    owner got a spurious 409 on its next query.  POSIX locks belong to the
    process, so threads are kept apart by a ``threading.Lock`` per run, taken
    first: the file is only opened (and closed, which drops every POSIX lock
    of the process on it) by the thread holding that.
    """

    _guard = threading.Lock()
    _held: dict[str, threading.Lock] = {}

    def __init__(self, path: str):
        self.path = path
        with RunLock._guard:
            self.local = RunLock._held.setdefault(path, threading.Lock())
        self.fd = -1

    def acquire(self) -> bool:
        if not self.local.acquire(blocking=False):
            return False
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            self.release()
            return False

    @classmethod
    def forget(cls, path: str) -> None:
        """Drop the in-process lock of a run whose folder is being deleted."""
        with cls._guard:
            cls._held.pop(path, None)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the POSIX lock
            self.fd = -1
        if self.local.locked():
            self.local.release()


class RunSession:
    """One query on one run: holds the run's lock and its notes.

    A second query on the same run while one is in progress is out of
    sequence (409), never queued behind it.
    """

    def __init__(self, gateway, server: Server, run: str, run_dir: str):
        self.g, self.server, self.run, self.dir = gateway, server, run, run_dir

    def __enter__(self):
        self.lock = RunLock(os.path.join(self.dir, ".lock"))
        if not self.lock.acquire():
            raise Conflict("another query on this run is in progress", run=self.run)
        self.notes = read_notes(self.dir)
        if not self.notes:
            self.lock.release()
            raise NotFound(f"no run {self.run!r}")
        if self.notes.get("phase") == "ended":
            self.lock.release()
            raise NotFound(f"run {self.run!r} has ended ({self.notes.get('outcome', 'ended')})")
        self.log = self.g.log_name(self.server, self.run)
        self.before = dict(self.notes)
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
                try:
                    save_notes(self.dir, self.notes)
                except OSError as err:
                    # A full disk: a query that changed nothing (GetScore) still answers.
                    changed = {k: v for k, v in self.notes.items() if k != "used"} != \
                        {k: v for k, v in self.before.items() if k != "used"}
                    if err.errno not in (errno.ENOSPC, errno.EDQUOT) or changed:
                        raise
        finally:
            if self.watch is not None:
                self.watch.close()
            self.lock.release()
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
        """End the run: ``stop``, then signals; record it; mark it ended.

        On a full disk the run still ends (signals need no space) and frees its
        slot; its notes cannot be written, so its folder is removed instead."""
        try:
            write_atomic(os.path.join(self.files, "stop"), "")
        except OSError:
            pass  # a full disk: the signals below end Program 1 all the same
        if not self.server.shared:
            stop_process(self.notes.get("pid", 0), self.notes.get("start"), self.server.limits["grace"])
            kill_strays(self.run)
        score = self.score()
        self.notes.update(phase="ended", outcome=outcome, ended=time.time())
        drop_live(self.g.runs, self.server.id, self.run)
        try:
            save_notes(self.dir, self.notes)
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.g.record(self.server, self.run, self.notes, outcome, score, error)
        except Exception as exc:  # the scoreboard must never break a run's ending
            sys.stderr.write(f"wwm gateway: scoreboard not updated: {exc!r}\n")


# ---------------------------------------------------------------------------
# messages
