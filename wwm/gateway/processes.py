"""Program 1's process: starting it detached, liveness, building, stopping."""
from __future__ import annotations

import fcntl
import os
import sys
import time

from wwm.protocol.errors import GatewayError, ProtocolError
from wwm.protocol.manifest import Server

_children: dict = {}  # pid -> Popen started by this process; reaped lazily
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "WWM_POLL",
              "WWM_DATA", "WWM_SONGS_GRAPH")  # the graph song requests are read against (wwm.songs.sources)


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


def build_dir(server: Server, runs: str) -> str:
    """Where a server's ``build`` runs and its output lives: under RUNS, never in
    the server folder (which the web server may not write, and we promise not to)."""
    return os.path.join(runs, ".builds", server.folder, server.name)


def resolve_command(server: Server, runs: str | None = None) -> list[str]:
    """The argv of a server's command: ``./x`` lives in the server folder, except
    the build's output (``build_creates``), which lives in the build folder."""
    import shlex  # deferred, like every import only some queries need

    argv = shlex.split(server.manifest["command"])
    if argv and argv[0] in ("python3", "python"):
        argv[0] = sys.executable or argv[0]
    built = server.manifest.get("build_creates") if runs and server.manifest.get("build") else None

    def where(arg: str) -> str:
        if not arg.startswith("./"):
            return arg
        return os.path.join(build_dir(server, runs) if arg[2:] == built else server.path, arg[2:])

    return [where(a) for a in argv]


def _package_parent() -> str | None:
    """The folder holding the ``wwm`` package, when this file lives in it."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.basename(here) == "gateway" and os.path.basename(os.path.dirname(here)) == "wwm":
        return os.path.dirname(os.path.dirname(here))
    return None


def build_server(server: Server, runs: str) -> None:
    """Run the manifest's ``build`` command, in a copy of the server folder under
    RUNS, when its output is missing or older than a source."""
    build = server.manifest.get("build")
    creates = server.manifest.get("build_creates")
    if not build or not creates:
        return
    where = build_dir(server, runs)
    target = os.path.join(where, creates)

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
        import shlex
        import shutil
        import subprocess

        shutil.copytree(server.path, where, dirs_exist_ok=True,
                        ignore=lambda _dir, names: [n for n in names if n == creates or n.startswith(".")])
        proc = subprocess.run(shlex.split(build), cwd=where, capture_output=True, timeout=120)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).decode("utf-8", "replace")[-2000:]
            raise GatewayError(f"server {server.name!r}: build failed: {detail}")


# [limits] keys for Program 1's resource limits (setrlimit), on by default:
# a runaway Program 1 is stopped by the kernel, not by the operator.
RLIMITS = {"cpu_seconds": "RLIMIT_CPU", "memory_mb": "RLIMIT_AS", "open_files": "RLIMIT_NOFILE",
           "processes": "RLIMIT_NPROC"}


def _set_limits(pid: int, limits: dict, shared: bool) -> None:
    """Apply the run's resource limits to Program 1 (and so to its children).

    Set from the gateway just after the start (subprocess has no rlimit option
    and preexec_fn is unsafe in a threaded server): the few instructions before
    are Program 1's start-up, not its work."""
    import resource

    for key, name in RLIMITS.items():
        if key == "cpu_seconds" and shared:
            continue  # one process serves every run for as long as the gateway lives
        value = int(limits.get(key) or 0)
        if value <= 0:
            continue
        value = value << 20 if key == "memory_mb" else value
        try:
            _soft, hard = resource.prlimit(pid, getattr(resource, name))
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.prlimit(pid, getattr(resource, name), (value, value))
        except (OSError, ValueError):
            pass  # exited already, or a limit this system refuses: the others still hold


def start_process(server: Server, cwd: str, env_extra: dict[str, str], runs: str | None = None,
                  refuse_root: bool = False) -> tuple[int, str]:
    """Start Program 1 detached in its own session; return ``(pid, start_time)``.

    Its stdout and stderr go to ``cwd/log``.  It never sees the request's
    environment: only the variables of ``PASSED_ENV`` are passed, plus the
    ``WWM_*`` ones this gateway sets itself (``WWM_SERVER_DIR``, ``env_extra``).
    A web gateway (``refuse_root``) never starts Program 1 as root unless
    WWM_ALLOW_ROOT=1: code reached from the web must not run with every right.
    """
    if refuse_root and os.geteuid() == 0 and os.environ.get("WWM_ALLOW_ROOT") != "1":
        raise GatewayError("the gateway runs as root and will not start Program 1 as root: run the web "
                           "server's CGI or wwm serve as an unprivileged user (or set WWM_ALLOW_ROOT=1)")
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    parent = _package_parent()
    extra_path = [p for p in (parent, os.environ.get("WWM_PYTHONPATH")) if p]
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(extra_path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    if runs:  # Python bytecode goes under RUNS too, not into the server folder or a checkout
        env["PYTHONPYCACHEPREFIX"] = os.path.join(runs, ".pycache")
    env["WWM_SERVER_DIR"] = server.path
    env.update(env_extra)
    import subprocess  # deferred, like every import only some queries need

    with open(os.path.join(cwd, "log"), "ab") as log:
        try:
            proc = subprocess.Popen(resolve_command(server, runs), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=True)
        except OSError as exc:
            raise ProtocolError(f"server {server.name!r}: cannot start its command: {exc.strerror}") from None
    _set_limits(proc.pid, server.limits, server.shared)
    _reap_children()
    _children[proc.pid] = proc
    start = _proc_start_time(proc.pid) or ""
    return proc.pid, start


def stop_process(pid: int, start: str | None, grace: float) -> None:
    """End Program 1's process group: SIGTERM, then SIGKILL after ``grace``.

    The caller has already written ``stop``; we first give the program
    ``grace`` seconds to notice it and leave on its own.
    """
    import signal

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
    import signal

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
