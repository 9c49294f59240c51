"""The gateway as one WSGI application: every front end (CGI, ``wwm serve``,
gunicorn, a local client) goes through ``handle``, so all of them accept and
refuse exactly the same requests, validated once, before any side effect."""
from __future__ import annotations

import errno
import json
import os
import sys
import urllib.parse

from wwm.gateway.queries import Gateway, dispatch
from wwm.protocol.envelope import FORMATS, VERSION, _element, parse_envelope, render
from wwm.protocol.errors import BadRequest, GatewayError, InsufficientStorage, MethodNotAllowed, TooLarge
from wwm.protocol.manifest import find_server, list_servers

MAX_BODY = 1 << 20  # bytes; payload limits per server are usually far lower


class Request:
    """A transport-free HTTP request: what CGI and WSGI both hand us.

    ``server`` is the path naming the server (``worlds/NAME``), "" for the index.
    """

    __slots__ = ("method", "server", "query_string", "body", "content_type", "client")

    def __init__(self, method: str, server: str, query_string: str = "", body: bytes = b"",
                 content_type: str = "", client: str = ""):
        self.method, self.server, self.query_string = method, server, query_string
        self.body, self.content_type, self.client = body, content_type, client


class Response:
    """What to send back: status, content type, body, extra headers."""

    __slots__ = ("status", "content_type", "body", "headers")

    def __init__(self, status: int, content_type: str, body: bytes, headers: dict | None = None):
        self.status, self.content_type, self.body, self.headers = status, content_type, body, headers or {}


def request_params(req: Request) -> dict:
    """Every parameter of a request: query string, then form or XML body."""
    params = {}
    for key, value in _parse_qsl(req.query_string, "query string"):
        params.setdefault(key, value)
    if req.method == "POST" and req.body:
        ctype = req.content_type.split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            for key, value in _parse_qsl(_utf8(req.body), "form body"):
                params.setdefault(key, value)
        elif ctype in ("application/xml", "text/xml"):
            params.update(parse_envelope(req.body))
        elif ctype == "text/plain":
            # curl --data-binary @file -H 'Content-Type: text/plain': the body is the payload
            slot = "action" if params.get("query") == "ExecuteAction" else "state"
            params.setdefault(slot, _utf8(req.body))
        else:
            raise BadRequest(f"unsupported Content-Type {ctype!r}; use form, XML or text/plain")
    return params


def _parse_qsl(text: str, what: str) -> list[tuple[str, str]]:
    """Form-encoded pairs; too many fields or %-escapes that are not UTF-8 are a 400."""
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=32, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{what}: a %-escape is not UTF-8 text") from None
    except ValueError as exc:  # "Max number of fields exceeded"
        raise BadRequest(f"{what} is not valid: {exc}") from None


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None


def handle(req: Request, gateway: Gateway) -> Response:
    """Answer one HTTP request; never raises, never leaks a traceback."""
    fmt, query, run = "xml", "", None
    try:
        if req.method not in ("GET", "POST", "HEAD"):
            raise MethodNotAllowed(f"method {req.method} is not allowed; use GET or POST")
        if len(req.body) > MAX_BODY:
            raise TooLarge(f"request body is larger than {MAX_BODY} bytes")
        for part in (req.server, req.query_string):
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:  # CGI hands undecodable bytes over as surrogates
                raise BadRequest("the URL is not UTF-8 text") from None
        params = request_params(req)
        fmt = params.get("format") or "xml"
        if fmt not in FORMATS:
            fmt = "xml"
            raise BadRequest(f"unknown format {params.get('format')!r}; use xml, text or json")
        query, run = params.get("query", ""), params.get("run")
        if req.method == "HEAD" and query not in ("Describe", ""):
            raise MethodNotAllowed(f"HEAD answers Describe only; {query[:40]} needs GET or POST")
        params["client"] = req.client  # who asks comes from the connection, never from a parameter
        gateway.reap()  # at most every REAP_EVERY s: idle runs end without a daemon
        if not req.server:
            return _index(gateway, fmt)
        server = find_server(gateway.root, req.server, os.path.join(gateway.runs, ".manifests"))
        outcome = dispatch(gateway, server, query, params)
        return Response(*render(outcome, fmt))
    except GatewayError as exc:
        err = exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            err = InsufficientStorage("the gateway's disk is full: no run can start or step until space is "
                                      "freed (EndRun, GetScore and GetLog still work)")
        else:
            err = _internal(exc)
    except Exception as exc:
        err = _internal(exc)
    return Response(*render(None, fmt, error=err, query=query, server=req.server, run=run))


def _internal(exc: BaseException) -> GatewayError:
    """A bug of ours: logged for the operator, answered as a bare 500 without details."""
    sys.stderr.write(f"wwm gateway: internal error: {exc!r}\n")
    return GatewayError("internal error in the gateway")


def _index(gateway: Gateway, fmt: str) -> Response:
    servers = [{"id": s.id, "name": s.name, "kind": s.kind, "description": str(s.manifest.get("description", ""))}
               for s in list_servers(gateway.root)]
    if fmt == "json":
        return Response(200, "application/json", json.dumps({"servers": servers}).encode())
    if fmt == "text":
        body = "".join(f"{s['id']}\t{s['kind']}\t{s['description']}\n" for s in servers)
        return Response(200, "text/plain; charset=utf-8", body.encode())
    body = "".join(_element("server", s["description"], {"id": s["id"], "name": s["name"], "kind": s["kind"]})
                   for s in servers)
    return Response(200, "application/xml; charset=utf-8",
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<wwm version="{VERSION}">{body}</wwm>'.encode())


# ---------------------------------------------------------------------------
# cgi


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def client_of(environ) -> str:
    """The client's address: REMOTE_ADDR, or behind a reverse proxy the header the
    operator names in WWM_CLIENT_HEADER (e.g. ``X-Real-IP``), which that proxy sets."""
    header = os.environ.get("WWM_CLIENT_HEADER", "")
    if header:
        value = environ.get("HTTP_" + header.upper().replace("-", "_"), "")
        if value:
            return value.split(",")[-1].strip()[:64]  # the proxy appends the address it saw last
    return environ.get("REMOTE_ADDR", "")[:64]


def _wsgi_str(value: str) -> str:
    """A WSGI environ string (bytes as latin-1, PEP 3333) as CGI hands it over:
    UTF-8, with undecodable bytes as surrogates, which ``handle`` refuses."""
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a server that already decoded it
        return value


class App:
    """The gateway as a WSGI application; ``PATH_INFO`` names the server."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def __call__(self, environ, start_response):
        resp = handle(self.request(environ), self.gateway)
        headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))]
        headers += [(k, v) for k, v in resp.headers.items() if "\n" not in v and "\r" not in v]
        start_response(f"{resp.status} {REASONS.get(resp.status, '')}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else resp.body]

    @staticmethod
    def request(environ) -> Request:
        """A Request from a WSGI environ, reading at most MAX_BODY + 1 bytes of body."""
        try:
            length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY + 1)) if length else b""
        if length > MAX_BODY:
            body = b"\0" * (MAX_BODY + 1)  # handle() answers 413 without parsing it
        return Request(method=environ.get("REQUEST_METHOD", "GET").upper(),
                       server=_wsgi_str(environ.get("PATH_INFO", "")).strip("/"),
                       query_string=_wsgi_str(environ.get("QUERY_STRING", "")), body=body,
                       content_type=environ.get("CONTENT_TYPE", ""), client=client_of(environ))
