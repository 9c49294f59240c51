"""Live runs' records: read from any worker, lost when their driving process is gone, ids checked."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wwm.protocol.errors import NotFound
from wwm.web import live


def test_a_run_whose_process_ended_reads_as_lost(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rec = {"id": "0123456789abcdef", "status": "running", "pid": dead.pid, "host": __import__("socket").gethostname()}
    (tmp_path / ".ui").mkdir()
    (tmp_path / ".ui" / "0123456789abcdef.json").write_text(json.dumps(rec))
    assert live.read(str(tmp_path), "0123456789abcdef")["status"] == "lost"


def test_a_local_run_is_driven_to_its_end_and_stopped_on_request(tmp_path, runs_dir):
    from wwmtest import REPO

    from wwm.client import connect

    def go(steps, pace):
        world = connect(str(REPO / "worlds" / "hello-python"), runs=str(runs_dir))
        mind = connect(str(REPO / "minds" / "hello-python"), runs=str(runs_dir))
        return live.start(str(runs_dir), world, [mind], {"world": "w", "minds": ["m"]}, steps, 1, pace)

    def wait(run_id):
        import time

        deadline = time.monotonic() + 60
        while live.read(str(runs_dir), run_id)["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        return live.read(str(runs_dir), run_id)

    done = wait(go(20, 0))
    assert done["status"] in ("ended", "done") and done["step"] == 20 and done["points"]
    run_id = go(100000, 0.01)
    live.stop(str(runs_dir), run_id)
    stopped = wait(run_id)
    assert stopped["status"] == "stopped" and stopped["step"] < 100000


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "0123456789ABCDEF", "", "a" * 17])
def test_odd_run_ids_are_not_found(tmp_path, run_id):
    with pytest.raises(NotFound):
        live.read(str(tmp_path), run_id)
    with pytest.raises(NotFound):
        live.stop(str(tmp_path), run_id)
