"""``wwm spore``: run a SPORE fungus node (``node``) and read a node's state (``status``)."""
from __future__ import annotations

import json
import os
import threading

import click

__all__ = ["spore_group", "make_spore"]


@click.group("spore")
def spore_group():
    """SPORE: fungus nodes that learn together in groups over ActivityPub."""


def make_spore(fed, *, community: str, seed: int = 0, dim: int = 16, hidden: int = 32, validation: int = 200,
               model_seed: int = 0, **options):
    """A :class:`~wwm.spore.groups.Spore` for ``fed`` learning from the song World's ``community``.

    Every node starts from the same seeded model (``model_seed``): averaging only helps models
    that share their starting point."""
    from wwm.fungus.learner import FungusLearner
    from wwm.songs.catalog import load_catalog

    from .experience import Experience
    from .groups import Spore

    catalog = load_catalog()
    learner = FungusLearner(list(catalog.ids), catalog.item_features(), domain="songs",
                            fingerprint=catalog.fingerprint(), dim=dim, hidden=hidden, seed=model_seed)
    experience = Experience(catalog, community, validation=validation, seed=seed)
    return Spore(fed, learner, experience, **options)


@spore_group.command("node")
@click.option("--root", required=True, type=click.Path(file_okay=False), help="Folder with minds/ and worlds/.")
@click.option("--base-url", required=True, help="The node's public base URL.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
@click.option("--state-dir", default=None, help="Keys, queues, weights and the SPORE log [ROOT/var/federation].")
@click.option("--community", default="mixed", show_default=True, help="The listeners this node serves.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the requests this node sees.")
@click.option("--peer", "peers", multiple=True, help="Base URL of another node whose groups to consider (repeat).")
@click.option("--found", is_flag=True, help="Found a group when in none and no group helps.")
@click.option("--rule", default="trimmed", show_default=True, type=click.Choice(["fedavg", "trimmed", "median"]),
              help="Aggregation rule of the groups founded here.")
@click.option("--capacity", default=8, show_default=True, type=int, help="Most members of a group.")
@click.option("--threshold", default=0.005, show_default=True, type=float,
              help="Least gain in expected reward (own held-out listeners) worth a move.")
@click.option("--hysteresis", default=0.01, show_default=True, type=float,
              help="Extra gain needed to return to a group left recently.")
@click.option("--cooldown", default=2, show_default=True, type=int, help="Rounds after a move with no other move.")
@click.option("--steps", default=100, show_default=True, type=int, help="Training requests per round.")
@click.option("--rounds", default=0, show_default=True, type=int, help="Rounds to run (0: until stopped).")
@click.option("--round-seconds", default=60.0, show_default=True, type=float, help="Seconds between rounds.")
@click.option("--allow-private-fetch", is_flag=True, help="TESTS ONLY: loopback/private addresses and plain http.")
@click.option("--stop-after", default=None, type=float, help="Exit by itself after this many seconds (tests).")
def node_command(root, base_url, host, port, state_dir, community, seed, peers, found, rule, capacity, threshold,
                 hysteresis, cooldown, steps, rounds, round_seconds, allow_private_fetch, stop_after):
    """Run a fungus node that learns from its community and takes part in SPORE groups."""
    import logging

    from werkzeug.serving import make_server

    from wwm.federation.cli import build_app

    from .blueprint import init_app
    from .migration import MigrationPolicy

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    root = os.path.abspath(root)
    app = build_app({
        "ROOT": root, "RUNS": os.path.join(root, "runs"), "FEDERATION_BASE_URL": base_url.rstrip("/"),
        "FEDERATION_DIR": os.path.abspath(state_dir or os.path.join(root, "var", "federation")),
        "FEDERATION_WORKER": True, "ALLOW_PRIVATE_FETCH": allow_private_fetch, "FEDERATION_POLL": 0.2,
        "FEDERATION_RETRY_BASE": 2 if allow_private_fetch else 30,
    })
    fed = app.extensions["wwm.federation"]
    policy = MigrationPolicy(threshold=threshold, hysteresis=hysteresis, cooldown=cooldown, capacity=capacity)
    from .sink import GraphSink

    knowledge = app.extensions.get("wwm.knowledge")  # the node's graph, also served at /sparql
    sink = GraphSink(knowledge.open, fed.actors.id(fed.actors.node_name)) if knowledge is not None else None
    spore = make_spore(fed, community=community, seed=seed, policy=policy, rule=rule, steps=steps, peers=peers,
                       found=found, sink=sink)
    init_app(app, spore)
    server = make_server(host, port, app, threaded=True)
    stop = threading.Event()

    def rounds_loop():
        done = 0
        while not stop.wait(round_seconds if done else 1.0) and (not rounds or done < rounds):
            try:
                result = spore.step()
                click.echo("spore round " + json.dumps({k: result.get(k) for k in ("round", "group", "score")}),
                           err=True)
            except Exception:
                logging.getLogger("wwm.spore").exception("round failed")
            done += 1

    def shutdown(*_):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, shutdown)
    if stop_after:
        timer = threading.Timer(stop_after, shutdown)
        timer.daemon = True
        timer.start()
    worker = threading.Thread(target=rounds_loop, name="spore-rounds", daemon=True)
    worker.start()
    click.echo(f"wwm spore node on http://{host}:{server.server_port}/ as {base_url} ({community})", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        worker.join(60)
        ending = app.extensions.get("wwm.gateway")
        if ending is not None:
            ending.shutdown()  # the runs served here end with the node, as under wwm serve
        fed.close()
        click.echo("wwm spore node stopped", err=True)


@spore_group.command("status")
@click.argument("url")
def status_command(url):
    """Print a node's SPORE status (groups, members, model versions, migrations) as JSON."""
    import requests

    resp = requests.get(url.rstrip("/") + "/spore/status", timeout=30)
    resp.raise_for_status()
    click.echo(json.dumps(resp.json(), indent=2))
