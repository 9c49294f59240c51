"""The wwm command: run, describe, new, cgi-file (real processes, no mocks)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from wwmtest import REPO
from wwm.cli import cli

LANGS = ["python", "sh", "c", "perl", "js"]


def wwm(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "-m", "wwm", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **(env or {})))


def test_run_prints_progress_then_one_json_line(runs_dir):
    out = wwm("run", "worlds/hello-python", "minds/hello-c", "--steps", "30", "--seed", "7",
              env={"WWM_RUNS": str(runs_dir)})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"world", "mind", "steps", "score", "seconds"} <= set(result)
    assert result["steps"] == 30 and result["score"] >= 4 and result["world"].endswith("worlds/hello-python")
    assert "step 30/30" in out.stderr  # progress went to the terminal side


def test_run_reports_a_bad_target_cleanly(tmp_path):
    out = wwm("run", str(tmp_path), "minds/hello-python")
    assert out.returncode == 1 and "neither an http(s) URL nor a server folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_describe():
    out = wwm("describe", "minds/hello-perl")
    assert out.returncode == 0
    assert json.loads(out.stdout)["kind"] == "mind"


@pytest.mark.parametrize("lang", LANGS)
def test_new_scaffolds_servers_that_play_together(lang, tmp_path, runs_dir):
    runner = CliRunner()
    for kind in ("mind", "world"):
        res = runner.invoke(cli, ["new", kind, f"my-{kind}", "--lang", lang, "--root", str(tmp_path)])
        assert res.exit_code == 0, res.output
    mind = tmp_path / "minds" / "my-mind"
    assert not any(p.is_symlink() for p in mind.iterdir())  # helpers copied: the folder stands alone
    assert 'name = "my-mind"' in (mind / "wwm.toml").read_text()
    out = wwm("run", str(tmp_path / "worlds" / "my-world"), str(mind), "--steps", "20", "--quiet",
              env={"WWM_RUNS": str(runs_dir)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["score"] >= 3


def test_new_refuses_bad_names_and_existing_folders(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["new", "mind", "../evil", "--root", str(tmp_path)]).exit_code == 1
    assert runner.invoke(cli, ["new", "mind", "ok", "--root", str(tmp_path)]).exit_code == 0
    res = runner.invoke(cli, ["new", "mind", "ok", "--root", str(tmp_path)])
    assert res.exit_code == 1 and "already exists" in res.output


def test_cgi_file_is_a_fresh_build_and_the_committed_one_is_current(tmp_path):
    res = CliRunner().invoke(cli, ["cgi-file", str(tmp_path)])
    assert res.exit_code == 0
    written = tmp_path / "wwm.py"
    assert os.access(written, os.X_OK)
    # The repository's cgi-bin/wwm.py is that same build: rebuild it with
    # `python3 -m wwm.gateway.amalgamate` (or `make cgi`) after editing the package.
    assert (REPO / "cgi-bin" / "wwm.py").read_bytes() == written.read_bytes(), \
        "cgi-bin/wwm.py is stale: run `make cgi`"


def test_operator_errors_are_one_line_never_a_traceback(tmp_path):
    """What an operator gets wrong, answered in one line with exit code 1 (or 2 for usage)."""
    import socket
    import subprocess
    import sys

    def wwm(*args, timeout=30):
        return subprocess.run([sys.executable, "-m", "wwm", *args], capture_output=True, text=True,
                              timeout=timeout, cwd=str(REPO))

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    (tmp_path / "minds").mkdir()
    try:
        cases = [
            (["serve", "--root", str(tmp_path), "--port", str(port)], "cannot listen"),
            (["serve", "--root", str(tmp_path / "nothing"), "--port", "1"], "no minds/ or worlds/"),
            (["cgi-file", str(tmp_path / "missing" / "dir" / "wwm.py")], "no folder"),
            (["run", "worlds/hello-python", "minds/hello-python", "--steps", "0"], "--steps"),
            (["run", "worlds/hello-python", "minds/hello-python", "--steps", "-3"], "--steps"),
        ]
        for args, words in cases:
            out = wwm(*args)
            assert out.returncode in (1, 2) and words in out.stderr, (args, out.stderr)
            assert "Traceback" not in out.stderr, out.stderr
    finally:
        busy.close()


def test_a_url_that_is_not_a_gateway_says_so(tmp_path):
    import http.server
    import threading

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        res = CliRunner().invoke(cli, ["run", f"http://127.0.0.1:{srv.server_port}/x", "minds/hello-python",
                                       "--steps", "1"])
        assert res.exit_code == 1 and "not a wwm gateway" in res.output
        assert json.loads(res.output.splitlines()[0])["error"]  # a JSON line on failure too
    finally:
        srv.shutdown()
        srv.server_close()
