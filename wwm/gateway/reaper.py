"""Housekeeping of a runs folder: ending idle runs, deleting old ones, ending all at exit.

Reaping needs no daemon: every query may call ``maybe_reap`` (at most once
per REAP_EVERY seconds, whoever calls it: CGI processes, WSGI workers), and
``wwm serve`` also calls it on a timer so that a quiet gateway reaps too.
"""
from __future__ import annotations

import os
import time

from wwm.gateway.processes import process_alive, stop_process
from wwm.gateway.runs import RunLock, RunSession, drop_live, list_live, read_notes
from wwm.protocol.envelope import RUN_RE
from wwm.protocol.errors import GatewayError
from wwm.protocol.files import read_json, read_small, write_atomic
from wwm.protocol.manifest import DEFAULT_LIMITS, NAME_RE, SERVER_FOLDERS, Server, find_server, load_server


class Reaper:
    """Ends idle runs and deletes ended ones of one gateway's runs folder."""

    REAP_EVERY = float(os.environ.get("WWM_REAP_EVERY", 30.0))  # seconds between sweeps
    KEEP_ENDED = 3600.0    # seconds an ended run's folder (and log) is kept

    def __init__(self, gateway):
        self.g = gateway
        self._timer = None  # a threading.Event while the timer runs

    def homes(self):
        """``(server id, folder)`` for every server that has had runs here: the root's (under
        minds/ and worlds/) and a local client's from any folder (their ``.server`` names it)."""
        for sub in sorted(os.listdir(self.g.runs)) if os.path.isdir(self.g.runs) else []:
            top = os.path.join(self.g.runs, sub)
            if sub.startswith(".") or not os.path.isdir(top):
                continue
            for name in sorted(os.listdir(top)):
                home = os.path.join(top, name)
                if NAME_RE.match(name) and os.path.isdir(home) and \
                        (sub in SERVER_FOLDERS or os.path.isfile(os.path.join(home, ".server"))):
                    yield f"{sub}/{name}", home

    def reap(self, force: bool = False) -> int:
        """End idle runs and delete old ended ones; at most every REAP_EVERY s
        (across processes: the stamp file's mtime), unless ``force``.  Returns
        the number of runs ended."""
        stamp = os.path.join(self.g.runs, ".reaped")
        os.makedirs(self.g.runs, exist_ok=True)
        try:
            if not force and time.time() - os.stat(stamp).st_mtime < self.REAP_EVERY:
                return 0
        except FileNotFoundError:
            pass
        with open(stamp, "w"):
            pass
        import shutil  # deferred, as the sweep itself: most queries find it is not due

        ended = 0
        now = time.time()
        for sid, home in list(self.homes()):
            server = self._server_of(sid, home)
            idle = server.limits["idle"] if server else DEFAULT_LIMITS["idle"]
            live = 0
            for run in os.listdir(home):
                run_dir = os.path.join(home, run)
                if not RUN_RE.match(run):
                    continue
                notes = read_notes(run_dir)
                if not notes:  # a StartRun that died before writing its notes
                    try:
                        if now - os.stat(run_dir).st_mtime > 60:
                            shutil.rmtree(run_dir, ignore_errors=True)
                    except FileNotFoundError:
                        pass
                    continue
                if notes.get("phase") == "ended":
                    if now - notes.get("used", 0) > self.KEEP_ENDED:
                        shutil.rmtree(run_dir, ignore_errors=True)
                        RunLock.forget(os.path.join(run_dir, ".lock"))
                    continue
                dead = notes.get("pid") and not server.shared and not process_alive(notes["pid"], notes.get("start")) \
                    if server else False
                if server and (dead or now - notes.get("used", now) > idle):
                    # idle, or Program 1 died while nobody was asking (a gateway killed and restarted)
                    try:
                        with RunSession(self.g, server, run, run_dir) as r:
                            r.finish("crashed" if dead else "reaped", "Program 1 had exited" if dead else None)
                        ended += 1
                    except GatewayError:
                        live += 1
                else:
                    live += 1
            if server and server.shared and not live:
                self.stop_shared(server)
        for sid, run, _ in list_live(self.g.runs):  # entries of runs gone or ended (a gateway killed mid-way)
            run_dir = os.path.join(self.g.runs, sid, run)
            if not os.path.isdir(run_dir) or read_notes(run_dir).get("phase") == "ended":
                drop_live(self.g.runs, sid, run)
        return ended

    def stop_shared(self, server: Server) -> None:
        home = self.g.home(server)
        notes = read_json(os.path.join(home, ".shared.json"))
        if notes and process_alive(notes["pid"], notes["start"]):
            write_atomic(os.path.join(home, "stop"), "")
            stop_process(notes["pid"], notes["start"], server.limits["grace"])

    def _server_of(self, sid: str, home: str) -> Server | None:
        """The server whose runs live in ``home``: from the folder it recorded
        at its first StartRun (a local client's servers may live anywhere),
        else by its id under the root."""
        path = read_small(os.path.join(home, ".server"), 4096)
        for find in ((lambda: load_server(path)) if path else None, lambda: find_server(self.g.root, sid)):
            try:
                if find:
                    return find()
            except GatewayError:
                continue
        return None

    def shutdown(self) -> None:
        """End every active run and shared process (``wwm serve`` and local clients on exit)."""
        for sid, home in list(self.homes()):
            server = self._server_of(sid, home)
            if server is None:
                continue
            for run in os.listdir(home):
                if not RUN_RE.match(run) or read_notes(os.path.join(home, run)).get("phase") == "ended":
                    continue
                try:
                    with RunSession(self.g, server, run, os.path.join(home, run)) as r:
                        r.finish("ended")
                except GatewayError:
                    continue
            if server.shared:
                self.stop_shared(server)

    def start_timer(self) -> None:
        """Reap every REAP_EVERY seconds in a daemon thread, without traffic (``wwm serve``)."""
        import threading

        if self._timer is not None:
            return
        self._timer = stop = threading.Event()

        def loop():
            while not stop.wait(self.REAP_EVERY):
                try:
                    self.reap()
                except Exception as exc:  # housekeeping must never kill the server
                    import sys
                    sys.stderr.write(f"wwm gateway: reaping failed: {exc!r}\n")

        threading.Thread(target=loop, name="wwm-reaper", daemon=True).start()

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.set()
            self._timer = None
