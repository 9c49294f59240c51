"""``wwm demo``: the main job on embedded defaults.

Starts the Flask gateway on 127.0.0.1 over this repository's servers, then
runs Minds in Worlds through it over HTTP, in every language and across
languages, the classic house World with Minds of different skill, and, where
installed, the song-request World with the fungus Mind learning online.
Prints one table; finishes by itself.
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
    proc = subprocess.Popen([sys.executable, "-m", "wwm", "serve", "--root", root, "--runs", runs,
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/wwm"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/?format=json", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                raise click.ClickException(f"the gateway did not start: {proc.stderr.read().decode()[-500:]}")
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


@click.command("demo")
@click.option("--steps", default=100, show_default=True, help="Steps per hello run.")
@click.option("--seed", default=1, show_default=True, help="Seed for every run.")
def demo_command(steps, seed):
    """Serve this repository's Minds and Worlds and run them together over HTTP."""
    runs = tempfile.mkdtemp(prefix="wwm-demo-runs-")
    proc, base = start_gateway(REPO, runs)
    click.echo(f"gateway: {base}/ (runs in {runs})\n")
    click.echo(f"{'section':26} {'world':22} {'mind':22} {'steps':>6} {'score':>9} {'steps/s':>8}")
    results = []
    try:
        for section, world, mind, n in plays(base, steps):
            try:
                r = run_episode(f"{base}/{world}", [f"{base}/{mind}"], steps=n, seed=seed)
            except Exception as exc:  # show the failure and go on with the rest
                click.echo(f"{section:26} {world:22} {mind:22} failed: {exc}")
                continue
            rate = r["steps"] / r["seconds"] if r["seconds"] else 0
            click.echo(f"{section:26} {world:22} {mind:22} {r['steps']:6} {r['score']!s:>9} {rate:8.0f}")
            results.append(dict(r, section=section))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    click.echo("\n" + json.dumps({"runs": len(results), "gateway": base}))
