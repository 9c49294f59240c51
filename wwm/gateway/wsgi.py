"""The persistent gateway: Flask over the same core as the CGI file.

``create_app(config)`` builds the Flask app of the other areas (scores, web
UI, federation, when present) and puts the gateway in front of it: requests
under ``/wwm/`` go straight from WSGI to ``core.handle`` — the step loop's hot
path, where Flask's request machinery would cost more than the query itself —
and everything else goes to Flask.  The app holds no run state in memory, so
several gunicorn workers can share one runs folder.
"""
from __future__ import annotations

import os

from flask import Flask

from wwm.gateway import core, envelope

PREFIX = "/wwm"
XML_TYPES = ("application/xml", "text/xml")


class GatewayMiddleware:
    """WSGI: ``/wwm/NAME?query=…`` to the core, the rest to the wrapped app."""

    def __init__(self, app, gateway: core.Gateway):
        self.app, self.gateway = app, gateway

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.app(environ, start_response)
        resp = self.respond(environ, path[len(PREFIX):].strip("/"))
        headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))]
        headers += [(k, v) for k, v in resp.headers.items() if "\n" not in v and "\r" not in v]
        start_response(f"{resp.status} {core.REASONS.get(resp.status, '')}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else resp.body]

    def respond(self, environ, name: str) -> core.Response:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > core.MAX_BODY:
            return self.error(environ, name, core.TooLarge(f"request body is larger than {core.MAX_BODY} bytes"))
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        ctype = environ.get("CONTENT_TYPE", "")
        if body and ctype.split(";")[0].strip().lower() in XML_TYPES:
            try:
                envelope.validate(body)  # the shipped schema, with lxml's safe settings
            except core.GatewayError as exc:
                return self.error(environ, name, exc)
        req = core.Request(method=environ.get("REQUEST_METHOD", "GET").upper(), server=name,
                           query_string=environ.get("QUERY_STRING", ""), body=body, content_type=ctype)
        return core.handle(req, self.gateway)

    @staticmethod
    def error(environ, name: str, exc: core.GatewayError) -> core.Response:
        fmt = "json" if "format=json" in environ.get("QUERY_STRING", "") else "xml"
        return core.Response(*core.render(None, fmt, error=exc, server=name))


def gateway_of(app: Flask) -> core.Gateway:
    return app.extensions["wwm.gateway"]


def init_app(app: Flask) -> None:
    root = os.path.abspath(app.config["ROOT"])
    runs = os.path.abspath(app.config["RUNS"])
    os.makedirs(runs, exist_ok=True)
    gw = core.Gateway(root, runs)
    app.extensions["wwm.gateway"] = gw
    app.wsgi_app = GatewayMiddleware(app.wsgi_app, gw)


def serve(app: Flask, host: str, port: int, threads: int = 32) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then end its runs.

    waitress keeps connections alive (werkzeug's development server closes
    every one, which costs a TCP handshake per query) and sets TCP_NODELAY.
    """
    import signal

    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=threads, ident="wwm",
                           channel_timeout=120, connection_limit=1000)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        gateway_of(app).shutdown()


def create_app(config: dict | None = None) -> Flask:
    """The Flask gateway.  Config: ROOT (minds/ and worlds/), RUNS (run folders).

    Both default to WWM_ROOT / WWM_RUNS from the environment, then to the
    current directory and ``./runs``.
    """
    app = Flask(__name__)
    app.config.update(ROOT=os.environ.get("WWM_ROOT", os.getcwd()),
                      RUNS=os.environ.get("WWM_RUNS", os.path.join(os.getcwd(), "runs")),
                      MAX_CONTENT_LENGTH=core.MAX_BODY)
    app.config.update(config or {})
    init_app(app)
    try:
        from wwm import scoreboard
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    else:
        scoreboard.init_app(app)  # GET /scores (XML; ?format=json; ?world=W)
    try:
        from wwm.knowledge import blueprint as knowledge
    except ImportError:  # rdflib not installed: no /sparql
        pass
    else:
        knowledge.init_app(app)  # GET/POST /sparql: the knowledge graph, read-only
    return app
