"""Program 1's process: starting it detached, liveness, building, stopping."""
from __future__ import annotations

import fcntl
import os
import shlex
import signal
import sys
import time

from wwm.protocol.errors import GatewayError, ProtocolError
from wwm.protocol.manifest import Server

_children: dict = {}  # pid -> Popen started by this process; reaped lazily
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "WWM_POLL",
              "WWM_DATA")


def _proc_start_time(pid: int) -> str | None:
    """Start time of ``pid`` (guards against pid reuse); None if dead or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _reap_children() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(pid, None)  # threads of one gateway reap concurrently


def process_alive(pid: int, start: str | None) -> bool:
    """True while the process ``pid`` started at ``start`` is running (a zombie is not)."""
    return pid > 0 and _proc_start_time(pid) == start


def resolve_command(server: Server) -> list[str]:
    """The argv of a server's command: ``./x`` lives in the server folder."""
    argv = shlex.split(server.manifest["command"])
    if argv and argv[0] in ("python3", "python"):
        argv[0] = sys.executable or argv[0]
    return [os.path.join(server.path, a[2:]) if a.startswith("./") else a for a in argv]


def _package_parent() -> str | None:
    """The folder holding the ``wwm`` package, when this file lives in it."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.basename(here) == "gateway" and os.path.basename(os.path.dirname(here)) == "wwm":
        return os.path.dirname(os.path.dirname(here))
    return None


def build_server(server: Server, runs: str) -> None:
    """Run the manifest's ``build`` command when its output is missing or stale."""
    build = server.manifest.get("build")
    creates = server.manifest.get("build_creates")
    if not build or not creates:
        return
    target = os.path.join(server.path, creates)

    def stale() -> bool:
        try:
            built = os.stat(target).st_mtime
        except FileNotFoundError:
            return True
        return any(os.stat(os.path.join(server.path, f)).st_mtime > built
                   for f in os.listdir(server.path) if f != creates and not f.startswith("."))

    if not stale():
        return
    os.makedirs(runs, exist_ok=True)
    with open(os.path.join(runs, f".build-{server.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stale():  # another process built it while we waited
            return
        import subprocess

        proc = subprocess.run(shlex.split(build), cwd=server.path, capture_output=True, timeout=120)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).decode("utf-8", "replace")[-2000:]
            raise GatewayError(f"server {server.name!r}: build failed: {detail}")


def start_process(server: Server, cwd: str, env_extra: dict[str, str]) -> tuple[int, str]:
    """Start Program 1 detached in its own session; return ``(pid, start_time)``.

    Its stdout and stderr go to ``cwd/log``.  It never sees the request's
    environment: only a few variables are passed, plus the ``WWM_*`` ones.
    """
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    parent = _package_parent()
    extra_path = [p for p in (parent, os.environ.get("WWM_PYTHONPATH")) if p]
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(extra_path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["WWM_SERVER_DIR"] = server.path
    env.update(env_extra)
    import subprocess  # deferred, like every import only some queries need

    with open(os.path.join(cwd, "log"), "ab") as log:
        try:
            proc = subprocess.Popen(resolve_command(server), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)
        except OSError as exc:
            raise ProtocolError(f"server {server.name!r}: cannot start its command: {exc.strerror}") from None
    _reap_children()
    _children[proc.pid] = proc
    start = _proc_start_time(proc.pid) or ""
    return proc.pid, start


def stop_process(pid: int, start: str | None, grace: float) -> None:
    """End Program 1's process group: SIGTERM, then SIGKILL after ``grace``.

    The caller has already written ``stop``; we first give the program
    ``grace`` seconds to notice it and leave on its own.
    """
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and process_alive(pid, start):
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and process_alive(pid, start):
            time.sleep(0.01)
        if not process_alive(pid, start):
            break
    # Program 1's own children share its process group; clear them too.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _reap_children()


def kill_strays(run: str) -> int:
    """SIGKILL processes that left Program 1's process group (setsid, daemons)
    but still carry this run's WWM_RUN_ID; Linux /proc only, best effort."""
    marker = f"WWM_RUN_ID={run}".encode()
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except OSError:
            continue
    return killed


# ---------------------------------------------------------------------------
# scoreboard
# ---------------------------------------------------------------------------
