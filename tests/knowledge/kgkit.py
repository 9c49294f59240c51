"""Helpers for the knowledge tests: start and stop a real `oxigraph serve` on a free loopback port."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
import requests


def oxigraph_or_skip() -> str:
    """The oxigraph CLI; missing, it skips the test (fails with WWM_STRICT=1)."""
    exe = shutil.which("oxigraph")
    if not exe:
        msg = "oxigraph is not installed (pip install oxigraph)"
        if os.environ.get("WWM_STRICT") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OxigraphServer:
    """`oxigraph serve --location DIR --bind 127.0.0.1:PORT`, restartable on the same port and data."""

    def __init__(self, location: str, port: int | None = None):
        self.location, self.port = location, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, wait: float = 60.0) -> None:
        log = open(os.path.join(os.path.dirname(self.location), f"oxigraph-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([oxigraph_or_skip(), "serve", "--location", self.location,
                                      "--bind", f"127.0.0.1:{self.port}"], stdout=log, stderr=log)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited with {self.proc.returncode}")
            try:
                if requests.get(self.url + "/query", params={"query": "ASK {}"}, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oxigraph serve did not answer on {self.url} within {wait} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def open_test_store(kind: str, folder, request):
    """A fresh store of ``kind``: "embedded" in ``folder``, or "remote" on the session's
    ``oxigraph_server`` (emptied first; its write queue in ``folder``)."""
    from wwm.knowledge.store import EmbeddedStore, RemoteStore

    if kind == "embedded":
        return EmbeddedStore(str(folder / "kg"))
    server = request.getfixturevalue("oxigraph_server")
    store = RemoteStore(server.url, queue=str(folder / "queue.sqlite"))
    store.update("CLEAR ALL")
    return store
