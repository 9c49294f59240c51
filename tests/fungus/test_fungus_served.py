"""The fungus Mind as a shared Program 1 over the file protocol: it answers, learns, checkpoints
safe weights when a run ends, reloads them, and refuses a poisoned checkpoint."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

from wwm.fungus.weights import parse_header
from wwm.gateway.queries import Gateway
from wwm.protocol.manifest import load_server
from wwm.songs.request import parse_action, parse_state

REPO = Path(__file__).resolve().parents[2]


def install(root: Path):
    for n in ("worlds/songs", "minds/fungus"):
        shutil.copytree(REPO / n, root / n, ignore=shutil.ignore_patterns("var", "__pycache__"))
    return load_server(str(root / "worlds/songs")), load_server(str(root / "minds/fungus"))


def play(g, world, mind, steps, seed="1"):
    w, m = g.start_run(world, seed).run, g.start_run(mind, seed).run
    state = g.get_state(world, w).fields["state"]
    actions = []
    for _ in range(steps):
        action = g.get_action(mind, m, state).fields["action"]
        actions.append(action)
        state = g.execute_action(world, w, action).fields["state"]
    g.end_run(mind, m)
    g.end_run(world, w)
    return actions


def test_served_fungus_learns_checkpoints_and_refuses_pickles(tmp_path, runs_dir):
    world, mind = install(tmp_path)
    home = tmp_path / "minds/fungus/var"
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        actions = play(g, world, mind, 6)
        for a in actions:
            ids = parse_action(a).ids
            assert 1 <= len(ids) <= 10
        ckpt = home / "songs.safetensors"
        for _ in range(100):                                  # written when the run ends
            if ckpt.exists():
                break
            __import__("time").sleep(0.05)
        header, meta = parse_header(ckpt.read_bytes())
        assert meta["format"] == "wwm-fungus/1" and int(meta["samples"]) == 5
    finally:
        g.shutdown()
    # a new process loads the checkpoint
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        play(g, world, mind, 2, seed="2")
        log = "".join(p.read_text() for p in (runs_dir / "minds" / "fungus").rglob("log"))
        assert "fungus: loaded" in log
    finally:
        g.shutdown()
    # a poisoned checkpoint is refused, set aside, and the Mind still answers
    (home / "songs.safetensors").write_bytes(pickle.dumps({"evil": 1}))
    shutil.rmtree(runs_dir)
    runs_dir.mkdir()
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        actions = play(g, world, mind, 2, seed="3")
        assert all(parse_action(a).ids for a in actions)
        log = "".join(p.read_text() for p in runs_dir.rglob("log"))
        assert "refused checkpoint" in log and "pickle" in log
        assert (home / "songs.refused.safetensors").exists()
    finally:
        g.shutdown()


def test_served_fungus_answers_xml_states(tmp_path, runs_dir):
    world, mind = install(tmp_path)
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        m = g.start_run(mind, "1").run
        a = g.get_action(mind, m, "<request world='songs'><text>songs like Enter Sandman"
                                  "</text></request>").fields["action"]
        assert a.startswith("<action") and len(parse_action(a).ids) == 10
        a = g.get_action(mind, m, "world: songs\n").fields["action"]         # empty request
        assert len(parse_action(a).ids) == 10
        g.end_run(mind, m)
    finally:
        g.shutdown()
