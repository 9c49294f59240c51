"""Program 1 under confinement: never root from the web, resource limits on, and
nothing written outside RUNS (builds and Python bytecode included)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wwmtest import REPO
from wwm.gateway.queries import Gateway
from wwm.protocol.errors import GatewayError

LIMITS = '''import os
d = os.environ["WWM_RUN_DIR"]
rows = [l for l in open("/proc/self/limits") if l.startswith(("Max open files", "Max address space", "Max cpu time"))]
open(os.path.join(d, "state.tmp"), "w").write("".join(rows))
os.rename(os.path.join(d, "state.tmp"), os.path.join(d, "state"))
import time
while not os.path.exists(os.path.join(d, "stop")):
    time.sleep(0.05)
'''


def world(root: Path, name: str, script: str, extra: str = "") -> None:
    folder = root / "worlds" / name
    folder.mkdir(parents=True)
    (folder / "w.py").write_text(script)
    (folder / "wwm.toml").write_text(f'kind = "world"\ncommand = "python3 ./w.py"\n{extra}')


def test_a_web_gateway_running_as_root_refuses_to_start_program_1(tmp_path, runs_dir, monkeypatch):
    # The decision is made on geteuid(); it is faked here so the test runs as any user.
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("WWM_ALLOW_ROOT", raising=False)
    world(tmp_path, "w", LIMITS)
    gw = Gateway(str(tmp_path), str(runs_dir))
    server = gw_server(gw, "worlds/w")
    with pytest.raises(GatewayError, match="will not start Program 1 as root"):
        gw.start_run(server)
    assert gw.active_runs() == [] and [p.name for p in (runs_dir / "worlds" / "w").iterdir()] == [".server"]
    local = Gateway(str(tmp_path), str(runs_dir), web=False)  # a user's own local runs are theirs
    run = local.start_run(server).run
    local.end_run(server, run)
    monkeypatch.setenv("WWM_ALLOW_ROOT", "1")  # the operator's explicit choice
    gw.end_run(server, gw.start_run(server).run)


def gw_server(gw, name):
    from wwm.protocol.manifest import find_server

    return find_server(gw.root, name)


def test_resource_limits_apply_to_program_1(tmp_path, runs_dir):
    world(tmp_path, "w", LIMITS, "[limits]\nopen_files = 77\nmemory_mb = 3000\ncpu_seconds = 120\n")
    gw = Gateway(str(tmp_path), str(runs_dir))
    server = gw_server(gw, "worlds/w")
    run = gw.start_run(server).run
    try:
        rows = {line[:25].strip(): line.split()[-3:-1] for line in gw.get_state(server, run).fields["state"].splitlines()}
    finally:
        gw.end_run(server, run)
    assert rows["Max open files"] == ["77", "77"]
    assert rows["Max address space"] == [str(3000 << 20)] * 2
    assert rows["Max cpu time"] == ["120", "120"]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_nothing_is_written_outside_runs(tmp_path, runs_dir):
    """A C server is built under RUNS; a Python one leaves no __pycache__ in its folder or the checkout."""
    root = tmp_path / "root"
    for sub in ("worlds/hello-c", "minds/hello-python"):
        shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("world", "mind", "__pycache__"))
    before = snapshot(root)
    package_before = {p for p in (REPO / "wwm").rglob("__pycache__")}
    gw = Gateway(str(root), str(runs_dir))
    for name, query, payload in (("worlds/hello-c", "execute_action", "50"),
                                 ("minds/hello-python", "get_action", "low: 1\nhigh: 100\n")):
        server = gw_server(gw, name)
        run = gw.start_run(server).run
        if query == "execute_action":
            gw.get_state(server, run)
            assert gw.execute_action(server, run, payload).fields["state"]
        else:
            assert gw.get_action(server, run, payload).fields["action"].strip() == "50"
        gw.end_run(server, run)
    assert snapshot(root) == before
    assert (runs_dir / ".builds" / "worlds" / "hello-c" / "world").exists()
    assert {p for p in (REPO / "wwm").rglob("__pycache__")} <= package_before
