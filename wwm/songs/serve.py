"""Entry points for the server folders (worlds/songs, worlds/ml100k, minds/random, …).

Parameters come from the ``[params]`` table of the server's own ``wwm.toml`` (the gateway
passes ``WWM_SERVER_DIR``), then from the run's ``params`` file (what the client chose at
StartRun), then from ``--key value`` arguments in the manifest's command, later ones winning.  A node that serves another community copies worlds/songs and changes
``community`` in its manifest.
"""
from __future__ import annotations

import os
import sys


def server_params(argv: list[str] | None = None, defaults: dict | None = None) -> dict:
    params = dict(defaults or {})
    sd = os.environ.get("WWM_SERVER_DIR")
    if sd:
        path = os.path.join(sd, "wwm.toml")
        if os.path.isfile(path):
            import tomllib
            with open(path, "rb") as f:
                params.update((tomllib.load(f).get("params") or {}))
    run_dir = os.environ.get("WWM_RUN_DIR")
    if run_dir and os.path.isfile(os.path.join(run_dir, "params")):  # a client's choices for this run
        with open(os.path.join(run_dir, "params"), encoding="utf-8") as f:
            params.update(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    args = list(sys.argv[1:] if argv is None else argv)
    while args:
        a = args.pop(0)
        if a.startswith("--"):
            key = a[2:].replace("-", "_")
            if "=" in key:
                key, val = key.split("=", 1)
            elif args and not args[0].startswith("--"):
                val = args.pop(0)
            else:
                val = "true"
            params[key] = val
    return params


def _bool(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "xml")


def serve_song_world(argv: list[str] | None = None) -> None:
    from wwm.program import serve_world

    from .world import SongWorld
    p = server_params(argv, {"community": "mixed", "steps": 200, "format": "text",
                             "size": 100, "session": 5.0})
    cfg = dict(community=str(p["community"]), steps=int(p["steps"]),
               xml=str(p["format"]).lower() == "xml", size=int(p["size"]),
               session=float(p["session"]))
    if p.get("catalog"):
        from .catalog import load_catalog
        cfg["catalog"] = load_catalog(p["catalog"])

    class ConfiguredSongWorld(SongWorld):
        def __init__(self):
            super().__init__(**cfg)

    serve_world(ConfiguredSongWorld)


def serve_replay_world(argv: list[str] | None = None) -> None:
    from wwm.program import serve_world

    from .replay import InteractionLog, ReplayWorld, load_ml100k
    p = server_params(argv, {"dataset": "ml-100k", "mode": "test", "steps": 0,
                             "format": "text"})
    if p.get("log"):
        log = InteractionLog.from_file(p["log"])
    elif str(p["dataset"]) in ("ml-100k", "ml100k"):
        log = load_ml100k()
    else:
        raise SystemExit(f"unknown dataset {p['dataset']!r}: give --log FILE")
    cfg = dict(mode=str(p["mode"]), steps=int(p["steps"]) or None,
               xml=str(p["format"]).lower() == "xml",
               max_history=int(p["max_history"]) if p.get("max_history") else None)

    class ConfiguredReplayWorld(ReplayWorld):
        def __init__(self):
            super().__init__(log, **cfg)

    serve_world(ConfiguredReplayWorld)


def serve_baseline(name: str, argv: list[str] | None = None) -> None:
    from wwm.program import serve_mind

    from .baselines import make_baseline
    from .mindkit import RecommenderMind
    p = server_params(argv, {"seed": 0})
    seed = int(p["seed"])

    def factory(dom):
        return make_baseline(name, dom, seed=seed)

    class BaselineMind(RecommenderMind):
        def __init__(self):
            super().__init__(factory=factory)

    serve_mind(BaselineMind)
