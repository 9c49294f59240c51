"""Knowledge stores behind one small interface: embedded Oxigraph, rdflib in memory, any SPARQL 1.1 server.

    KnowledgeStore
      query(sparql, bindings) -> rdflib Result   (SELECT / ASK / CONSTRUCT / DESCRIBE)
      add(triples); replace(subject, triples); remove(subject); update(sparql)
      load(data, format); dump(format) -> bytes; count(); close()
    RdflibStore      an rdflib Graph: EmbeddedStore (Oxigraph on disk, the default), MemoryStore
    RemoteStore      SPARQL 1.1 Protocol over HTTP (query and update endpoints), with a durable
                     queue that keeps writes while the server is down and replays them in order

Bindings are never formatted into the query text as text: every store gets a
VALUES block of checked, escaped terms at the start of the WHERE group (a
trailing VALUES would be joined after GROUP BY, too late for aggregates; and
Oxigraph's own substitution only binds projected variables).

The embedded store is Oxigraph (RocksDB): every write is its own transaction,
in the write-ahead log before the call returns, so a process killed with -9
loses nothing it was told was written.  One process opens it at a time; other
processes share knowledge through a SPARQL endpoint (``oxigraph serve``).
"""
from __future__ import annotations

import io
import os
import re
import sqlite3
import sys
import time

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.query import Result

from wwm.knowledge.terms import PREFIXES, TermError, check_iri, sparql_term, term as _term, triples_text, values_clause

__all__ = ["keywords", "bind_values", "KnowledgeStore", "RdflibStore", "EmbeddedStore", "MemoryStore", "RemoteStore",
           "UpdateQueue", "StoreError", "StoreUnavailable", "QueryError", "open_store",
           "default_location"]

BATCH = 5000  # triples per INSERT DATA sent to a server


class StoreError(Exception):
    """The knowledge store failed or refused an operation."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (a SPARQL server that is down) or opened (held by another process)."""


class QueryError(StoreError):
    """A query or update the engine refused: the message is the parser's or the server's."""


def default_location() -> str:
    """``$WWM_KNOWLEDGE`` (a folder, or a SPARQL endpoint URL), else ``runs/knowledge``."""
    return os.environ.get("WWM_KNOWLEDGE") or os.path.abspath(os.path.join("runs", "knowledge"))


def open_store(location: str | None = None, queue: str | None = None) -> "KnowledgeStore":
    """The store at ``location``: an ``http(s)://`` SPARQL endpoint, ``:memory:``, or a folder.

    Args:
        location: default :func:`default_location`.
        queue: for an endpoint, the SQLite file that keeps writes while it is down
            (default ``$WWM_KNOWLEDGE_QUEUE`` or ``~/.local/share/wwm/knowledge-queue.sqlite``).
    """
    location = location or default_location()
    if re.match(r"https?://", location):
        return RemoteStore(location, queue=queue)
    if location == ":memory:":
        return MemoryStore()
    return EmbeddedStore(location)


class KnowledgeStore:
    """What every store offers; subclasses set the engine-specific parts."""

    def query(self, sparql: str, bindings: dict | None = None) -> Result:
        """Run a SPARQL query; ``bindings`` maps variable names (no ``?``) to terms or plain values."""
        raise NotImplementedError

    def update(self, sparql: str) -> None:
        """Run a SPARQL update (fixed text: data goes through add/replace/remove)."""
        raise NotImplementedError

    def add(self, triples) -> None:
        """Add triples (each IRI checked)."""
        raise NotImplementedError

    def replace(self, subject: URIRef, triples) -> None:
        """Make ``triples`` all that is said about ``subject``, in one transaction."""
        triples = list(triples)
        self.update(f"DELETE WHERE {{ {sparql_term(check_iri(subject))} ?p ?o }} ;\n"
                    f"INSERT DATA {{\n{triples_text(triples)}\n}}")

    def remove(self, subject: URIRef) -> None:
        """Forget everything said about ``subject`` (as subject)."""
        self.update(f"DELETE WHERE {{ {sparql_term(check_iri(subject))} ?p ?o }}")

    def load(self, data: bytes | str, format: str = "turtle") -> int:
        """Parse RDF (turtle, nt, xml, json-ld, ...) and add it; returns the number of triples."""
        g = Graph()
        try:
            g.parse(data=data, format=format)
        except Exception as exc:  # rdflib raises many kinds; the message says what is wrong
            raise QueryError(f"cannot parse {format}: {exc}") from None
        triples = list(g)
        for i in range(0, len(triples), BATCH):
            self.add(triples[i:i + BATCH])
        return len(triples)

    def graph(self) -> Graph:
        """Everything, as an in-memory rdflib Graph with the wwm prefixes bound."""
        g = Graph()
        for s, p, o in self.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }").graph:
            if isinstance(o, Literal) and o.datatype == XSD.string:
                o = Literal(str(o))  # the same literal in RDF 1.1; written without ^^xsd:string
            g.add((s, p, o))
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        return g

    def dump(self, format: str = "turtle") -> bytes:
        """Everything, serialised (turtle, nt, xml, json-ld)."""
        return self.graph().serialize(format=format, encoding="utf-8")

    def count(self) -> int:
        """The number of triples."""
        res = self.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        return int(next(iter(res))[0])

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- rdflib graphs: Oxigraph on disk, or rdflib's own memory store -----------------------


class RdflibStore(KnowledgeStore):
    """An rdflib Graph; bindings go to the engine as initBindings."""

    def __init__(self, graph: Graph):
        self.g = graph

    def query(self, sparql, bindings=None):
        text = bind_values(sparql, bindings)  # TermError for a hostile term, before any parsing
        try:
            return self.g.query(text)
        except (SyntaxError, ValueError) as exc:
            raise QueryError(str(exc)) from None
        except Exception as exc:
            if type(exc).__name__ == "ParseException":  # rdflib's pyparsing
                raise QueryError(str(exc)) from None
            raise

    def update(self, sparql):
        try:
            self.g.update(sparql)
        except (SyntaxError, ValueError) as exc:
            raise QueryError(str(exc)) from None

    def add(self, triples):
        quads = []
        for s, p, o in triples:
            for t in (s, p, o):
                if isinstance(t, URIRef):
                    check_iri(t)
            quads.append((s, p, o, self.g))
        if quads:
            self.g.addN(quads)

    def close(self):
        self.g.close()


class EmbeddedStore(RdflibStore):
    """Oxigraph in a folder, through its rdflib store plugin (oxrdflib)."""

    def __init__(self, path: str):
        try:
            import oxrdflib  # noqa: F401  (registers the "Oxigraph" rdflib store)
        except ImportError:
            raise StoreError("the embedded knowledge store needs Oxigraph: pip install pyoxigraph oxrdflib") from None
        self.path = os.path.abspath(path)
        os.makedirs(self.path, exist_ok=True)
        g = Graph(store="Oxigraph", identifier=DATASET_DEFAULT_GRAPH_ID)  # not a fresh blank-node graph
        try:
            g.open(self.path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the knowledge store {self.path}: {exc} (one process at a "
                                   "time; share it through a SPARQL endpoint instead)") from None
        super().__init__(g)

    def update(self, sparql):
        try:  # straight to Oxigraph: one transaction, and no rdflib re-parsing of large INSERT DATA
            self.g.store._inner.update(sparql)
        except SyntaxError as exc:
            raise QueryError(str(exc)) from None

    def add(self, triples):
        import pyoxigraph as ox

        def conv(t):
            if isinstance(t, URIRef):
                return ox.NamedNode(check_iri(t))
            if isinstance(t, Literal):
                if t.language:
                    return ox.Literal(str(t), language=t.language)
                return ox.Literal(str(t), datatype=ox.NamedNode(t.datatype) if t.datatype else None)
            if isinstance(t, BNode):
                return ox.BlankNode(str(t))
            raise TermError(f"not an RDF term: {type(t).__name__}")

        # straight to Oxigraph, one transaction: rdflib's addN also fires a Python event per triple
        self.g.store._inner.extend([ox.Quad(conv(s), conv(p), conv(o)) for s, p, o in triples])

    def count(self):
        return len(self.g.store._inner)


class MemoryStore(RdflibStore):
    """rdflib's in-memory graph: nothing persists (tests, benchmarks, scratch work)."""

    def __init__(self):
        super().__init__(Graph())


# -- a SPARQL 1.1 server ----------------------------------------------------------------------


class UpdateQueue:
    """Updates a server could not take yet, in order, in a SQLite file (durable across crashes)."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        db = self._db()
        try:
            with db:
                db.execute("CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                           "endpoint TEXT, body TEXT, queued REAL)")
        finally:
            db.close()

    def _db(self):
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def push(self, endpoint: str, body: str) -> None:
        db = self._db()
        try:
            with db:
                db.execute("INSERT INTO pending (endpoint, body, queued) VALUES (?, ?, ?)",
                           (endpoint, body, time.time()))
        finally:
            db.close()

    def pending(self, endpoint: str) -> list[tuple[int, str]]:
        db = self._db()
        try:
            return db.execute("SELECT id, body FROM pending WHERE endpoint = ? ORDER BY id", (endpoint,)).fetchall()
        finally:
            db.close()

    def done(self, ident: int) -> None:
        db = self._db()
        try:
            with db:
                db.execute("DELETE FROM pending WHERE id = ?", (ident,))
        finally:
            db.close()


# Tokens that can hide keywords and braces: escapes (as in prefixed names, ex:a\'b), strings, comments, IRIs.
_SKIP = r"""\\. | "(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*' | \#[^\n]* | <[^<>"{}|^`\\\s]*>"""
_INSERT_AT = re.compile(rf"(?P<skip> {_SKIP} ) | (?P<where> \bWHERE\b ) | (?P<brace> \{{ )", re.X | re.I)
_KEYWORD = re.compile(rf"(?P<skip> {_SKIP} ) | (?<![:?$A-Za-z_])(?P<word> [A-Za-z]+ )", re.X)
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def keywords(sparql: str) -> set[str]:
    """The upper-cased words of ``sparql`` outside strings, IRIs, comments and prefixed names,
    read both as written and with ``\\uXXXX`` escapes decoded first (SPARQL allows either
    reading), so that ``\\u0053ERVICE`` counts as SERVICE.  Used to refuse keywords (SERVICE)."""
    def decode(m):
        try:
            return chr(int(m.group(1) or m.group(2), 16))
        except ValueError:
            return ""

    found = set()
    for text in (sparql, _CODEPOINT.sub(decode, sparql)):
        found |= {m.group("word").upper() for m in _KEYWORD.finditer(text) if m.group("word")}
    return found


_LONG_STRING = re.compile(r'"""|\'\'\'')


def bind_values(sparql: str, bindings: dict) -> str:
    """``sparql`` with a VALUES block for ``bindings`` opening its WHERE group.

    The WHERE group is the first ``{`` after the keyword WHERE (or the first ``{``
    when the keyword is left out), skipping strings, IRIs and comments.
    """
    if not bindings:
        return sparql
    if _LONG_STRING.search(sparql):
        raise QueryError("queries with bindings for a SPARQL server may not use long (triple-quoted) strings")
    seen_where, first_brace = False, None
    for m in _INSERT_AT.finditer(sparql):
        if m.group("where"):
            seen_where = True
        elif m.group("brace"):
            if seen_where:
                first_brace = m.end()
                break
            if first_brace is None:
                first_brace = m.end()
    if first_brace is None:
        raise QueryError("no WHERE group to bind variables in")
    return sparql[:first_brace] + values_clause(bindings) + "\n" + sparql[first_brace:]


class RemoteStore(KnowledgeStore):
    """Any SPARQL 1.1 server (Protocol: query and update over HTTP POST).

    Args:
        url: the query endpoint (``http://host:7878/query`` for oxigraph serve, a base URL
            ``http://host:7878`` meaning that too, ``.../sparql`` elsewhere).
        update_url: the update endpoint (default: ``/update`` beside ``/query``, else ``url``).
        queue: the SQLite file for writes the server could not take.
        timeout: seconds per request.
    """

    def __init__(self, url: str, update_url: str | None = None, queue: str | None = None,
                 timeout: float = 30.0):
        import requests

        url = url.rstrip("/")
        if not re.search(r"/[^/:]+$", url.split("://", 1)[1]):
            url += "/query"  # a bare server URL: oxigraph serve's layout
        self.url = url
        self.update_url = update_url or os.environ.get("WWM_KNOWLEDGE_UPDATE") or (
            url[:-len("/query")] + "/update" if url.endswith("/query") else url)
        self.timeout = timeout
        self.http = requests.Session()
        self.queue = UpdateQueue(queue or os.environ.get("WWM_KNOWLEDGE_QUEUE") or os.path.join(
            os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "wwm",
            "knowledge-queue.sqlite"))

    def _post(self, url: str, body: str, ctype: str, accept: str | None = None):
        import requests

        headers = {"Content-Type": ctype + "; charset=utf-8"}
        if accept:
            headers["Accept"] = accept
        try:
            resp = self.http.post(url, data=body.encode("utf-8"), headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise StoreUnavailable(f"SPARQL server {url} unreachable: {type(exc).__name__}") from None
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise StoreUnavailable(f"SPARQL server {url}: HTTP {resp.status_code} {resp.text[:300]}")
        if resp.status_code >= 400:
            raise QueryError(f"SPARQL server {url}: HTTP {resp.status_code}: {resp.text[:500]}")
        return resp

    def flush(self) -> int:
        """Send queued updates, oldest first; returns how many are still waiting."""
        pending = self.queue.pending(self.update_url)
        for ident, body in pending:
            try:
                self._post(self.update_url, body, "application/sparql-update")
            except QueryError as exc:
                # refused for good (it was valid when queued, so the server changed): do not block the rest
                sys.stderr.write(f"wwm: queued knowledge update dropped, {self.update_url} refused it: {exc}\n")
                self.queue.done(ident)
                continue
            except StoreUnavailable:
                return len(self.queue.pending(self.update_url))
            self.queue.done(ident)
        return 0

    def update(self, sparql):
        """Send the update, or keep it in the queue (in order) while the server is down."""
        if self.flush():
            self.queue.push(self.update_url, sparql)
            return
        try:
            self._post(self.update_url, sparql, "application/sparql-update")
        except StoreUnavailable:
            self.queue.push(self.update_url, sparql)

    def add(self, triples):
        triples = list(triples)
        for i in range(0, len(triples), BATCH):
            self.update(f"INSERT DATA {{\n{triples_text(triples[i:i + BATCH])}\n}}")

    def query(self, sparql, bindings=None):
        self.flush()  # read what was written while the server was away
        text = bind_values(sparql, bindings)
        accept = "application/sparql-results+json, application/n-triples;q=0.9"
        resp = self._post(self.url, text, "application/sparql-query", accept)
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype in ("application/n-triples", "text/turtle", "text/plain"):
            res = Result("CONSTRUCT")
            res.graph = Graph()
            res.graph.parse(data=resp.content, format="nt" if ctype != "text/turtle" else "turtle")
            return res
        return Result.parse(io.BytesIO(resp.content), format="json")

    def close(self):
        self.http.close()
