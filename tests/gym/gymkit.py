"""Tools for the Gymnasium tests and bench/gym.py: a ROOT holding Gymnasium Worlds made by
``wwm new world NAME --gymnasium ENV_ID``, and ``wwm serve`` over it on 127.0.0.1."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wwm(*args: str, cwd: Path | str | None = None, timeout: float = 120, **env_vars: str
        ) -> subprocess.CompletedProcess:
    """The ``wwm`` command, as a user runs it (``env_vars`` added to its environment)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **env_vars)
    return subprocess.run([sys.executable, "-m", "wwm", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def make_gym_root(root: Path, worlds: dict[str, str]) -> Path:
    """``root/worlds/NAME`` for each ``{NAME: ENV_ID}``, through the CLI."""
    root.mkdir(parents=True, exist_ok=True)
    for name, env_id in worlds.items():
        out = wwm("new", "world", name, "--gymnasium", env_id, "--root", str(root))
        assert out.returncode == 0, out.stderr
    return root


class Served:
    """``wwm serve`` on a free port of 127.0.0.1 (stop() ends it and its runs)."""

    def __init__(self, root: Path, runs: Path, threads: int = 8):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/wwm/"
        self.log = open(runs.parent / f"serve-{self.port}.log", "ab")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wwm", "serve", "--root", str(root), "--runs", str(runs),
             "--port", str(self.port), "--threads", str(threads)],
            env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/wwm/")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"wwm serve did not start (exit {self.proc.poll()})")
                time.sleep(0.1)

    def url(self, name: str) -> str:
        return self.base + "worlds/" + name

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
