"""The Python client without a web server: context managers, which queries it
re-sends, and the log a failed local run leaves behind."""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from wwm.client import connect
from wwm.protocol.errors import ConnectionFailed, ProtocolError
from wwmtest import REPO

SERVERS = REPO / "tests" / "gateway" / "servers"


class FlakyServer:
    """HTTP on 127.0.0.1 that drops the connection of the first ``drops`` requests
    after reading them (as a gateway restarting mid-query would), then answers."""

    def __init__(self, drops: int):
        self.drops, self.seen = drops, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(10)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/wwm/worlds/w"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        for _ in range(10):  # bounded: a test makes a few requests at most
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0])
                while len(body) < length:
                    body += conn.recv(65536)
                self.seen.append(body)
                if len(self.seen) <= self.drops:
                    continue  # close without an answer
                doc = json.dumps({"status": "ok", "code": 200, "run": "r" * 24, "state": "s", "done": False,
                                  "score": "1"}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(doc)).encode() + b"\r\n\r\n" + doc)

    def close(self):
        self.sock.close()


def test_idempotent_queries_are_resent_once_on_a_broken_connection():
    srv = FlakyServer(drops=1)
    try:
        with connect(srv.url) as server:
            from wwm.client.client import Run

            assert Run(server, "r" * 24).get_state() == "s"
        assert len(srv.seen) == 2
    finally:
        srv.close()


def test_actions_are_never_sent_twice():
    srv = FlakyServer(drops=1)
    try:
        with connect(srv.url) as server:
            from wwm.client.client import Run

            with pytest.raises(ConnectionFailed):
                Run(server, "r" * 24).execute_action("50")
        assert len(srv.seen) == 1  # the World got the action once, whatever happened to it
    finally:
        srv.close()


def test_run_context_manager_ends_the_run(tmp_path):
    with connect(str(REPO / "worlds" / "hello-python"), runs=str(tmp_path)) as world:
        with world.start_run(seed=3) as run:
            run.get_state()
            run.execute_action("50")
        with pytest.raises(Exception, match="ended|no run"):
            run.get_score()


def test_a_failed_local_run_keeps_its_log_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    root = tmp_path / "root" / "worlds"
    root.mkdir(parents=True)
    import shutil

    shutil.copytree(SERVERS / "worlds" / "crash-mid", root / "crash-mid")
    shutil.copy(SERVERS / "p1.py", tmp_path / "root" / "p1.py")
    with connect(str(root / "crash-mid"), runs=str(tmp_path / "runs")) as world:
        run = world.start_run()
        run.get_state()
        with pytest.raises(ProtocolError, match="log kept at") as caught:
            run.execute_action("50")
    kept = Path(str(caught.value).rsplit("log kept at ", 1)[1].rstrip(")"))
    assert kept.is_file() and "ZeroDivisionError" in kept.read_text()
