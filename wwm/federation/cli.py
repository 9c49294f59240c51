"""``wwm node``: one process serving the gateway and the node's ActivityPub side."""
from __future__ import annotations

import logging
import os
import signal
import threading

import click

__all__ = ["node_command", "build_app", "create_node_app"]


def build_app(config: dict):
    """The gateway app (``wwm.gateway.wsgi.create_app``) with federation set up on it."""
    from wwm.gateway.wsgi import create_app

    from .blueprint import init_app

    app = create_app(config)
    init_app(app)  # idempotent: create_app may already have done it
    return app


def create_node_app():
    """A node app configured from the environment, for WSGI servers (gunicorn, without --preload).

    ``WWM_ROOT`` (required), ``WWM_BASE_URL`` (required), ``WWM_RUNS`` [ROOT/runs],
    ``WWM_FEDERATION_DIR`` [ROOT/var/federation], ``WWM_NODE_NAME`` [node].  Each worker process
    runs its own delivery/inbox worker thread; they share the queues through SQLite leases.
    """
    root = os.path.abspath(os.environ["WWM_ROOT"])
    return build_app({
        "ROOT": root,
        "RUNS": os.path.abspath(os.environ.get("WWM_RUNS") or os.path.join(root, "runs")),
        "FEDERATION_BASE_URL": os.environ["WWM_BASE_URL"].rstrip("/"),
        "FEDERATION_DIR": os.path.abspath(os.environ.get("WWM_FEDERATION_DIR")
                                          or os.path.join(root, "var", "federation")),
        "FEDERATION_NODE_NAME": os.environ.get("WWM_NODE_NAME") or "node",
        "FEDERATION_WORKER": True,
    })


@click.command("node")
@click.option("--root", required=True, type=click.Path(file_okay=False),
              help="Folder holding minds/ and worlds/; each server there becomes an actor.")
@click.option("--base-url", required=True,
              help="The node's public base URL, e.g. https://fungus.example (as people reach it, behind any proxy).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option("--runs", default=None, help="Folder for run directories [default: ROOT/runs].")
@click.option("--state-dir", default=None, help="Keys, queues and caches [default: ROOT/var/federation].")
@click.option("--node-name", default="node", show_default=True, help="Username of the node's own actor.")
@click.option("--authorized-fetch", is_flag=True, help="Require signed GETs for outboxes, collections and objects.")
@click.option("--trust-proxy", default=0, show_default=True, type=int,
              help="Number of reverse proxies whose X-Forwarded-For to trust (for per-address rate limits).")
@click.option("--tls-cert", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Serve TLS directly with this certificate (PEM); usually a reverse proxy does TLS.")
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False, exists=True), help="Key for --tls-cert.")
@click.option("--ca-bundle", default=None, type=click.Path(dir_okay=False, exists=True),
              help="CA certificates to trust for outgoing TLS (e.g. a test CA).")
@click.option("--allow-private-fetch", is_flag=True,
              help="TESTS ONLY: allow fetching from and delivering to loopback/private addresses and plain http.")
@click.option("--announce-runs/--no-announce-runs", default=True, show_default=True,
              help="Post the scores of World runs that end on this node's gateway (a few an hour at most).")
@click.option("--stop-after", default=None, type=float, help="Exit by itself after this many seconds (tests).")
def node_command(root, base_url, host, port, runs, state_dir, node_name, authorized_fetch, trust_proxy,
                 tls_cert, tls_key, ca_bundle, allow_private_fetch, announce_runs, stop_after):
    """Run a fungus node: the gateway (/wwm/NAME) plus ActivityPub (WebFinger, actors, inboxes, outboxes).

    Every Mind and World under ROOT becomes an actor @NAME@HOST that Mastodon can find,
    follow and mention; the node itself is @node@HOST.  Keys are made on first start and
    kept in the state folder.  Run it behind a TLS reverse proxy; see docs/activitypub.md.
    """
    from werkzeug.serving import make_server

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    root = os.path.abspath(root)
    config = {
        "ROOT": root,
        "RUNS": os.path.abspath(runs or os.path.join(root, "runs")),
        "FEDERATION_BASE_URL": base_url.rstrip("/"),
        "FEDERATION_DIR": os.path.abspath(state_dir or os.path.join(root, "var", "federation")),
        "FEDERATION_NODE_NAME": node_name,
        "FEDERATION_AUTHORIZED_FETCH": authorized_fetch,
        "FEDERATION_WORKER": True,
        "FEDERATION_ANNOUNCE_RUNS": announce_runs,
        "ALLOW_PRIVATE_FETCH": allow_private_fetch,
    }
    if ca_bundle:
        config["FEDERATION_CA_BUNDLE"] = os.path.abspath(ca_bundle)
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    app = build_app(config)
    fed = app.extensions["wwm.federation"]
    wsgi = app.wsgi_app
    if trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(wsgi, x_for=trust_proxy, x_proto=0, x_host=0)
    ssl_context = (tls_cert, tls_key) if tls_cert else None
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    if allow_private_fetch:
        click.echo("wwm node: ALLOW_PRIVATE_FETCH is on (tests only)", err=True)
    names = ", ".join(f"@{n}@{fed.actors.host}" for n in sorted(fed.actors.all()))
    click.echo(f"wwm node on {'https' if ssl_context else 'http'}://{host}:{server.server_port}/ as {base_url}: "
               f"{names}", err=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(stop_after, stop) if stop_after else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        if timer:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        fed.close()
        gateway = app.extensions.get("wwm.gateway")
        if gateway is not None:
            gateway.shutdown()
        from .mentions import default_ask_mind

        default_ask_mind.close()
        click.echo("wwm node stopped", err=True)
