"""Runs started from the web UI, watched live from any worker.

A run is driven by :func:`wwm.client.api.run_episode` (the loop of ``wwm run``) in a thread of
the process that started it.  Its progress goes to ``RUNS/.ui/ID.json`` (written atomically,
at most every 0.2 s and at the end), so any gunicorn worker can show it; a ``RUNS/.ui/ID.stop``
file asks the driving thread to end the run, whichever worker received the click.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time

from wwm.client.api import _number, run_episode
from wwm.protocol.errors import NotFound
from wwm.protocol.files import write_atomic

__all__ = ["start", "read", "stop", "Stopped", "MAX_STEPS"]

MAX_STEPS = 100000
MAX_POINTS = 400        # score points kept for the chart (thinned evenly beyond)
MAX_TEXT = 2000         # characters of the last state and action shown
ID_RE = re.compile(r"^[0-9a-f]{16}$")


class Stopped(KeyboardInterrupt):
    """The user asked to stop the run (a KeyboardInterrupt, so a scoreboard records it as interrupted)."""


def _folder(runs: str) -> str:
    folder = os.path.join(runs, ".ui")
    os.makedirs(folder, exist_ok=True)
    return folder


def _path(runs: str, run_id: str, ext: str) -> str:
    if not ID_RE.match(run_id or ""):
        raise NotFound("no such run")
    return os.path.join(_folder(runs), f"{run_id}.{ext}")


def read(runs: str, run_id: str) -> dict:
    """The run's progress record; NotFound for an unknown id.

    A run whose driving process has gone (the server was restarted) reads as ``lost``.
    """
    try:
        with open(_path(runs, run_id, "json"), encoding="utf-8") as f:
            rec = json.load(f)
    except (FileNotFoundError, ValueError):
        raise NotFound("no such run") from None
    if rec["status"] == "running" and rec.get("host") == socket.gethostname() and not _alive(rec.get("pid")):
        rec.update(status="lost", error="the server process driving this run has ended")
    return rec


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def stop(runs: str, run_id: str) -> None:
    """Ask the run to end (after its current step)."""
    rec = read(runs, run_id)
    if rec["status"] == "running":
        write_atomic(_path(runs, run_id, "stop"), "stop")


class _Progress:
    """The ``transcript`` of run_episode: each step's JSON line updates the record."""

    def __init__(self, runs: str, rec: dict, pace: float):
        self.runs, self.rec, self.pace = runs, rec, pace
        self.stop_file = _path(runs, rec["id"], "stop")
        self.last = 0.0

    def save(self) -> None:
        write_atomic(_path(self.runs, self.rec["id"], "json"), json.dumps(self.rec))

    def write(self, line: str) -> None:
        step = json.loads(line)
        rec = self.rec
        rec.update(step=step["step"], state=str(step["state"])[:MAX_TEXT], action=str(step["action"])[:MAX_TEXT],
                   score=str(step["score"] or "")[:MAX_TEXT])
        value = _number(step["score"])
        if value is not None:
            rec["points"].append([step["step"], value])
            if len(rec["points"]) > MAX_POINTS:
                rec["points"] = rec["points"][::2]
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self.save()
        if os.path.exists(self.stop_file):
            raise Stopped
        if self.pace:
            time.sleep(self.pace)


def start(runs: str, world, minds: list, labels: dict, steps: int, seed: int | None = None,
          pace: float = 0.0, record: str | None = None, params: dict | None = None) -> str:
    """Start driving ``minds`` in ``world`` (URLs or connected servers); returns the run's id.

    Args:
        labels: what the page shows: ``{"world": …, "minds": […]}``.
        pace: seconds to wait after each step, so people can watch a fast run.
        record: a scoreboard file to record the run in, as ``wwm run`` does (for a World on
            another gateway: a local World's gateway records its runs itself).
        params: the World's parameters for this run (names its manifest declares).
    """
    run_id = secrets.token_hex(8)
    rec = {"id": run_id, "world": labels["world"], "minds": labels["minds"], "params": params or {},
           "steps": steps, "step": 0,
           "seed": seed, "status": "running", "state": "", "action": "", "score": "", "points": [],
           "error": None, "started": time.time(), "ended": None, "pid": os.getpid(), "host": socket.gethostname()}
    progress = _Progress(runs, rec, pace)
    progress.save()

    def drive() -> None:
        from wwm.scoreboard import ClientRecorder

        recorder = ClientRecorder(labels["world"], labels["minds"], record) if record else None
        try:
            if recorder is None:
                result = run_episode(world, minds, steps=steps, seed=seed, transcript=progress, params=params)
            else:
                with recorder:
                    result = run_episode(world, minds, steps=steps, seed=seed, transcript=progress,
                                         progress=recorder.progress(), params=params)
                    recorder.finish(result)
            rec.update(status="done" if result["done"] else "ended", score=str(result.get("score_detail") or ""))
        except Stopped:
            rec["status"] = "stopped"
        except Exception as exc:  # shown on the page: the run failed, the server goes on
            rec.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:MAX_TEXT])
        rec["ended"] = time.time()
        progress.save()
        try:
            os.unlink(progress.stop_file)
        except FileNotFoundError:
            pass

    threading.Thread(target=drive, name=f"wwm-ui-run-{run_id}", daemon=True).start()
    return run_id
