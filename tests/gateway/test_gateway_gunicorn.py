"""``wwm serve``'s app under gunicorn: several workers share one runs folder.

The protocol suite already runs on the ``gunicorn`` backend (3 sync workers);
these tests check what only several processes can show: a run started by one
worker is continued and ended by others, and survives the death of the worker
that started its Program 1.
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections import defaultdict

import pytest

from gwkit import HelloRef, hello_mind, run_threads

pytestmark = pytest.mark.backends("gunicorn")
WORLD = "worlds/hello-python"
MIND = "minds/hello-python"


def served_by(gw) -> dict[str, set[str]]:
    """run id -> pids of the workers that answered a GET naming it (access log)."""
    by_run = defaultdict(set)
    for line in (gw.files / "access.log").read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        query = parts[2].partition("?")[2]
        for pair in query.split("&"):
            if pair.startswith("run="):
                by_run[pair[4:]].add(parts[0])
    return by_run


def play_get(gw, seed: int, steps: int) -> tuple[str, str, str, str]:
    """World and Mind over GET (the run id lands in the access log)."""
    ref = HelloRef(seed)
    wrun, mrun = gw.start(WORLD, seed), gw.start(MIND, seed)
    state = gw.q(WORLD, "GetState", run=wrun).ok()["state"]
    for _ in range(steps):
        action = gw.q(MIND, "GetAction", run=mrun, state=state).ok()["action"]
        assert action == hello_mind(state)
        state = gw.q(WORLD, "ExecuteAction", run=wrun, action=action).ok()["state"]
        assert state == ref.step(int(action))
    score = gw.q(WORLD, "EndRun", run=wrun).ok()["score"]
    gw.q(MIND, "EndRun", run=mrun).ok()
    return wrun, mrun, score, ref.score()


def test_workers_share_runs(gw):
    results = run_threads(lambda s: play_get(gw, s, 20), [(s,) for s in range(1, 7)], timeout=120)
    for r in results:
        assert not isinstance(r, BaseException), r
        assert r[2] == r[3]
    by_run = served_by(gw)
    runs = [run for r in results for run in r[:2]]
    workers = set().union(*(by_run[run] for run in runs))
    assert len(workers) >= 2, f"only one worker answered: {workers}"
    shared = [run for run in runs if len(by_run[run]) >= 2]
    assert shared, "no run was answered by more than one worker"


def worker_pids(gw) -> set[int]:
    """The gunicorn workers: children of the arbiter."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == gw.proc.pid and fields[0] not in ("Z", "X"):
                pids.add(int(entry))
    return pids


def test_run_survives_the_worker_that_started_it(gw):
    run = gw.start(WORLD, seed=9)
    ref = HelloRef(9)
    state = gw.q(WORLD, "GetState", run=run).ok()["state"]
    pid = json.loads((gw.runs / WORLD / run / ".wwm.json").read_text())["pid"]
    with open(f"/proc/{pid}/stat") as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    assert parent in worker_pids(gw), "Program 1 is not a child of a worker?"
    os.kill(parent, signal.SIGKILL)  # the arbiter starts a new worker
    deadline = time.monotonic() + 10
    while parent in worker_pids(gw) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(4):
        action = hello_mind(state)
        state = gw.q(WORLD, "ExecuteAction", run=run, action=action).ok()["state"]
        assert state == ref.step(int(action))
    assert gw.q(WORLD, "EndRun", run=run).ok()["score"] == ref.score()
