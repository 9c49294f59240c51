"""``wwm node``: one process with the gateway and ActivityPub; keys made on first start and kept."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from fedkit import free_port, wait_port

REPO = Path(__file__).resolve().parent.parent.parent


def start_node(root, state, port, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "wwm", "node", "--root", str(root), "--base-url",
                             f"http://127.0.0.1:{port}", "--port", str(port), "--state-dir", str(state),
                             "--stop-after", "60", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)


def test_node_serves_gateway_and_activitypub_and_keeps_keys(tmp_path, test_root):
    port = free_port()
    state = tmp_path / "state"
    proc = start_node(test_root, state, port)
    try:
        wait_port(port, 60, proc)
        base = f"http://127.0.0.1:{port}"
        jrd = requests.get(f"{base}/.well-known/webfinger", params={"resource": f"acct:fungus@127.0.0.1:{port}"},
                           timeout=10).json()
        actor = requests.get(jrd["links"][0]["href"], headers={"Accept": "application/activity+json"},
                             timeout=10)
        assert actor.headers["Content-Type"] == "application/activity+json"
        first_key = actor.json()["publicKey"]["publicKeyPem"]
        # the gateway is served by the same process
        assert requests.get(f"{base}/wwm/minds/fungus", params={"query": "Describe", "format": "json"},
                            timeout=10).status_code == 200
        assert requests.post(f"{base}/ap/inbox", data=b"{}", timeout=10).status_code == 401
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "@fungus@127.0.0.1" in out and "stopped" in out
    assert sorted(os.listdir(state / "keys")) == ["fungus-world.pem", "fungus.pem", "node.pem"]

    proc = start_node(test_root, state, port)  # a restart keeps the keys
    try:
        wait_port(port, 60, proc)
        again = requests.get(f"http://127.0.0.1:{port}/ap/actors/fungus", timeout=10).json()
        assert again["publicKey"]["publicKeyPem"] == first_key
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_node_stops_by_itself(tmp_path, test_root):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "wwm", "node", "--root", str(test_root), "--base-url",
                             f"http://127.0.0.1:{port}", "--port", str(port), "--state-dir", str(tmp_path / "s"),
                             "--stop-after", "2"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 50


def test_node_command_help():
    from wwm.federation.cli import node_command

    result = CliRunner().invoke(node_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--root", "--base-url", "--host", "--port", "--allow-private-fetch", "--authorized-fetch"):
        assert option in result.output


def test_gunicorn_factory(tmp_path, test_root):
    from wwmtest import missing

    try:
        import gunicorn  # noqa: F401
    except ImportError:
        missing("gunicorn (pip install gunicorn)")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               WWM_ROOT=str(test_root), WWM_BASE_URL=f"http://127.0.0.1:{port}",
               WWM_RUNS=str(tmp_path / "runs"), WWM_FEDERATION_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             "wwm.federation.cli:create_node_app()"], env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    keys, failure = set(), None
    try:
        wait_port(port, 60, proc)
        for _ in range(6):  # both workers answer with the same, shared key
            doc = requests.get(f"http://127.0.0.1:{port}/ap/actors/fungus", timeout=10).json()
            keys.add(doc["publicKey"]["publicKeyPem"])
    except requests.RequestException as exc:
        failure = exc
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert failure is None, f"{failure}\ngunicorn said:\n{output[-4000:]}"
    assert len(keys) == 1
