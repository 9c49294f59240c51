"""The persistent gateway: Flask over the same core as the CGI file.

``create_app(config)`` registers the gateway blueprint (servers at
``/wwm/NAME?query=…``, an index at ``/wwm/``) and the other areas' blueprints
when their packages are present.  The app holds no run state in memory, so
several gunicorn workers can share one runs folder.
"""
from __future__ import annotations

import os

from flask import Blueprint, Flask, Response, current_app, request

from wwm.gateway import core, envelope

bp = Blueprint("gateway", __name__)


def gateway() -> core.Gateway:
    return current_app.extensions["wwm.gateway"]


def _answer(name: str) -> Response:
    body = request.get_data(cache=False) if request.method == "POST" else b""
    ctype = request.content_type or ""
    if body and ctype.split(";")[0].strip().lower() in ("application/xml", "text/xml"):
        try:
            envelope.validate(body)
        except core.GatewayError as exc:
            return _send(core.Response(*core.render(None, request.args.get("format", "xml"), error=exc,
                                                    server=name)[:3]))
    req = core.Request(method=request.method, server=name, query_string=request.query_string.decode("latin-1"),
                       body=body, content_type=ctype)
    return _send(core.handle(req, gateway()))


def _send(resp: core.Response) -> Response:
    return Response(resp.body, status=resp.status, content_type=resp.content_type, headers=resp.headers)


@bp.route("/wwm/", methods=["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def index():
    return _answer("")


@bp.route("/wwm/<path:name>", methods=["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def server(name: str):
    return _answer(name)


@bp.app_errorhandler(413)
def too_large(exc):
    err = core.TooLarge(f"request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes")
    return _send(core.Response(*core.render(None, request.args.get("format", "xml"), error=err)[:3]))


def init_app(app: Flask) -> None:
    root = os.path.abspath(app.config["ROOT"])
    runs = os.path.abspath(app.config["RUNS"])
    os.makedirs(runs, exist_ok=True)
    app.extensions["wwm.gateway"] = core.Gateway(root, runs)
    app.register_blueprint(bp)


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
        server.close()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["wwm.gateway"].shutdown()


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
    return app
