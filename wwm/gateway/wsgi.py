"""The persistent gateway: Flask with the gateway's WSGI App mounted at ``/wwm``.

``create_app(config)`` builds the Flask app of the other areas (scores, web
UI, federation, when present) and puts the gateway's own WSGI application
(``wwm.gateway.app.App``, the very code the CGI file runs) in front of it:
requests under ``/wwm/`` go straight to it -- the step loop's hot path, where
Flask's request machinery would cost more than the query itself -- and
everything else goes to Flask.  The app holds no run state in memory, so
several gunicorn workers can share one runs folder.
"""
from __future__ import annotations

import os

from flask import Flask

from wwm.gateway.app import MAX_BODY, App
from wwm.gateway.queries import Gateway

PREFIX = "/wwm"


class Mount:
    """WSGI: ``/wwm/NAME?query=…`` to the gateway App, the rest to the wrapped app."""

    def __init__(self, app, gateway: Gateway):
        self.app, self.gateway, self.gateway_app = app, gateway, App(gateway)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.app(environ, start_response)
        environ = dict(environ, PATH_INFO=path[len(PREFIX):], SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + PREFIX)
        return self.gateway_app(environ, start_response)


def gateway_of(app: Flask) -> Gateway:
    return app.extensions["wwm.gateway"]


def init_app(app: Flask) -> None:
    root = os.path.abspath(app.config["ROOT"])
    runs = os.path.abspath(app.config["RUNS"])
    os.makedirs(runs, exist_ok=True)
    gw = Gateway(root, runs)
    app.extensions["wwm.gateway"] = gw
    app.wsgi_app = Mount(app.wsgi_app, gw)


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
    gateway = gateway_of(app)
    gateway.reap(force=True)  # after a crash: runs whose Program 1 died are ended, live ones adopted
    gateway.reaper.start_timer()  # a quiet gateway reaps idle runs too
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
                      MAX_CONTENT_LENGTH=MAX_BODY)
    app.config.update(config or {})
    init_app(app)
    from wwm import scoreboard, web

    scoreboard.init_app(app)  # GET /scores (XML; ?format=json; ?world=W)
    web.init_app(app)  # the web UI under /ui/ (templates/, static/)
    try:
        from wwm.knowledge import blueprint as knowledge
    except ImportError:  # rdflib not installed: no /sparql
        pass
    else:
        knowledge.init_app(app)  # GET/POST /sparql: the knowledge graph, read-only
    return app
