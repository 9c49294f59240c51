"""``wwm demo``: the main job on embedded defaults.

Grows N fungus nodes on 127.0.0.1 (``wwm.mycelium``: each its own ``wwm spore
node`` process with its own listeners; they follow one another, learn, and form,
join and leave SPORE learning groups by measured gain), starts the
Flask gateway with the web UI over a copy of this repository's servers, then
runs Minds in Worlds through it over HTTP, in every language and across
languages, the classic house World with Minds of different skill, a society,
and the song-request World.  Prints the UI's URL, the runs, and a summary of the
nodes; finishes by itself and removes everything it started or wrote.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import click

from wwm.client.api import run_episode

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANGS = ("python", "sh", "c", "perl", "js")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(root: str, runs: str) -> tuple[subprocess.Popen, str]:
    """``wwm serve`` as a child process; returns it and its base URL once it answers."""
    port = free_port()
    log_path = os.path.join(os.path.dirname(runs), "gateway.log")  # a file: an unread pipe fills and blocks
    with open(log_path, "wb") as log:
        from wwm.mycelium import demo_env

        proc = subprocess.Popen([sys.executable, "-m", "wwm", "serve", "--root", root, "--runs", runs,
                                 "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log, env=demo_env())
    base = f"http://127.0.0.1:{port}/wwm"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/?format=json", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    raise click.ClickException(f"the gateway did not start: {f.read()[-500:]}")
            time.sleep(0.1)
    proc.kill()
    raise click.ClickException("the gateway did not answer within 30 s")


def plays(base: str, steps: int) -> list[tuple[str, str, str, int]]:
    """(section, world, mind, steps) for every demo run whose servers exist."""
    have = lambda kind, name: os.path.isfile(os.path.join(REPO, kind, name, "wwm.toml"))  # noqa: E731
    out = [("hello, same language", f"worlds/hello-{l}", f"minds/hello-{l}", steps) for l in LANGS]
    out += [("hello, across languages", f"worlds/hello-{w}", f"minds/hello-{m}", steps)
            for w, m in (("c", "python"), ("python", "js"), ("perl", "sh"), ("js", "c"), ("sh", "perl"))]
    out += [("house robot", "worlds/house", f"minds/house-{m}", 500)
            for m in ("random", "greedy", "cautious") if have("minds", f"house-{m}")]
    out += [("house robot", "worlds/house", f"minds/{s}", 500)
            for s in ("society-house",) if have("minds", s)]
    out += [("songs", "worlds/songs", f"minds/{m}", 300)
            for m in ("random", "popularity", "itemknn", "fungus") if have("worlds", "songs") and have("minds", m)]
    return [p for p in out if have(*p[1].split("/")) and have(*p[2].split("/"))]


def run_plays(base: str, steps: int, seed: int) -> list[dict]:
    """The WWM part: every play of :func:`plays` over HTTP, one line each."""
    click.echo(f"{'section':26} {'world':22} {'mind':22} {'steps':>6} {'score':>9} {'steps/s':>8}")
    results = []
    for section, world, mind, n in plays(base, steps):
        try:
            r = run_episode(f"{base}/{world}", [f"{base}/{mind}"], steps=n, seed=seed)
        except Exception as exc:  # show the failure and go on with the rest
            click.echo(f"{section:26} {world:22} {mind:22} failed: {exc}")
            continue
        rate = r["steps"] / r["seconds"] if r["seconds"] else 0
        click.echo(f"{section:26} {world:22} {mind:22} {r['steps']:6} {r['score']!s:>9} {rate:8.0f}")
        results.append(dict(r, section=section))
    return results


def _mean(values) -> str:
    values = [v for v in values if v is not None]
    return f"{sum(values) / len(values):.3f}" if values else "-"


def node_summary(nodes) -> str:
    """The final table: each node, its community, its links, and how its fungus Mind did."""
    from wwm.mycelium import followers, spore_status

    lines = [f"{'node':7} {'community':9} {'url':24} {'followers':>9} {'following':>9} {'runs':>5} "
             f"{'score (first 3)':>15} {'score (last 3)':>14} {'rounds':>6} {'moves':>5} {'held-out':>8}  group"]
    for n in nodes:
        fol, fing = followers(n)
        scores = [s for _, s in n.episodes]
        st = spore_status(n)
        held = st.get("scores") or []
        group = st.get("group") or "alone"
        for other in nodes:  # name the group by its host node: node2/group-1a2b3c4d
            group = group.replace(other.url + "/ap/actors/", other.name + "/")
        note = f"  ({n.error})" if n.error and not scores else ""
        lines.append(f"{n.name:7} {n.community:9} {n.url:24} {fol:9} {fing:9} {len(scores):5} "
                     f"{_mean(scores[:3]):>15} {_mean(scores[-3:]):>14} {st.get('round', 0):>6} "
                     f"{len(st.get('migrations') or []):>5} {_mean([held[-1]['value']] if held else []):>8}  "
                     f"{group}{note}")
    return "\n".join(lines)


@click.command("demo")
@click.option("--nodes", "node_count", default=5, show_default=True, help="Fungus nodes to grow (0 for none).")
@click.option("--minutes", default=2.0, show_default=True, help="How long the nodes learn.")
@click.option("--steps", default=100, show_default=True, help="Steps per hello run.")
@click.option("--seed", default=1, show_default=True, help="Seed for every run.")
@click.option("--plays/--no-plays", default=True, show_default=True,
              help="Run Minds in every language, the house robot and a society through the gateway.")
def demo_command(node_count, minutes, steps, seed, plays):
    """Grow fungus nodes that find each other and learn, serve this repository's Minds and Worlds
    with the web UI, and run them together over HTTP.  Leaves nothing behind, also on Ctrl-C."""
    import shutil
    import signal
    import threading

    from wwm import mycelium

    folder = tempfile.mkdtemp(prefix="wwm-demo-")
    stop = threading.Event()
    gateway, nodes, results = None, [], []
    try:
        root = os.path.join(folder, "gateway")
        for sub in ("minds", "worlds"):  # a copy: societies saved from the UI go there, not into the repository
            shutil.copytree(os.path.join(REPO, sub), os.path.join(root, sub),
                            ignore=shutil.ignore_patterns("var", "__pycache__"))
        gateway, base = start_gateway(root, os.path.join(folder, "runs"))
        click.echo(f"demo folder: {folder}\nweb UI: {base[:-len('/wwm')]}/ui/  (gateway API {base}/)")
        if node_count:
            click.echo(f"growing {node_count} fungus nodes ...")
            nodes[:] = mycelium.start_nodes(node_count, os.path.join(folder, "nodes"), free_port)
            for n in nodes:
                click.echo(f"  {n.name} ({n.community} listeners): {n.url}/ui/node")
            accepted = mycelium.connect_all(nodes)
            click.echo(f"the nodes found each other: {accepted} of {node_count * (node_count - 1)} follows accepted")
            until = time.monotonic() + minutes * 60
            learners = [threading.Thread(target=mycelium.learn, args=(n, until, stop), daemon=True) for n in nodes]
            for t in learners:
                t.start()
            click.echo(f"each node's fungus Mind learns from its listeners for {minutes:g} minutes, and the "
                       "nodes form SPORE learning groups: see each node's page\n")
        if plays:
            results = run_plays(base, steps, seed)
        if nodes:
            for t in learners:
                t.join(max(0.0, until - time.monotonic()) + 120)
            click.echo("\n" + node_summary(nodes))
        click.echo("\n" + json.dumps({"runs": len(results), "nodes": len(nodes),
                                      "node_runs": sum(len(n.episodes) for n in nodes)}))
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping everything", err=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stop.set()
        mycelium.stop_nodes(nodes)
        if gateway is not None:
            gateway.terminate()
            try:
                gateway.wait(10)
            except subprocess.TimeoutExpired:
                gateway.kill()
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
