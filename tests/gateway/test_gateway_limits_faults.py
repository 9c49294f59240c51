"""Run slots under contention, and a gateway killed with SIGKILL then restarted."""
from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from gwkit import copy_hello, free_port, start_serve, stop_process
from wwm.gateway.app import App
from wwm.gateway.queries import Gateway


def call(app, query, addr="10.0.0.1", method="GET", **params):
    env = {"REQUEST_METHOD": method, "PATH_INFO": "/worlds/hello-python",
           "QUERY_STRING": urllib.parse.urlencode(dict(params, query=query, format="json")),
           "REMOTE_ADDR": addr, "wsgi.input": io.BytesIO(b"")}
    got = {}
    body = b"".join(app(env, lambda status, headers: got.update(status=int(status[:3]), headers=dict(headers))))
    return got["status"], got["headers"], (json.loads(body) if body else {})


@pytest.fixture
def small(tmp_path, runs_dir):
    root = tmp_path / "root"
    copy_hello(root)
    manifest = root / "worlds" / "hello-python" / "wwm.toml"
    manifest.write_text(manifest.read_text() + "\n[limits]\nmax_runs = 3\nmax_runs_per_client = 2\n")
    gw = Gateway(str(root), str(runs_dir))
    yield App(gw), gw
    gw.shutdown()


def test_one_client_cannot_take_every_slot(small):
    app, gw = small
    runs = [call(app, "StartRun", "10.0.0.1")[2]["run"] for _ in range(2)]
    status, headers, doc = call(app, "StartRun", "10.0.0.1", client="10.9.9.9")  # a client= parameter is ignored
    assert status == 429 and headers["Retry-After"] and "2 runs" in doc["error"]
    status, _, doc = call(app, "StartRun", "10.0.0.2")
    assert status == 200
    status, headers, doc = call(app, "StartRun", "10.0.0.3")
    assert status == 503 and headers["Retry-After"]  # the server is full: 503, for everybody
    assert call(app, "EndRun", "10.0.0.1", run=runs[0])[0] == 200
    assert call(app, "StartRun", "10.0.0.1")[0] == 200  # an ended run frees its slot at once
    assert len(gw.active_runs()) == 3


def test_head_never_starts_a_run(small):
    app, gw = small
    status, _, _ = call(app, "StartRun", method="HEAD")
    assert status == 405 and gw.active_runs() == []
    assert call(app, "Describe", method="HEAD")[0] == 200


def q(port, query, **params):
    url = f"http://127.0.0.1:{port}/wwm/worlds/hello-python?" + urllib.parse.urlencode(
        dict(params, query=query, format="json"))
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def outcome(runs: Path, run: str) -> str:
    db = sqlite3.connect(runs / "scores.sqlite")
    try:
        return db.execute("SELECT outcome FROM runs WHERE run = ?", (run,)).fetchone()[0]
    finally:
        db.close()


def test_a_gateway_killed_and_restarted_adopts_live_runs_and_ends_dead_ones(tmp_path, runs_dir):
    root = tmp_path / "root"
    copy_hello(root)
    port = free_port()
    serve = start_serve(tmp_path / "a", root, runs_dir, port)
    try:
        alive = q(port, "StartRun", seed=3)[1]["run"]
        doomed = q(port, "StartRun", seed=4)[1]["run"]
        assert q(port, "GetState", run=alive)[0] == 200
        doomed_pid = json.loads((runs_dir / "worlds" / "hello-python" / doomed / ".wwm.json").read_text())["pid"]
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=30)
    os.killpg(doomed_pid, signal.SIGKILL)  # this Program 1 dies while no gateway is running
    assert outcome(runs_dir, doomed) == "running"

    serve = start_serve(tmp_path / "b", root, runs_dir, port)
    try:
        deadline = time.monotonic() + 20
        while outcome(runs_dir, doomed) == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert outcome(runs_dir, doomed) == "crashed"  # found at start, ended and recorded
        status, doc = q(port, "ExecuteAction", run=alive, action="50")  # the live run goes on
        assert status == 200 and doc["state"]
        assert q(port, "EndRun", run=alive)[0] == 200
        assert outcome(runs_dir, alive) == "ended"
    finally:
        stop_process(serve)


@pytest.fixture
def small_disk(tmp_path):
    """RUNS on a 16 MiB tmpfs, so that the disk can really be filled."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_507_runs_still_end_and_it_recovers(tmp_path, small_disk):
    from wwmtest import processes_under

    root = tmp_path / "root"
    copy_hello(root)
    runs = small_disk / "runs"
    gw = Gateway(str(root), str(runs))
    app = App(gw)
    try:
        run = call(app, "StartRun")[2]["run"]
        assert call(app, "GetState", run=run)[0] == 200
        filler = fill(small_disk)
        status, headers, doc = call(app, "StartRun")
        assert status == 507 and "disk is full" in doc["error"] and headers["Retry-After"], doc
        assert len(gw.active_runs()) == 1  # the refused start left nothing
        status, _, doc = call(app, "ExecuteAction", run=run, action="50")
        assert status in (502, 507), doc  # the action could not be written, or the World could not answer
        status, _, _ = call(app, "GetScore", run=run)
        assert status in (200, 404)  # still answered (404 once the failed step ended the run)
        if status == 200:
            assert call(app, "EndRun", run=run)[0] == 200
        assert gw.active_runs() == [] and processes_under(str(runs)) == []  # nothing orphaned
        filler.unlink()
        status, _, doc = call(app, "StartRun")  # space again: no manual step needed
        assert status == 200, doc
        assert call(app, "GetState", run=doc["run"])[0] == 200
        assert call(app, "EndRun", run=doc["run"])[0] == 200
    finally:
        gw.shutdown()
