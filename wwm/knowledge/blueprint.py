"""``/sparql``: the knowledge graph, read-only, over the SPARQL 1.1 Protocol (``bp``, ``init_app``).

- ``GET /sparql?query=…``, ``POST`` as a form (``query=…``) or as ``application/sparql-query``.
- Results by ``Accept``: SPARQL JSON (default), SPARQL XML or CSV; graphs (CONSTRUCT,
  DESCRIBE) as Turtle (default), N-Triples or JSON-LD.
- Updates are refused (403), so is SERVICE (the engine would fetch any URL for
  anyone: SSRF), and a query that is not one (``DROP ALL`` sent as a
  query) fails to parse: 400 with the parser's message.
- Each query runs in a worker thread with a time limit (``SPARQL_TIMEOUT``, 10 s):
  over it, 503 and the worker is left to finish (Oxigraph releases the GIL, so
  other queries are answered meanwhile, but its engine cannot be interrupted:
  the query holds one of the ``SPARQL_WORKERS`` (4) slots until it ends; with
  ``oxigraph serve --timeout-s N`` as the store the server stops it). When all
  slots are busy, a query gets 503 at once. At most ``SPARQL_MAX_ROWS`` (10,000) rows or triples are
  returned; a cut result says so in ``X-WWM-Truncated: true``.

Config: ``KNOWLEDGE`` (a store folder or endpoint URL; default ``$WWM_KNOWLEDGE``,
else ``RUNS/knowledge``). The store is opened at the first query; then the
servers under ROOT and the runs of ``RUNS/scores.sqlite`` are written into it,
and runs again (those changed since) at most every ``SPARQL_SYNC`` seconds (2);
from then on ROOT/minds and ROOT/worlds are watched (``KNOWLEDGE_WATCH``, on by
default) so that server folders added, changed or removed update the graph live.
When the graph holds the song catalog (``KNOWLEDGE_SONGS``, default ``$WWM_KNOWLEDGE_SONGS=1``
and on for a node, writes it at open when it holds none or another), this process's song requests are read against
it (``wwm.songs.sources``).
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, Response, current_app, request
from rdflib import Graph
from rdflib.query import Result

from wwm.knowledge.store import QueryError, StoreError, StoreUnavailable, keywords, open_store

log = logging.getLogger("wwm.knowledge")

__all__ = ["bp", "init_app"]

bp = Blueprint("knowledge", __name__)

TABLE_TYPES = {"application/sparql-results+json": "json", "application/json": "json",
               "application/sparql-results+xml": "xml", "application/xml": "xml", "text/csv": "csv"}
GRAPH_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/ld+json": "json-ld"}
MAX_QUERY = 100_000  # bytes of query text


class _Knowledge:
    """The app's store, its worker threads and the scoreboard sync clock."""

    def __init__(self, app):
        cfg = app.config
        self.location = cfg.get("KNOWLEDGE") or os.environ.get("WWM_KNOWLEDGE") or os.path.join(
            os.path.abspath(cfg["RUNS"]), "knowledge")
        self.root, self.runs = os.path.abspath(cfg["ROOT"]), os.path.abspath(cfg["RUNS"])
        self.timeout = float(cfg.get("SPARQL_TIMEOUT", 10.0))
        self.max_rows = int(cfg.get("SPARQL_MAX_ROWS", 10_000))
        self.sync_every = float(cfg.get("SPARQL_SYNC", 2.0))
        workers = int(cfg.get("SPARQL_WORKERS", 4))
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="sparql")
        self.slots = threading.BoundedSemaphore(workers)
        self.lock = threading.Lock()
        self.watch_folders = bool(cfg.get("KNOWLEDGE_WATCH", True))
        self.load_songs = bool(cfg.get("KNOWLEDGE_SONGS", os.environ.get("WWM_KNOWLEDGE_SONGS") == "1"))
        self.songs = None  # the graph source song requests are read against, when the graph holds the catalog
        self.store = self.watch = None
        self.listeners = []  # called as listener(server_id, "update" | "delete") when a folder changes
        self.synced = None  # when the last scoreboard sync started

    def _changed(self, server_id: str, change: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(server_id, change)
            except Exception as exc:  # one listener's failure never stops the watch
                log.warning("server change not handled: %r", exc)

    def open(self):
        from wwm.knowledge import writers

        with self.lock:
            if self.store is None:
                self.store = open_store(self.location)
                writers.record_servers(self.store, self.root)
                try:
                    self._use_songs()
                except StoreError as exc:  # song requests go on against the catalog
                    log.warning("song requests not read against the graph: %s", exc)
                if self.watch_folders:  # from now on, server folders added, changed or removed go in live
                    from wwm.knowledge.watch import ServerWatch

                    self.watch = ServerWatch(self.store, self.root, on_change=self._changed).start()
            now = time.time()
            if self.synced is None or now - self.synced >= self.sync_every:
                since = None if self.synced is None else self.synced - 5  # overlap: writes racing the last sync
                writers.sync_scoreboard(self.store, os.path.join(self.runs, "scores.sqlite"), since)
                self.synced = now
            return self.store

    def _use_songs(self) -> None:
        """Song requests in this process are read against the graph when it holds the catalog
        (written now with ``KNOWLEDGE_SONGS`` when it holds none, or another); Minds this
        process starts read the same graph when it is a SPARQL server (``WWM_SONGS_GRAPH``)."""
        from wwm.knowledge import writers
        from wwm.songs import sources

        held = writers.catalog_fingerprint(self.store)
        if self.load_songs:
            from wwm.songs.catalog import CatalogError, load_catalog

            try:
                catalog = load_catalog()
            except (CatalogError, OSError) as exc:  # no song data here: servers and runs still go in
                log.warning("song catalog not written to the graph: %s", exc)
            else:
                if held != catalog.fingerprint():
                    writers.record_catalog(self.store, catalog)
                    held = catalog.fingerprint()
        if held:
            self.songs = sources.use_graph(self.store)
            if self.location.startswith(("http://", "https://")):
                os.environ.setdefault("WWM_SONGS_GRAPH", self.location)

    def close(self) -> None:
        """Stop watching, wait for running queries, close the store."""
        from wwm.songs import sources

        if self.songs is not None and sources.default_graph() is self.songs:
            sources.use_graph(None)
        if self.watch:
            self.watch.stop()
        self.pool.shutdown(wait=True)
        if self.store is not None:
            self.store.close()


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)


def _query_text() -> str | Response:
    ctype = (request.mimetype or "").lower()
    if (request.method == "POST" and ctype == "application/sparql-update") or "update" in request.values:
        return _error(403, "this endpoint is read-only: SPARQL updates are refused")
    if request.values.getlist("default-graph-uri") or request.values.getlist("named-graph-uri"):
        return _error(400, "default-graph-uri and named-graph-uri are not supported here")
    if request.method == "POST" and ctype == "application/sparql-query":
        raw = request.get_data(cache=False)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "the query is not UTF-8")
    else:
        queries = request.values.getlist("query")
        if len(queries) != 1:
            return _error(400, "give exactly one query (?query=... or a POST body of type application/sparql-query)")
        text = queries[0]
    if len(text.encode("utf-8")) > MAX_QUERY:
        return _error(413, f"the query is longer than {MAX_QUERY} bytes")
    if "SERVICE" in keywords(text):  # the engine would fetch any URL given: a way into private networks
        return _error(403, "SERVICE (federated query) is not allowed here")
    return text


def _run(store, text: str, max_rows: int):
    """In a worker: the result, with at most ``max_rows`` rows (or triples) kept, and whether it was cut."""
    res = store.query(text)
    if res.type == "SELECT":
        rows = list(itertools.islice(res, max_rows + 1))  # rows past the cap are never computed
        out = Result("SELECT")
        out.vars = res.vars
        out.bindings = [{v: t for v, t in zip(res.vars, r) if t is not None} for r in rows[:max_rows]]
        return out, len(rows) > max_rows
    if res.type in ("CONSTRUCT", "DESCRIBE") and len(res.graph) > max_rows:
        cut = Graph()
        for t in itertools.islice(res.graph, max_rows):
            cut.add(t)
        res.graph = cut
        return res, True
    return res, False


def _negotiate(res) -> tuple[str, str] | None:
    """(rdflib format, content type) the client accepts for this result, or None."""
    types = GRAPH_TYPES if res.type in ("CONSTRUCT", "DESCRIBE") else TABLE_TYPES
    if res.type == "ASK":
        types = {k: v for k, v in types.items() if v != "csv"}
    offered = list(types)
    if not request.accept_mimetypes or request.accept_mimetypes.best in ("*/*", None):
        best = offered[0]
    else:
        best = request.accept_mimetypes.best_match(offered)
    return (types[best], best) if best else None


@bp.route("/sparql", methods=["GET", "POST"])
def sparql():
    text = _query_text()
    if isinstance(text, Response):
        return text
    kg: _Knowledge = current_app.extensions["wwm.knowledge"]
    try:
        store = kg.open()
    except StoreError as exc:
        return _error(503, f"the knowledge graph is unavailable: {exc}", {"Retry-After": "5"})
    if not kg.slots.acquire(blocking=False):
        return _error(503, "too many SPARQL queries running; try again soon", {"Retry-After": "2"})

    def work():
        try:
            return _run(store, text, kg.max_rows)
        finally:
            kg.slots.release()

    future = kg.pool.submit(work)
    try:
        res, cut = future.result(timeout=kg.timeout)
    except FutureTimeout:
        return _error(503, f"the query ran over the time limit of {kg.timeout:g} s", {"Retry-After": "5"})
    except QueryError as exc:
        return _error(400, f"malformed query: {exc}")
    except StoreUnavailable as exc:
        return _error(503, str(exc), {"Retry-After": "5"})
    chosen = _negotiate(res)
    if chosen is None:
        return _error(406, "no acceptable result type; use " + ", ".join(
            GRAPH_TYPES if res.type in ("CONSTRUCT", "DESCRIBE") else TABLE_TYPES))
    fmt, ctype = chosen
    body = res.graph.serialize(format=fmt, encoding="utf-8") if res.type in ("CONSTRUCT", "DESCRIBE") \
        else res.serialize(format=fmt)
    headers = {"X-WWM-Truncated": "true"} if cut else {}
    return Response(body, content_type=f"{ctype}; charset=utf-8", headers=headers)


def init_app(app) -> None:
    """Serve ``/sparql`` on a Flask app with ROOT and RUNS set (the gateway's create_app)."""
    if "wwm.knowledge" not in app.extensions:
        app.extensions["wwm.knowledge"] = _Knowledge(app)
        app.register_blueprint(bp)
