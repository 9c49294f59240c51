"""Stand-alone driver for one Program 1: plays the gateway's side of the file protocol.

Used by tests/test_templates_lib.py and bench/lib_roundtrip.py. It plays the
gateway's side with the gateway core's own primitives (atomic writes, consume
on read, inotify waits, builds), one message at a time, so a test can look at
every file between two steps.

    with Program("minds/hello-c", tmp_path / "run") as mind:
        mind.put("state", "low: 1\\nhigh: 100\\n")
        assert mind.take("action", timeout=5) == "50\\n"
    # leaving the block writes `stop` and waits (then SIGTERM, SIGKILL)

It also holds a Python reference of the hello game (docs/protocol.md): parse_int,
RefWorld, ref_mind, ref_transcript.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

# ----------------------------------------------------------------- a server
# The gateway's own primitives play the gateway's side: atomic writes, consume
# on read, inotify waits, builds and command resolution are the core's.
from wwm.gateway.processes import build_server, resolve_command  # noqa: E402
from wwm.protocol.files import consume, open_watch, wait_for, write_atomic  # noqa: E402
from wwm.protocol.manifest import load_server  # noqa: E402


class DriverError(Exception):
    """The program did not answer, answered late, or crashed."""


def load_manifest(folder: Path) -> dict:
    with open(Path(folder) / "wwm.toml", "rb") as f:
        return tomllib.load(f)


_BUILDS: list[str] = []


def _builds() -> str:
    """A runs folder of this process for builds (as the gateway builds under RUNS), removed at exit."""
    if not _BUILDS:
        import atexit
        import shutil

        _BUILDS.append(tempfile.mkdtemp(prefix="wwm-builds-"))
        atexit.register(shutil.rmtree, _BUILDS[0], True)
    return _BUILDS[0]


def build(folder: Path) -> None:
    """Run the manifest's `build` when `build_creates` is missing or stale."""
    build_server(load_server(str(Path(folder).resolve())), _builds())


def command(folder: Path) -> list[str]:
    """The manifest's command, as the gateway resolves it."""
    return resolve_command(load_server(str(Path(folder).resolve())), _builds())


class Program:
    """One running Program 1 in its own run directory."""

    def __init__(self, folder, run_dir, seed: int | str = 1, run_id: str = "test-run"):
        self.folder = Path(folder).resolve()
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, WWM_RUN_DIR=str(self.run_dir), WWM_SERVER_DIR=str(self.folder),
                        WWM_RUN_ID=run_id, WWM_SEED=str(seed), WWM_INSTANCES="per-run")
        self.proc: subprocess.Popen | None = None
        self.watch = open_watch(str(self.run_dir))

    def start(self) -> "Program":
        build(self.folder)
        log = open(self.run_dir / "log", "ab")
        self.proc = subprocess.Popen(command(self.folder), cwd=self.run_dir, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return (self.run_dir / "log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def put(self, name: str, text: str) -> None:
        """Atomic write: NAME.tmp, then rename."""
        write_atomic(str(self.run_dir / name), text)

    def wait(self, name: str, timeout: float = 10.0) -> None:
        def check():
            if not self.alive():
                raise DriverError(f"{self.folder.name}: exited with {self.proc.returncode}; log:\n{self.log()}")

        if wait_for(str(self.run_dir), (name,), timeout, check, self.watch, strict=True) is None:
            raise DriverError(f"{self.folder.name}: no {name} after {timeout} s; log:\n{self.log()}")

    def take(self, name: str, timeout: float = 10.0) -> str:
        """Wait for NAME, read it, delete it (consume once)."""
        self.wait(name, timeout)
        return consume(str(self.run_dir / name), 1 << 20).decode()

    def read(self, name: str) -> str | None:
        """Read a file that is not consumed (score, done)."""
        try:
            return (self.run_dir / name).read_text()
        except FileNotFoundError:
            return None

    def stop(self, grace: float = 1.0) -> tuple[int, float, str]:
        """Write `stop`; after `grace` s SIGTERM the process group, 1 s later SIGKILL.

        Returns (returncode, seconds until it exited, what ended it: "stop"|"term"|"kill")."""
        return self._end([("stop", grace), ("term", 1.0), ("kill", 5.0)])

    def terminate(self, grace: float = 1.0) -> tuple[int, float, str]:
        """SIGTERM the process group (as the gateway does); SIGKILL after `grace` s."""
        return self._end([("term", grace), ("kill", 5.0)])

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _end(self, plan) -> tuple[int, float, str]:
        t0, rc, how = time.monotonic(), None, "never started"
        if self.proc is not None:
            for how, wait_s in plan:
                if how == "stop":
                    self.put("stop", "")
                else:
                    self._signal(signal.SIGTERM if how == "term" else signal.SIGKILL)
                try:
                    rc = self.proc.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
            self._signal(signal.SIGKILL)  # leftover children (sleep, inotifywait)
        self._close_watch()
        return (rc, time.monotonic() - t0, how)

    def _close_watch(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None

    def __enter__(self) -> "Program":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.alive():
            self.stop()
        else:
            self._close_watch()


# ----------------------------------------------------------------- the hello game, in Python
_INT = re.compile(r"[ \t\n\r\f\v]*([-+]?[0-9]+)[ \t\n\r\f\v]*")


def parse_int(text: str) -> int | None:
    """An integer with optional sign and surrounding ASCII whitespace, |n| < 10^9; else None."""
    m = _INT.fullmatch(text)
    if not m:
        return None
    n = int(m.group(1))
    return n if abs(n) < 10**9 else None


class RefWorld:
    """The hello World exactly as docs/protocol.md defines it (plus: every action counts as a step)."""

    def __init__(self, seed: int | str = 1):
        s = parse_int(str(seed))
        self.x = (1 if s is None else s) % 65537
        self.low, self.high, self.hits, self.steps = 1, 100, 0, 0
        self._new_secret()

    def _new_secret(self):
        self.x = (self.x * 75 + 74) % 65537
        self.secret = self.x % 100 + 1

    def _body(self) -> str:
        return f"low: {self.low}\nhigh: {self.high}\n"

    def first_state(self) -> str:
        return self._body()

    def score(self) -> str:
        return f"{self.hits}\nsteps: {self.steps}\n"

    def step(self, action: str) -> str:
        self.steps += 1
        g = parse_int(action)
        reward = 0
        if g is None:
            reward = -1
        elif g == self.secret:
            reward, self.low, self.high = 1, 1, 100
            self.hits += 1
            self._new_secret()
        elif g < self.secret:
            self.low = g + 1
        else:
            self.high = g - 1
        return f"reward: {reward}\n" + self._body()


def ref_mind(state: str) -> str:
    """The hello Mind: (low + high) // 2 from the 'low:'/'high:' lines (defaults 1, 100)."""
    v = {"low": 1, "high": 100}
    for line in state.split("\n"):
        for key in v:
            if line.startswith(key + ":"):
                n = parse_int(line[len(key) + 1:])
                if n is not None:
                    v[key] = n
    return f"{(v['low'] + v['high']) // 2}\n"


def ref_transcript(seed, steps: int) -> list[tuple[str, str, str]]:
    """[(state, action, score after the action)] for the reference World and Mind."""
    world = RefWorld(seed)
    state, out = world.first_state(), []
    for _ in range(steps):
        action = ref_mind(state)
        nxt = world.step(action)
        out.append((state, action, world.score()))
        state = nxt
    return out


# ----------------------------------------------------------------- a whole game
def play(world: Program | None, mind: Program | None, seed, steps: int, timeout: float = 10.0):
    """Play `steps` steps; None for either side means the Python reference.

    Returns [(state, action, score after the action)] like ref_transcript."""
    ref_w = RefWorld(seed) if world is None else None
    if world is None:
        state = ref_w.first_state()
    else:
        state = world.take("state", timeout)
        assert world.read("score") == "0\nsteps: 0\n", world.read("score")
    out = []
    for _ in range(steps):
        if mind is None:
            action = ref_mind(state)
        else:
            mind.put("state", state)
            action = mind.take("action", timeout)
        if world is None:
            nxt, score = ref_w.step(action), ref_w.score()
        else:
            world.put("action", action)
            nxt = world.take("state", timeout)
            score = world.read("score")
        out.append((state, action, score))
        state = nxt
    return out


if __name__ == "__main__":  # python3 tests/lib_driver.py WORLD_FOLDER MIND_FOLDER [SEED [STEPS]]
    seed = sys.argv[3] if len(sys.argv) > 3 else 1
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    with tempfile.TemporaryDirectory() as tmp:
        with Program(sys.argv[1], Path(tmp) / "w", seed) as w, Program(sys.argv[2], Path(tmp) / "m", seed) as m:
            for state, action, score in play(w, m, seed, n):
                print(repr(state), "->", repr(action), "| score", repr(score))
