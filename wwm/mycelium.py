"""Grow a mycelium on 127.0.0.1: several fungus nodes, each its own ``wwm node`` process, that find
each other over ActivityPub and learn from their own communities of listeners.

Each node gets a folder of its own (``ROOT`` with the song World set to its community, the
fungus Mind with its own checkpoints, keys and queues in ``state/``, runs in ``runs/``).  The
nodes follow one another with signed ``Follow`` activities that their own worker threads deliver:
:func:`follow` queues the activity in the node's federation store (SQLite, shared with the
running node the way its gunicorn workers share it).  Until the SPORE protocol lands, each node
learns alone: :func:`learn` drives song-request runs of its fungus Mind through its gateway.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMUNITIES = ("metal", "club", "country", "hiphop", "mixed")
SERVERS = ("worlds/songs", "minds/fungus", "minds/popularity")

__all__ = ["Node", "start_nodes", "follow", "connect_all", "learn", "stop_nodes", "COMMUNITIES"]


@dataclass
class Node:
    """One fungus node: its process, folder, URL and what it learned."""

    name: str
    folder: str
    port: int
    community: str
    proc: subprocess.Popen | None = None
    episodes: list = field(default_factory=list)  # (steps, score) of each learning run
    error: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> dict:
        """The node's federation settings (what ``wwm spore node`` builds from its options)."""
        return {"ROOT": os.path.join(self.folder, "root"), "RUNS": os.path.join(self.folder, "root", "runs"),
                "FEDERATION_BASE_URL": self.url, "FEDERATION_DIR": os.path.join(self.folder, "state"),
                "FEDERATION_NODE_NAME": "node", "ALLOW_PRIVATE_FETCH": True}


def _make_root(folder: str, community: str) -> None:
    """Copies of the servers a node needs, the song World set to the node's own community."""
    for sid in SERVERS:
        shutil.copytree(os.path.join(REPO, sid), os.path.join(folder, sid),
                        ignore=shutil.ignore_patterns("var", "__pycache__"))
    manifest = os.path.join(folder, "worlds", "songs", "wwm.toml")
    with open(manifest, encoding="utf-8") as f:
        text = f.read()
    lines = [f'community = "{community}"' if line.startswith("community =") else line for line in text.splitlines()]
    with open(manifest, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def demo_env() -> dict:
    """The environment of the demo's own servers: on 127.0.0.1 only, running this repository's
    own programs, so they may start them even when the demo itself runs as root (a fresh
    container); a gateway reachable from the web never does without the operator's say-so."""
    return dict(os.environ, WWM_ALLOW_ROOT="1")


def start_nodes(count: int, folder: str, free_port, timeout: float = 90.0,
                round_seconds: float = 20.0) -> list[Node]:
    """Start ``count`` SPORE nodes in ``folder`` and wait until each answers (all at once, to start fast).

    Each is ``wwm spore node``: it trains on its own community's listeners every
    ``round_seconds``, founds a group when no other helps, and weighs the other
    nodes' groups (all of them are its peers) on its own held-out listeners."""
    nodes = [Node(f"node{i + 1}", os.path.join(folder, f"node{i + 1}"), free_port(), COMMUNITIES[i % len(COMMUNITIES)])
             for i in range(count)]
    for i, node in enumerate(nodes):
        _make_root(os.path.join(node.folder, "root"), node.community)
        c = node.config
        peers = [arg for other in nodes if other is not node for arg in ("--peer", other.url)]
        log = open(os.path.join(node.folder, "node.log"), "wb")
        node.proc = subprocess.Popen(
            [sys.executable, "-m", "wwm", "spore", "node", "--root", c["ROOT"], "--state-dir", c["FEDERATION_DIR"],
             "--base-url", node.url, "--port", str(node.port), "--allow-private-fetch", "--community", node.community,
             "--seed", str(i + 1), "--found", "--round-seconds", str(round_seconds), "--steps", "60", *peers],
            stdout=log, stderr=subprocess.STDOUT, cwd=node.folder, env=demo_env())
        log.close()
    deadline = time.monotonic() + timeout
    for node in nodes:
        while True:
            try:
                if requests.get(node.url + "/ap/actors/node", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if node.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(node.folder, "node.log"), encoding="utf-8", errors="replace") as f:
                    raise RuntimeError(f"{node.name} did not start: {f.read()[-1000:]}")
            time.sleep(0.2)
    return nodes


def follow(fed, local: str, target: str) -> str:
    """Queue a ``Follow`` of the actor ``target`` (its id) from local actor ``local``; returns its id.

    The node's worker signs and delivers it; the target's ``Accept`` marks it accepted.
    """
    from wwm.federation.actors import AP_CONTEXT
    from wwm.federation.outbox import publish

    inbox = fed.remote.inbox(target)
    follow_id = fed.actors.object_url(uuid.uuid4().hex)
    activity = {"@context": AP_CONTEXT, "id": follow_id, "type": "Follow", "actor": fed.actors.id(local),
                "object": target}
    fed.store.set_following(local, target, follow_id, "pending", fed.clock())
    publish(fed, local, activity, inboxes=[inbox], public=False)
    return follow_id


def connect_all(nodes: list[Node], timeout: float = 60.0) -> int:
    """Every node's node actor follows every other's; returns the follows accepted within ``timeout``."""
    from wwm.federation.service import Federation

    feds = {n.name: Federation(n.config) for n in nodes}
    try:
        for n in nodes:
            for peer in nodes:
                if peer is not n:
                    follow(feds[n.name], "node", peer.url + "/ap/actors/node")
        want = len(nodes) * (len(nodes) - 1)
        deadline = time.monotonic() + timeout
        while True:
            accepted = sum(fed.store.count_following("node") for fed in feds.values())
            if accepted >= want or time.monotonic() > deadline:
                return accepted
            time.sleep(0.3)
    finally:
        for fed in feds.values():
            fed.close()


def learn(node: Node, until: float, stop: threading.Event, steps: int = 30) -> None:
    """Run the node's fungus Mind in its song World, episode after episode, until ``until`` (monotonic)."""
    from wwm.client.api import run_episode

    base = node.url + "/wwm"
    seed = 1
    while time.monotonic() < until and not stop.is_set():
        try:
            r = run_episode(f"{base}/worlds/songs", [f"{base}/minds/fungus"], steps=steps, seed=seed)
        except Exception as exc:  # shown in the summary; the other nodes go on
            node.error = str(exc)[:200]
            stop.wait(2)
            continue
        node.episodes.append((r["steps"], r["score"]))
        seed += 1


def spore_status(node: Node) -> dict:
    """The node's SPORE status (its group, rounds, moves), or ``{}`` when it cannot say."""
    try:
        return requests.get(node.url + "/spore/status", timeout=5).json()
    except (requests.RequestException, ValueError):
        return {}


def followers(node: Node) -> tuple[int, int]:
    """(followers, following) of the node actor, as its collections say."""
    out = []
    for box in ("followers", "following"):
        try:
            out.append(int(requests.get(f"{node.url}/ap/actors/node/{box}", timeout=5).json()["totalItems"]))
        except (requests.RequestException, ValueError, KeyError):
            out.append(0)
    return out[0], out[1]


def stop_nodes(nodes: list[Node], grace: float = 20.0) -> None:
    """SIGTERM every node (each ends its runs), then wait; kill what is still there."""
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for node in nodes:
        if node.proc is None:
            continue
        try:
            node.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()
