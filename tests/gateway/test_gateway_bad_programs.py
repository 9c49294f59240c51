"""Misbehaving Program 1s (tests/gateway/servers/): the gateway answers with the
right code (502 crashed or wrote garbage, 504 too slow), a message that says
what happened and names the log, ends the run, and leaves no process behind.

Their manifests set step_timeout = start_timeout = 2 s and grace = 0.5 s.
"""
from __future__ import annotations

import os
import time

import pytest

from gwkit import HelloRef, program1_processes


def run_dir(gw, server: str, run: str):
    return gw.runs / server / run


def read_log(gw, server: str, run: str) -> str:
    try:
        return (run_dir(gw, server, run) / "log").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def assert_ended(gw, server: str, run: str) -> None:
    """After a 502/504 the run is over: 404 for it, and its process is gone."""
    if server.startswith("minds/"):
        gw.q(server, "GetAction", run=run, state="low: 1\nhigh: 2\n").error(404)
    else:
        gw.q(server, "GetScore", run=run).error(404)
    gw.q(server, "EndRun", run=run).error(404)
    left = [p for p in program1_processes(gw.runs) if str(run_dir(gw, server, run)) in p[1] or run in p[1]]
    assert not left, left


def first_state(gw, server: str) -> str:
    run = gw.start(server)
    assert gw.q(server, "GetState", run=run).ok()["state"] == "low: 1\nhigh: 100\n"
    return run


# -- crashes: 502 -------------------------------------------------------------


def test_crash_at_start(gw):
    server = "worlds/crash-start"
    run = gw.start(server)
    message = gw.q(server, "GetState", run=run).error(502)
    assert "exited" in message and "log" in message, message
    assert "cannot load my model" in read_log(gw, server, run)
    assert_ended(gw, server, run)


def test_crash_mid_run(gw):
    server = "worlds/crash-mid"
    run = first_state(gw, server)
    message = gw.q(server, "ExecuteAction", run=run, action="50").error(502)
    assert "exited" in message and run in message, message
    assert "ZeroDivisionError" in read_log(gw, server, run)
    assert_ended(gw, server, run)


def test_mind_crash(gw):
    server = "minds/crash"
    run = gw.start(server)
    message = gw.q(server, "GetAction", run=run, state="low: 1\nhigh: 100\n").error(502)
    assert "exited" in message, message
    assert_ended(gw, server, run)


def test_error_file(gw):
    server = "worlds/error-file"
    run = first_state(gw, server)
    message = gw.q(server, "ExecuteAction", run=run, action="50").error(502)
    assert "the model file is missing" in message, message
    assert_ended(gw, server, run)


def test_missing_command(gw):
    """A command that cannot start: a clear error every time, and no run slot
    is lost to it (max_runs = 2 for this server)."""
    server = "worlds/missing-command"
    for attempt in range(4):
        reply = gw.q(server, "StartRun")
        message = reply.error(500, 502)
        assert "no-such-program" in message or "cannot start" in message, (attempt, message)
    home = gw.runs / server
    left = [p.name for p in home.iterdir() if not p.name.startswith(".")] if home.exists() else []
    assert not left, f"run folders left by failed starts: {left}"


def test_broken_manifest(gw):
    message = gw.q("worlds/broken-manifest", "Describe").error(500, 502, 503)
    assert "wwm.toml" in message, message


# -- garbage: 502 -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nul", "xml", "xxe", "laughs", "big"])
def test_garbage_state(gw, kind):
    server = "worlds/garbage"
    run = first_state(gw, server)
    started = time.monotonic()
    reply = gw.q(server, "ExecuteAction", run=run, action=kind)
    message = reply.error(502)
    assert time.monotonic() - started < 3.0
    assert "root:" not in reply.text  # the XXE did not read /etc/passwd
    assert "state" in message and "log" in message, message
    assert_ended(gw, server, run)


def test_invalid_utf8_state(gw):
    server = "worlds/bad-utf8"
    run = first_state(gw, server)
    assert "UTF-8" in gw.q(server, "ExecuteAction", run=run, action="50").error(502)
    assert_ended(gw, server, run)


def test_invalid_utf8_action(gw):
    server = "minds/garbage"
    run = gw.start(server)
    assert "UTF-8" in gw.q(server, "GetAction", run=run, state="low: 1\nhigh: 100\n").error(502)
    assert_ended(gw, server, run)


def test_world_writes_in_place(gw):
    server = "worlds/in-place"
    run = first_state(gw, server)
    message = gw.q(server, "ExecuteAction", run=run, action="50").error(502)
    assert "in place" in message, message
    assert_ended(gw, server, run)


def test_mind_writes_in_place(gw):
    server = "minds/in-place"
    run = gw.start(server)
    message = gw.q(server, "GetAction", run=run, state="low: 1\nhigh: 100\n").error(502)
    assert "in place" in message, message
    assert_ended(gw, server, run)


def test_log_flood(gw):
    server = "worlds/flood"
    run = first_state(gw, server)
    started = time.monotonic()
    message = gw.q(server, "ExecuteAction", run=run, action="50").error(502)
    assert "flooded" in message, message
    assert time.monotonic() - started < 2.0  # noticed at once, not at the step timeout
    assert_ended(gw, server, run)


# -- too slow: 504 ------------------------------------------------------------


def test_hang_at_start(gw):
    server = "worlds/hang-start"
    run = gw.start(server)
    started = time.monotonic()
    message = gw.q(server, "GetState", run=run).error(504)
    assert 1.9 < time.monotonic() - started < 6.0
    assert "2 s" in message or "within" in message, message
    assert_ended(gw, server, run)


def test_hang_mid_run(gw):
    server = "worlds/hang"
    run = first_state(gw, server)
    gw.q(server, "ExecuteAction", run=run, action="50").error(504)
    assert_ended(gw, server, run)


def test_mind_hang(gw):
    server = "minds/hang"
    run = gw.start(server)
    gw.q(server, "GetAction", run=run, state="low: 1\nhigh: 100\n").error(504)
    assert_ended(gw, server, run)


# -- ending stubborn programs and their children ---------------------------------


def gone_soon(pid: int, within: float = 5.0) -> bool:
    """SIGKILL is delivered asynchronously: on a busy machine the process may
    still be listed for a moment after EndRun has answered."""
    deadline = time.monotonic() + within
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_ignores_stop_and_sigterm(gw):
    server = "worlds/stubborn"
    run = first_state(gw, server)
    gw.q(server, "ExecuteAction", run=run, action="50").ok()
    pid = int((run_dir(gw, server, run) / "pid").read_text())
    ref = HelloRef(1)
    ref.step(50)
    started = time.monotonic()
    assert gw.q(server, "EndRun", run=run).ok()["score"] == ref.score()
    assert time.monotonic() - started < 5.0  # grace 0.5 s: stop, SIGTERM, SIGKILL
    assert gone_soon(pid)


def test_child_is_ended_with_its_parent(gw):
    server = "worlds/spawner"
    run = first_state(gw, server)
    child = int((run_dir(gw, server, run) / "child.pid").read_text())
    assert pid_alive(child)
    gw.q(server, "EndRun", run=run).ok()
    assert gone_soon(child)


def test_child_is_ended_when_its_parent_crashes(gw):
    server = "worlds/spawner"
    run = first_state(gw, server)
    child = int((run_dir(gw, server, run) / "child.pid").read_text())
    gw.q(server, "ExecuteAction", run=run, action="crash").error(502)
    deadline = time.monotonic() + 3
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone_soon(child)
    assert_ended(gw, server, run)


def test_child_that_left_the_process_group(gw):
    """A child that called setsid() escapes killpg; the gateway must still end it
    (it carries the run's WWM_RUN_ID / WWM_RUN_DIR in its environment)."""
    server = "worlds/escapee"
    run = first_state(gw, server)
    child = int((run_dir(gw, server, run) / "child.pid").read_text())
    assert pid_alive(child)
    gw.q(server, "EndRun", run=run).ok()
    try:
        assert not pid_alive(child), "the setsid() child of an ended run is still running"
    finally:
        if pid_alive(child):
            os.kill(child, 9)
