"""Tools for the gateway conformance suite: start/stop real web servers with
the stock gateway, query them, find Program 1 processes, and the hello game
for expected answers (tests/lib_driver.py's reference).  Fixtures are in
conftest.py; bench/gateway.py starts its servers with these tools too."""
from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from wwmtest import missing

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(HERE.parent) not in sys.path:  # tests/, for lib_driver (bench/gateway.py imports this module too)
    sys.path.insert(0, str(HERE.parent))

from lib_driver import RefWorld, ref_mind  # noqa: E402

SERVERS = HERE / "servers"
SYSTEM_PYTHON = "/usr/bin/python3"
BACKENDS = ("lighttpd", "apache", "serve", "gunicorn")
CGI_PREFIX = "/cgi-bin/wwm.py/"
WSGI_PREFIX = "/wwm/"
START_TIMEOUT = 20.0  # seconds a web server may take to answer its first request


# ---------------------------------------------------------------------------
# small tools
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reply:
    """One HTTP answer, with helpers to read a wwm response out of it."""

    def __init__(self, status: int, headers: dict, body: bytes, backend: str, elapsed: float):
        self.status, self.headers, self.body, self.backend, self.elapsed = status, headers, body, backend, elapsed
        self.ctype = headers.get("content-type", "")

    def __repr__(self):
        return f"<Reply {self.status} {self.ctype} {self.body[:300]!r}>"

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def doc(self) -> dict:
        """The response as a dict: JSON as is; XML envelope attributes + children."""
        if self.ctype.startswith("application/json"):
            return json.loads(self.body)
        if self.ctype.startswith("application/xml"):
            top = ET.fromstring(self.body)
            assert top.tag == "wwm", self
            resp = top.find("response")
            assert resp is not None, self
            doc = dict(resp.attrib)
            doc["code"] = int(doc["code"])
            for child in resp:
                if len(child):
                    doc[child.tag] = ET.tostring(child[0], encoding="unicode").strip()
                else:
                    doc[child.tag] = child.text or ""
            return doc
        if self.ctype.startswith("text/plain"):
            return {"text": self.text}
        raise AssertionError(f"not a wwm response: {self!r}")

    def ok(self) -> dict:
        assert self.status == 200, self
        self.no_leak()
        doc = self.doc()
        if "status" in doc:
            assert doc["status"] == "ok", self
        return doc

    def no_leak(self) -> None:
        for bad in ("Traceback", 'File "/', "internal error", "<html", "<!DOCTYPE"):
            assert bad not in self.text, f"{bad!r} in the answer: {self!r}"

    def error(self, *codes: int) -> str:
        """Assert a clean wwm error with one of ``codes``; return its message."""
        assert self.status in codes, f"expected HTTP {codes}, got {self!r}"
        self.no_leak()
        if self.ctype.startswith("text/plain"):
            assert self.text.startswith(f"error {self.status}: "), self
            message = self.text.split(": ", 1)[1].strip()
        else:
            doc = self.doc()
            assert doc["status"] == "error", self
            assert doc["code"] == self.status, self
            message = doc.get("error", "")
        assert len(message) >= 8, f"error without a readable message: {self!r}"
        return message


class Backend:
    """One running gateway: a base URL and helpers to query it."""

    def __init__(self, name: str, port: int, prefix: str, runs: Path, proc: subprocess.Popen, files: Path):
        self.name, self.port, self.prefix, self.runs, self.proc, self.files = name, port, prefix, runs, proc, files
        self.started: list[tuple[str, str]] = []  # (server, run) started through start()
        self.cgi = prefix == CGI_PREFIX

    def __repr__(self):
        return f"<Backend {self.name} :{self.port}>"

    def url(self, server: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}{server}"

    def request(self, method: str, target: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 30.0) -> Reply:
        """A raw request; ``target`` is the path and query, sent unchanged."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.monotonic()
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if body is not None or method in ("POST", "PUT", "PATCH"):
                hdrs.setdefault("Content-Length", str(len(body or b"")))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                try:
                    conn.send(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer (413) before reading it all
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, self.name,
                         time.monotonic() - started)
        finally:
            conn.close()

    def get(self, server: str, params: dict | None = None, method: str = "GET", **kw) -> Reply:
        qs = urllib.parse.urlencode(params or {})
        return self.request(method, self.prefix + server + (f"?{qs}" if qs else ""), **kw)

    def post(self, server: str, params: dict, **kw) -> Reply:
        body = urllib.parse.urlencode(params).encode()
        return self.request("POST", self.prefix + server, body,
                            {"Content-Type": "application/x-www-form-urlencoded"}, **kw)

    def q(self, server: str, query: str, fmt: str = "json", method: str = "GET", timeout: float = 30.0,
          **params) -> Reply:
        """A query as GET (query string) or POST (form)."""
        params = {"query": query, "format": fmt, **{k: v for k, v in params.items() if v is not None}}
        reply = self.post(server, params, timeout=timeout) if method == "POST" else \
            self.get(server, params, timeout=timeout)
        if query == "StartRun" and reply.status == 200:
            doc = reply.doc()
            self.started.append((server, doc["text"].strip() if fmt == "text" else doc["run"]))
        return reply

    def start(self, server: str, seed: int | None = None) -> str:
        """StartRun; returns the run id (ended by the ``gw`` fixture if the test does not)."""
        return self.q(server, "StartRun", seed=seed).ok()["run"]

    def end_leftovers(self) -> None:
        for server, run in self.started:
            try:
                self.q(server, "EndRun", run=run, timeout=15)
            except OSError:
                pass
        self.started.clear()


# ---------------------------------------------------------------------------
# Program 1 processes and files
# ---------------------------------------------------------------------------


def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def program1_processes(runs: Path) -> list[tuple[int, str]]:
    """Live processes (zombies excluded) whose cwd, or whose WWM_RUN_DIR, is under ``runs``."""
    top = str(runs)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        if _proc_state(pid) in (None, "Z", "X"):
            continue
        mine = False
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            mine = cwd == top or cwd.startswith(top + "/")
        except OSError:
            pass
        if not mine:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read().split(b"\0")
                mine = any(e.startswith(b"WWM_RUN_DIR=" + top.encode()) for e in env)
            except OSError:
                pass
        if mine and _proc_state(pid) not in (None, "Z", "X"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                cmd = "?"
            found.append((pid, cmd))
    return found


def wait_no_program1(runs: Path, timeout: float = 4.0) -> list[tuple[int, str]]:
    """Wait (bounded) until no Program 1 runs under ``runs``; return what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = program1_processes(runs)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_program1(runs: Path) -> list[tuple[int, str]]:
    left = program1_processes(runs)
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def snapshot(base: Path) -> dict:
    """Every file under ``base`` except the RUNS folders and the web servers' own
    logs, pid files and sockets (their cgi-bin and htdocs are included)."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if not d.startswith("runs-")]
        elif rel.startswith("srv-") and os.sep not in rel:
            dirnames[:] = [d for d in dirnames if d in ("cgi-bin", "htdocs")]
            filenames = [f for f in filenames if f.endswith(".conf")]
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            seen[os.path.relpath(p, base)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return seen


def diff_snapshots(before: dict, after: dict) -> list[str]:
    changes = [f"new {p}" for p in sorted(set(after) - set(before))]
    changes += [f"gone {p}" for p in sorted(set(before) - set(after))]
    changes += [f"changed {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return changes


# ---------------------------------------------------------------------------
# the temporary ROOT
# ---------------------------------------------------------------------------


def copy_hello(root: Path) -> None:
    """The repository's hello-python World and Mind into ``root``."""
    for kind in ("worlds", "minds"):
        shutil.copytree(REPO / kind / "hello-python", root / kind / "hello-python",
                        ignore=shutil.ignore_patterns("__pycache__", "runs"))


def build_root(root: Path) -> None:
    """ROOT = the hello-python World and Mind + the fixture servers of servers/."""
    shutil.copytree(SERVERS, root, ignore=shutil.ignore_patterns("__pycache__"))
    copy_hello(root)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


# ---------------------------------------------------------------------------
# starting and stopping servers
# ---------------------------------------------------------------------------


def wait_ready(proc: subprocess.Popen, port: int, target: str, log: Path | None) -> None:
    """Wait until ``target`` answers (any HTTP status), bounded; fail with the log."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", target)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    stop_process(proc)
    raise RuntimeError(f"server {proc.args} did not start (exit {proc.poll()}):\n{detail}")


def stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        except ProcessLookupError:
            pass


def install_cgi(cgi_bin: Path) -> Path:
    """Drop the stock gateway into ``cgi_bin`` as ``wwm cgi-file`` does (a copy)."""
    cgi_bin.mkdir(parents=True, exist_ok=True)
    dest = cgi_bin / "wwm.py"
    shutil.copyfile(REPO / "cgi-bin" / "wwm.py", dest)
    os.chmod(dest, 0o755)
    os.chmod(cgi_bin, 0o755)
    return dest


LIGHTTPD_CONF = """\
server.document-root = "{htdocs}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{files}/error.log"
server.max-request-size = 2048
# states are multi-line: let %0A through in query strings (lighttpd rejects it by default)
server.http-parseopts = ("url-ctrls-reject" => "disable")
server.modules += ("mod_cgi", "mod_alias", "mod_setenv")
alias.url = ("/cgi-bin/" => "{cgi_bin}/")
$HTTP["url"] =~ "^/cgi-bin/" {{
    cgi.assign = (".py" => "/usr/bin/python3")
}}
setenv.add-environment = (
    "WWM_ROOT" => "{root}",
    "WWM_RUNS" => "{runs}",
    "WWM_PYTHONPATH" => "{repo}",
    "WWM_ALLOW_ROOT" => "1",
)
"""


def start_lighttpd(files: Path, root: Path, runs: Path, port: int) -> subprocess.Popen:
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not os.path.exists(lighttpd):
        missing("lighttpd (apt-get install lighttpd)")
    (files / "htdocs").mkdir(parents=True, exist_ok=True)
    cgi_bin = install_cgi(files / "cgi-bin").parent
    conf = files / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(htdocs=files / "htdocs", port=port, files=files, cgi_bin=cgi_bin,
                                         root=root, runs=runs, repo=REPO))
    proc = subprocess.Popen([lighttpd, "-D", "-f", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=open(files / "stdout.log", "ab"), stderr=subprocess.STDOUT)
    wait_ready(proc, port, CGI_PREFIX, files / "error.log")
    return proc


APACHE_CONF = """\
ServerRoot "{files}"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
PidFile "{files}/httpd.pid"
ErrorLog "{files}/error.log"
DefaultRuntimeDir "{files}"
Mutex file:{files} default
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule cgid_module {mods}/mod_cgid.so
LoadModule env_module {mods}/mod_env.so
User {user}
Group {group}
ScriptSock "{files}/cgid.sock"
DocumentRoot "{files}/htdocs"
LimitRequestBody 2097152
ScriptAlias /cgi-bin/ "{cgi_bin}/"
<Directory "{cgi_bin}">
    Require all granted
</Directory>
SetEnv WWM_ROOT "{root}"
SetEnv WWM_RUNS "{runs}"
SetEnv WWM_PYTHONPATH "{repo}"
SetEnv PATH "/usr/bin:/bin"
"""


def start_apache(files: Path, root: Path, runs: Path, port: int) -> subprocess.Popen:
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    mods = "/usr/lib/apache2/modules"
    if not os.path.exists(apache) or not os.path.exists(f"{mods}/mod_cgid.so"):
        missing("Apache httpd (apt-get install apache2)")
    user = "www-data"
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        missing("a www-data user for Apache")
    if os.geteuid() == 0:
        os.chown(runs, pw.pw_uid, pw.pw_gid)  # Apache runs CGI as www-data
    (files / "htdocs").mkdir(parents=True, exist_ok=True)
    os.chmod(files, 0o755)
    cgi_bin = install_cgi(files / "cgi-bin").parent
    conf = files / "httpd.conf"
    conf.write_text(APACHE_CONF.format(files=files, port=port, mods=mods, user=user, group=user,
                                       cgi_bin=cgi_bin, root=root, runs=runs, repo=REPO))
    proc = subprocess.Popen([apache, "-d", str(files), "-f", str(conf), "-DFOREGROUND"],
                            stdin=subprocess.DEVNULL, stdout=open(files / "stdout.log", "ab"),
                            stderr=subprocess.STDOUT, env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"})
    wait_ready(proc, port, CGI_PREFIX, files / "error.log")
    return proc


def python_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("WWM_POLL", None)
    env.update(extra)
    return env


def start_serve(files: Path, root: Path, runs: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    """``wwm serve`` on ``port``; ``env`` defaults to ``python_env()``."""
    files.mkdir(parents=True, exist_ok=True)
    log = files / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "wwm", "serve", "--root", str(root), "--runs", str(runs),
                             "--host", "127.0.0.1", "--port", str(port)], cwd=str(REPO),
                            stdin=subprocess.DEVNULL, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            env=python_env() if env is None else env)
    wait_ready(proc, port, WSGI_PREFIX, log)
    return proc


def start_gunicorn(files: Path, root: Path, runs: Path, port: int, workers: int = 3) -> subprocess.Popen:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        missing("gunicorn (pip install gunicorn)")
    files.mkdir(parents=True, exist_ok=True)
    log = files / "gunicorn.log"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--access-logfile", str(files / "access.log"),
                             "--access-logformat", "%(p)s %(m)s %(U)s?%(q)s %(s)s",
                             "--graceful-timeout", "5", "-k", "gthread", "--threads", "4",
                             "wwm.gateway.wsgi:create_app()"],
                            cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT,
                            env=python_env(WWM_ROOT=str(root), WWM_RUNS=str(runs)))
    wait_ready(proc, port, WSGI_PREFIX, log)
    return proc


STARTERS = {"lighttpd": (start_lighttpd, CGI_PREFIX, signal.SIGTERM),
            "apache": (start_apache, CGI_PREFIX, signal.SIGTERM),
            "serve": (start_serve, WSGI_PREFIX, signal.SIGINT),  # SIGINT: wwm serve ends its runs
            "gunicorn": (start_gunicorn, WSGI_PREFIX, signal.SIGTERM)}


def selected_backends() -> list[str]:
    wanted = os.environ.get("WWM_TEST_BACKENDS")
    return [b for b in BACKENDS if not wanted or b in wanted.split(",")]


def launch(name: str, base: Path, root: Path):
    """Start backend ``name``; returns a Backend (caller stops it with ``shutdown``)."""
    start, prefix, _ = STARTERS[name]
    runs = base / f"runs-{name}"
    files = base / f"srv-{name}"
    runs.mkdir(exist_ok=True)
    files.mkdir(exist_ok=True)
    port = free_port()
    proc = start(files, root, runs, port)
    return Backend(name, port, prefix, runs, proc, files)


def shutdown(backend: Backend) -> list[tuple[int, str]]:
    """Stop the web server; then no Program 1 may be left (killed and returned if so)."""
    backend.end_leftovers()
    stop_process(backend.proc, STARTERS[backend.name][2])
    left = wait_no_program1(backend.runs, timeout=3.0)
    kill_program1(backend.runs)
    return left


# ---------------------------------------------------------------------------
# the hello game, computed here to check answers
# ---------------------------------------------------------------------------


class HelloRef(RefWorld):
    """lib_driver's reference hello World, as the gateway shows it: ``state()`` is
    the current state (no reward line), ``step`` takes the guess as an int, and
    ``score()`` has no trailing newline (the gateway strips it)."""

    def state(self) -> str:
        return self.first_state()

    def step(self, guess: int) -> str:
        return super().step(str(guess))

    def score(self) -> str:
        return super().score().rstrip("\n")


def hello_mind(state: str) -> str:
    """lib_driver's reference hello Mind, for a state that must carry both bounds."""
    assert "low:" in state and "high:" in state, f"not a hello state: {state!r}"
    return ref_mind(state)


def run_threads(fn, args_list, timeout: float = 60.0) -> list:
    """Run ``fn(*args)`` for each args in threads; results (or exceptions) in order."""
    results = [None] * len(args_list)

    def work(i, args):
        try:
            results[i] = fn(*args)
        except BaseException as exc:  # reported by the caller
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i, a), daemon=True) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads did not finish in time"
    return results
