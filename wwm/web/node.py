"""What the node page shows: the node's actors, who follows whom, and its learning groups.

Everything is read from the node's own federation state (``wwm.federation``).  Learning
groups, model versions and migrations come from :func:`learning`, the one place that will
read the SPORE protocol's data once a node runs it.
"""
from __future__ import annotations

__all__ = ["node_view", "learning", "graph", "history"]


def learning(app) -> dict:
    """The node's learning groups, model versions and migrations (empty lists when SPORE is absent).

    SPORE registers itself as ``app.extensions["wwm.spore"]``, an object with ``groups()``,
    ``versions()`` and ``migrations()`` returning lists of dicts (a group: ``id``, ``name``,
    ``members`` (actor URLs), ``score``; a version: ``hash``, ``url``, ``group``, ``score``,
    ``created``; a migration: ``from``, ``to``, ``gain``, ``time``).
    """
    spore = app.extensions.get("wwm.spore")
    out = {"present": spore is not None, "groups": [], "versions": [], "migrations": []}
    for key in ("groups", "versions", "migrations"):
        get = getattr(spore, key, None)
        if callable(get):
            out[key] = list(get())
    return out


def node_view(fed, app) -> dict:
    """The node's actors with their followers and following, plus :func:`learning`."""
    actors = []
    for name, actor in sorted(fed.actors.all().items(), key=lambda kv: (kv[1].kind != "node", kv[0])):
        actors.append({"name": name, "kind": actor.kind, "title": actor.title, "handle": fed.actors.handle(name),
                       "id": fed.actors.id(name), "server": actor.server,
                       "followers": fed.store.followers(name, 0, 200), "following": fed.store.following(name, 0, 200)})
    node = fed.actors.node_name
    return {"name": node, "host": fed.actors.host, "base": fed.actors.base, "actors": actors,
            "learning": learning(app)}


def graph(view: dict, width: int = 560, height: int = 400) -> dict:
    """Nodes (this one, the peers it follows or is followed by) and groups, laid out on a circle."""
    import math

    me = view["base"]
    peers: dict[str, set] = {}
    for actor in view["actors"]:
        for url in actor["followers"]:
            peers.setdefault(_origin(url), set()).add("follower")
        for url in actor["following"]:
            peers.setdefault(_origin(url), set()).add("following")
    peers.pop(me, None)
    groups = view["learning"]["groups"]
    ring = sorted(peers) + [f"group:{g.get('id', i)}" for i, g in enumerate(groups)]
    cx, cy, radius = width / 2, height / 2, min(width, height) / 2 - 60
    nodes = [{"key": me, "label": _label(me) + " (this node)", "x": cx, "y": cy, "kind": "self"}]
    edges = []
    for i, key in enumerate(ring):
        angle = 2 * math.pi * i / max(1, len(ring)) - math.pi / 2
        x, y = round(cx + radius * math.cos(angle), 1), round(cy + radius * math.sin(angle), 1)
        if key.startswith("group:"):
            group = groups[i - len(peers)]
            nodes.append({"key": key, "label": str(group.get("name") or group.get("id")), "x": x, "y": y,
                          "kind": "group"})
            for member in group.get("members") or []:
                if _origin(member) == me:
                    edges.append({"x1": cx, "y1": cy, "x2": x, "y2": y, "kind": "member"})
        else:
            nodes.append({"key": key, "label": _label(key), "x": x, "y": y, "kind": "peer"})
            for relation in sorted(peers[key]):
                edges.append({"x1": cx, "y1": cy, "x2": x, "y2": y, "kind": relation})
    return {"width": width, "height": height, "nodes": nodes, "edges": edges}


def history(fed, graph_: dict, step: float = 0.8) -> dict:
    """The graph as it grew: when each peer first followed or was followed, oldest first.

    Returns the graph with ``begin`` (seconds into an animation, ``step`` apart, in order of
    appearance) on every peer and edge; this node and groups are there from the start.
    """
    first: dict[str, float] = {}
    for name in fed.actors.all():
        for url, created in fed.store.links_since(name):
            key = _origin(url)
            first[key] = min(first.get(key, created), created)
    order = {key: i for i, key in enumerate(sorted(first, key=first.get))}
    nodes = [dict(n, begin=(order[n["key"]] + 1) * step if n["key"] in order else 0) for n in graph_["nodes"]]
    begin = {(n["x"], n["y"]): n["begin"] for n in nodes}
    edges = [dict(e, begin=begin.get((e["x2"], e["y2"]), 0)) for e in graph_["edges"]]
    return dict(graph_, nodes=nodes, edges=edges, duration=(len(order) + 2) * step)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _label(origin: str) -> str:
    return origin.split("://", 1)[-1]
