"""The scoreboard: gateway runs and client runs recorded durably, listed by `wwm scores`,
served at /scores as XML and JSON; a crash mid-run leaves a consistent record."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from wwm import scoreboard
from wwm.client import connect, run_episode

_spec = importlib.util.spec_from_file_location("society_gateways", Path(__file__).parent / "society" / "gateways.py")
gateways = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateways)


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read()


def rows(path) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY start")]
    finally:
        db.close()


def integrity(path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scores")
    root = gateways.make_root(tmp, {"good": "--skill bisect", "crashy": "--skill bisect --crash-at 4"})
    gw = gateways.Gateway(root, tmp / "runs", scores=True).start()
    yield root, gw
    gw.stop()
    gw.end_all_runs()


def test_gateway_runs_are_recorded_and_served_as_xml_and_json(served):
    root, gw = served
    world, mind = gw.url("worlds/hello-python"), gw.url("minds/good")
    result = run_episode(world, [mind], steps=12, seed=7)
    expected = gateways.hello_bisect_score(7, 12)
    assert result["score"] == expected
    with pytest.raises(Exception):  # a Mind that crashes: the World run still ends with a record
        run_episode(world, [gw.url("minds/crashy")], steps=10, seed=7)

    status, ctype, body = fetch(f"{gw.base}/scores?world=hello-python")
    assert status == 200 and ctype.startswith("application/xml")
    top = ET.fromstring(body)
    runs = top.find("scores").findall("run")
    assert top.tag == "wwm" and len(runs) == 2
    done = next(r for r in runs if r.get("steps") == "12")
    assert done.get("world") == "worlds/hello-python" and done.get("kind") == "world"
    assert done.get("minds") == mind and done.get("outcome") == "ended" and done.get("source") == "gateway"
    assert float(done.get("score_value")) == expected and done.findtext("score").startswith(str(expected))
    assert done.get("start") <= done.get("end")

    status, ctype, body = fetch(f"{gw.base}/scores?format=json&all=1")
    doc = json.loads(body)
    kinds = {(r["kind"], r["outcome"]) for r in doc["runs"]}
    assert ("mind", "ended") in kinds and ("mind", "crashed") in kinds   # Mind runs with ?all=1
    crashed = next(r for r in doc["runs"] if r["outcome"] == "crashed")
    assert "exited" in crashed["error"]
    assert json.loads(fetch(f"{gw.base}/scores?format=json&world=no-such-world")[2])["runs"] == []
    with pytest.raises(urllib.error.HTTPError) as info:
        fetch(f"{gw.base}/scores?format=yaml")
    assert info.value.code == 400

    out = CliRunner().invoke(scoreboard.scores_command, ["--runs", str(gw.runs), "--file", str(gw.runs / "none"),
                                                         "--world", "hello"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:3] == ["START", "(UTC)", "WORLD"] and len(lines) == 3
    assert "worlds/hello-python" in lines[1] and "gateway" in lines[1]
    out = CliRunner().invoke(scoreboard.scores_command, ["--runs", str(gw.runs), "--file", str(gw.runs / "none"),
                                                         "--json", "--all"])
    assert len(json.loads(out.output)["runs"]) == 4
    from wwm.cli import cli  # `wwm scores` is registered from this module

    out = CliRunner().invoke(cli, ["scores", "--runs", str(gw.runs), "--file", str(gw.runs / "none"), "--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)["runs"]) == 2


def test_client_runs_of_local_folders_are_recorded(tmp_path, monkeypatch):
    path = tmp_path / "mine.sqlite"
    monkeypatch.setenv("WWM_SCORES", str(path))
    assert scoreboard.default_path() == str(path)
    root = gateways.make_root(tmp_path, {"good": "--skill bisect"})
    world, mind = str(root / "worlds" / "hello-python"), str(root / "minds" / "good")
    seen = []
    with scoreboard.ClientRecorder(world, [mind], every=0) as rec:
        result = run_episode(world, [mind], steps=15, seed=2, progress=rec.progress(lambda *a: seen.append(a)))
        rec.finish(result)
    assert len(seen) == 15
    (row,) = rows(path)
    assert row["source"] == "client" and row["outcome"] == "ended" and row["steps"] == 15
    assert row["world"] == world and row["minds"] == mind
    assert row["score_value"] == gateways.hello_bisect_score(2, 15) and row["end"] >= row["start"]
    run_id = scoreboard.record_episode(result, minds=["society:team.xml"])
    assert rows(path)[-1]["run"] == run_id and rows(path)[-1]["minds"] == "society:team.xml"
    # an exception inside the run: recorded as crashed, with the error, and re-raised
    with pytest.raises(RuntimeError):
        with scoreboard.ClientRecorder(world, [mind]):
            raise RuntimeError("the network fell over")
    last = rows(path)[-1]
    assert last["outcome"] == "crashed" and "the network fell over" in last["error"]
    out = CliRunner().invoke(scoreboard.scores_command, ["--runs", str(tmp_path / "no-runs")])
    assert out.exit_code == 0 and out.output.count("client") == 3


CLIENT_SCRIPT = """
import sys
from wwm.scoreboard import ClientRecorder
from wwm.client import run_episode
world, mind = sys.argv[1], sys.argv[2]
with ClientRecorder(world, [mind], every=0) as rec:
    rec.finish(run_episode(world, [mind], steps=100000, progress=rec.progress()))
"""


def test_a_client_killed_mid_run_leaves_a_consistent_record(tmp_path):
    path = tmp_path / "mine.sqlite"
    root = gateways.make_root(tmp_path, {"slowish": "--skill bisect --delay 0.01"})
    env = dict(os.environ, WWM_SCORES=str(path), WWM_RUNS=str(tmp_path / "runs"),
               PYTHONPATH=str(gateways.REPO))
    proc = subprocess.Popen([sys.executable, "-c", CLIENT_SCRIPT, str(root / "worlds" / "hello-python"),
                             str(root / "minds" / "slowish")], env=env, cwd=str(gateways.REPO))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if path.exists() and rows(path) and rows(path)[0]["steps"] >= 5:
                    break
            except sqlite3.OperationalError:
                pass  # the table is being created
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
        from wwm.gateway.queries import Gateway

        Gateway(str(root), str(tmp_path / "runs")).shutdown()  # the orphaned World and Mind
    assert integrity(path) == "ok"
    (row,) = rows(path)
    assert row["outcome"] == "running" and row["end"] is None and row["steps"] >= 5
    assert row["score_value"] is not None and row["score"]  # the score reached at the last write
    listed = scoreboard.list_runs([(str(path), None)])
    assert listed[0]["alive"] is False
    out = CliRunner().invoke(scoreboard.scores_command, ["--file", str(path), "--runs", str(tmp_path)])
    assert "running (lost)" in out.output


def test_a_gateway_killed_mid_run_leaves_a_record_the_next_gateway_completes(tmp_path):
    root = gateways.make_root(tmp_path, {"good": "--skill bisect"})
    gw = gateways.Gateway(root, tmp_path / "runs").start()
    try:
        world = connect(gw.url("worlds/hello-python")).start_run(seed=3, minds="the-good-one")
        state = world.get_state()
        for _ in range(5):
            state = world.execute_action(str((int(state.split("low: ")[1].split()[0]) +
                                              int(state.split("high: ")[1].split()[0])) // 2)).state
        gw.stop(kill=True)
        board = gw.runs / "scores.sqlite"
        assert integrity(board) == "ok"
        (row,) = [r for r in rows(board) if r["kind"] == "world"]
        assert row["outcome"] == "running" and row["end"] is None and row["minds"] == "the-good-one"
        listed = scoreboard.list_runs([(str(board), str(gw.runs))])
        assert listed[0]["alive"] is True   # the World's Program 1 outlives the gateway
        gw.start()  # a new gateway on the same runs folder carries the run on
        from wwm.client.client import Run

        run = Run(connect(gw.url("worlds/hello-python")), row["run"])
        assert run.get_score().startswith(str(gateways.hello_bisect_score(3, 5)))
        run.end()
        (row,) = [r for r in rows(board) if r["kind"] == "world"]
        assert row["outcome"] == "ended" and row["end"] >= row["start"]
        assert row["score_value"] == gateways.hello_bisect_score(3, 5)
    finally:
        gw.stop()
        gw.end_all_runs()
