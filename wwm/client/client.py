"""Client: talk to a Mind or World server, local folder or remote gateway, the same way.

    srv = connect("http://127.0.0.1:8000/wwm/worlds/hello-python")   # or a folder path
    run = srv.start_run(seed=1)
    state = run.get_state()
    result = run.execute_action("50")       # Result(state, done, score)
    run.end()

Remote calls use ``http.client`` with one keep-alive connection per server:
measured here it costs about half of a ``requests.Session`` call, and the step
loop makes two calls a step.  Local folders are driven through the gateway
core in-process (no HTTP), with run directories in a private runs folder.
"""
from __future__ import annotations

import http.client
import os
import socket
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass

from wwm.gateway.queries import Gateway, dispatch
from wwm.protocol.envelope import parse_response
from wwm.protocol.errors import BadResponse, ConnectionFailed, GatewayError, error_for_code
from wwm.protocol.manifest import load_server

__all__ = ["Result", "Server", "Run", "connect", "HTTPTransport", "LocalTransport"]


@dataclass(frozen=True)
class Result:
    """What ExecuteAction returns: the new state, whether the run is over, the score."""

    state: str
    done: bool
    score: str


# Queries that change nothing: safe to send again when a connection breaks mid-query.
# The others (StartRun, ExecuteAction, GetAction, ...) are never re-sent: the
# gateway may have acted on them already, and a second copy would act twice.
IDEMPOTENT = frozenset({"Describe", "GetState", "GetScore"})


class HTTPTransport:
    """Queries over HTTP to one server URL, on one keep-alive connection per thread."""

    def __init__(self, url: str, timeout: float = 60.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url, self.timeout = url, timeout
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._path = parts.path or "/"
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle stalls
            self._local.conn = conn
        return conn

    def call(self, query: str, **params) -> dict:
        params = {k: v for k, v in params.items() if v is not None}
        params.update(query=query, format="json")
        body = urllib.parse.urlencode(params).encode("utf-8")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        for attempt in (0, 1):
            conn = None
            try:
                conn = self._conn()  # connecting can fail too (refused): a ConnectionFailed as well
                conn.request("POST", self._path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                if conn is not None:
                    conn.close()
                self._local.conn = None
                # A kept-alive connection the server has closed fails on first
                # use: retry once on a fresh one, for idempotent queries only.
                if attempt or query not in IDEMPOTENT or not isinstance(
                        exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    raise ConnectionFailed(f"{query}: {exc}", url=self.url) from None
        ctype = resp.getheader("Content-Type", "")
        if not ctype.split(";")[0].strip().lower().endswith(("/json", "/xml")):
            raise BadResponse(f"{query}: HTTP {resp.status} {ctype or 'without a Content-Type'}: "
                              "this URL is not a wwm gateway", url=self.url)
        try:
            doc = parse_response(data, ctype)
        except (ValueError, GatewayError) as exc:
            raise BadResponse(f"{query}: HTTP {resp.status}, not a wwm response: {exc}", url=self.url) from None
        if resp.status != 200 or doc.get("status") == "error":
            raise error_for_code(resp.status, str(doc.get("error", f"HTTP {resp.status}")), doc.get("run"))
        return doc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_PRIVATE_RUNS: list[str] = []


def _private_runs() -> str:
    """One runs folder for this process's local runs, ended and removed at exit."""
    if not _PRIVATE_RUNS:
        import atexit
        import shutil

        folder = tempfile.mkdtemp(prefix="wwm-runs-")
        _PRIVATE_RUNS.append(folder)

        def clean() -> None:
            Gateway(folder, folder, web=False).shutdown()  # ends any run still going
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(clean)
    return _PRIVATE_RUNS[0]


class LocalTransport:
    """Queries on a local server folder, through the gateway core in-process."""

    def __init__(self, path: str, runs: str | None = None):
        self.server = load_server(path)
        self.url = os.path.abspath(path)
        runs = runs or os.environ.get("WWM_RUNS") or _private_runs()
        root = os.path.dirname(os.path.dirname(self.server.path))
        self.gateway = Gateway(root, runs, web=False)

    def call(self, query: str, **params) -> dict:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            outcome = dispatch(self.gateway, self.server, query, params)
        except GatewayError as exc:
            if exc.run and exc.code in (502, 504):  # Program 1 failed: its log outlives the private runs folder
                self._keep_log(exc)
            raise
        return dict(outcome.fields, run=outcome.run, status="ok", code=200)

    def _keep_log(self, exc: GatewayError) -> None:
        import shutil

        source = os.path.join(self.gateway.run_dir(self.server, exc.run), "log")
        folder = os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "wwm", "logs")
        dest = os.path.join(folder, f"{self.server.name}-{exc.run}.log")
        try:
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(source, dest)
        except OSError:
            return
        exc.message = f"{exc.message.split(' (see log ')[0]} (log kept at {dest})"
        exc.args = (exc.message,)

    def abort(self, run: str) -> None:
        """Stop a run's Program 1 now, even while a query on it is stuck."""
        self.gateway.abort(self.server, run)

    def close(self) -> None:
        pass


class Server:
    """A Mind or World server, reached through a transport."""

    def __init__(self, transport):
        self.transport = transport
        self.url = transport.url
        self._describe = None

    def describe(self) -> dict:
        """The server's profile: name, kind, role, description, author, formats, queries."""
        if self._describe is None:
            self._describe = {k: v for k, v in self.transport.call("Describe").items()
                              if k not in ("status", "code", "run", "query", "server")}
        return self._describe

    def start_run(self, seed: int | str | None = None, minds: str | None = None,
                  params: dict | None = None) -> "Run":
        """Start a run.  ``minds`` names who plays (a World's scoreboard shows it);
        ``params`` sets parameters the World declares (``describe()["params"]``)."""
        extra = {f"param.{k}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()}
        doc = self.transport.call("StartRun", seed=None if seed is None else str(seed), minds=minds, **extra)
        return Run(self, doc["run"])

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wwm.Server {self.url}>"


class Run:
    """One run on a server; its methods are the gateway's queries."""

    def __init__(self, server: Server, run_id: str):
        self.server, self.id = server, run_id
        self._call = server.transport.call

    # World queries
    def get_state(self) -> str:
        return self._call("GetState", run=self.id)["state"]

    def execute_action(self, action: str) -> Result:
        doc = self._call("ExecuteAction", run=self.id, action=action)
        return Result(doc["state"], doc.get("done") in (True, "true"), doc.get("score", ""))

    def get_score(self) -> str:
        return self._call("GetScore", run=self.id).get("score", "")

    # Mind queries
    def here_is_state(self, state: str) -> None:
        self._call("HereIsState", run=self.id, state=state)

    def get_action(self, state: str | None = None) -> str:
        return self._call("GetAction", run=self.id, state=state)["action"]

    def end(self) -> str:
        """End the run; returns its final score (may be empty for a Mind)."""
        self._ended = True
        return self._call("EndRun", run=self.id).get("score", "")

    def abort(self) -> None:
        """Stop a local run's Program 1 at once, even while another thread's query
        on it is stuck; a remote run is left to its gateway's idle reaping."""
        abort = getattr(self.server.transport, "abort", None)
        if abort is not None:
            abort(self.id)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        """End the run on leaving the block, unless it was ended already."""
        if not getattr(self, "_ended", False):
            try:
                self.end()
            except GatewayError:
                pass  # already ended or reaped: nothing left to end

    def __repr__(self) -> str:
        return f"<wwm.Run {self.id} on {self.server.url}>"


def connect(target: str, *, runs: str | None = None, timeout: float = 60.0) -> Server:
    """A Server for a URL (``http://…/wwm/NAME``) or a local server folder."""
    if target.startswith(("http://", "https://")):
        return Server(HTTPTransport(target, timeout=timeout))
    if target.endswith(".xml") and os.path.isfile(target):  # a society file plays as a Mind
        from wwm.society.soml import society_folder

        target = society_folder(target)
    if not os.path.isfile(os.path.join(target, "wwm.toml")):
        raise ValueError(f"{target!r} is neither an http(s) URL nor a server folder with a wwm.toml")
    return Server(LocalTransport(target, runs=runs))
