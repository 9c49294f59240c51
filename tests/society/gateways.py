"""Real gateways on 127.0.0.1 for the society and scoreboard tests.

    root = make_root(tmp_path, {"good": "--skill bisect", "crashy": "--skill bisect --crash-at 2"})
    with Gateway(root, tmp_path / "runs") as gw:
        url = gw.url("minds/good")

``make_root`` builds a server root: ``worlds/hello-python`` (a link to the
repository's) and one Mind folder per fixture (tests/society/servers/member.py
with the given options).  ``Gateway`` runs ``python -m wwm serve`` (or, with
``scores=True``, the same Flask app with the /scores view registered) as a
subprocess on a free port, waits until it answers, and stops it with SIGINT
(the gateway then ends its runs), SIGKILL as a last resort.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVERS = Path(__file__).resolve().parent / "servers"
MEMBER = SERVERS / "member.py"

SCORES_APP = """
import sys
from wwm.gateway import wsgi
from wwm import scoreboard
app = wsgi.create_app({"ROOT": sys.argv[1], "RUNS": sys.argv[2]})
scoreboard.init_app(app)  # once the lead registers it in create_app, this does nothing
if hasattr(wsgi, "serve"):
    wsgi.serve(app, "127.0.0.1", int(sys.argv[3]))
else:
    try:
        app.run(host="127.0.0.1", port=int(sys.argv[3]), threaded=True, use_reloader=False)
    finally:
        app.extensions["wwm.gateway"].shutdown()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root(tmp: Path, members: dict[str, str], *, step_timeout: float | None = None,
              name: str = "root") -> Path:
    """A server root with the hello World and fixture Minds ``{name: member.py options}``."""
    root = Path(tmp) / name
    (root / "minds").mkdir(parents=True, exist_ok=True)
    (root / "worlds").mkdir(exist_ok=True)
    world = root / "worlds" / "hello-python"
    if not world.exists():
        world.symlink_to(REPO / "worlds" / "hello-python")
    for mname, args in members.items():
        add_mind(root, mname, args, step_timeout=step_timeout)
    return root


def add_mind(root: Path, name: str, args: str, step_timeout: float | None = None) -> Path:
    folder = Path(root) / "minds" / name
    folder.mkdir(parents=True, exist_ok=True)
    limits = f"[limits]\nstep_timeout = {step_timeout}\ngrace = 0.5\n" if step_timeout else "[limits]\ngrace = 0.5\n"
    (folder / "wwm.toml").write_text(
        f'kind = "mind"\nname = "{name}"\ndescription = "test member: {args}"\n'
        f'command = "python3 {MEMBER} {args}"\nformats = ["text"]\n{limits}')
    return folder


def add_society(root: Path, name: str, xml: str, step_timeout: float = 10) -> Path:
    """A society server folder ``minds/NAME`` with ``society.xml`` = ``xml``."""
    folder = Path(root) / "minds" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wwm.toml").write_text(
        f'kind = "society"\nname = "{name}"\ndescription = "test society"\n'
        f'command = "python3 -m wwm.society"\nformats = ["text", "xml"]\n'
        f"[limits]\nstep_timeout = {step_timeout}\ngrace = 1\n")
    (folder / "society.xml").write_text(xml)
    return folder


class Gateway:
    """``wwm serve --root ROOT --runs RUNS --port PORT`` as a subprocess."""

    def __init__(self, root, runs, port: int | None = None, scores: bool = False):
        self.root, self.runs = Path(root), Path(runs)
        self.port = port or free_port()
        self.scores = scores
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base}/wwm/{name}"

    def start(self, timeout: float = 20.0) -> "Gateway":
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if self.scores:
            argv = [sys.executable, "-c", SCORES_APP, str(self.root), str(self.runs), str(self.port)]
        else:
            argv = [sys.executable, "-m", "wwm", "serve", "--root", str(self.root), "--runs", str(self.runs),
                    "--port", str(self.port)]
        self.runs.mkdir(parents=True, exist_ok=True)
        log = open(self.runs / f"gateway-{self.port}.log", "ab")
        self.proc = subprocess.Popen(argv, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}; see {self.runs}/gateway-{self.port}.log")
            try:
                with urllib.request.urlopen(f"{self.base}/wwm/?format=json", timeout=2) as resp:
                    json.load(resp)
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway on port {self.port} did not answer within {timeout} s")

    def stop(self, kill: bool = False) -> None:
        """Stop the gateway: SIGINT (it ends its runs), or SIGKILL with ``kill=True``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def end_all_runs(self) -> None:
        """End every run left in the runs folder (after a killed gateway)."""
        from wwm.gateway.queries import Gateway

        Gateway(str(self.root), str(self.runs)).shutdown()

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.end_all_runs()


def society_status(runs: Path, society: str) -> list[dict]:
    """The ``society.json`` of every run of a society on a gateway, oldest first."""
    found = sorted((runs / "minds" / society).glob("*/society.json"), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in found]


def hello_bisect_score(seed: int, steps: int) -> int:
    """Hits of the perfect (bisecting) player in the hello game (docs/protocol.md)."""
    x, hits = seed, 0

    def new():
        nonlocal x
        x = (x * 75 + 74) % 65537
        return x % 100 + 1, 1, 100

    secret, low, high = new()
    for _ in range(steps):
        guess = (low + high) // 2
        if guess == secret:
            hits += 1
            secret, low, high = new()
        elif guess < secret:
            low = guess + 1
        else:
            high = guess - 1
    return hits
