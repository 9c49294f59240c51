"""The song World, the ML-100k replay World and the baseline Minds as Program 1s, through the
stock gateway core and the file protocol."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wwm.gateway.queries import Gateway
from wwm.protocol.errors import BadRequest
from wwm.protocol.manifest import load_server
from wwm.songs.request import parse_action, parse_state

REPO = Path(__file__).resolve().parents[2]


def install(root: Path, *names: str) -> dict:
    out = {}
    for n in names:
        dst = root / n
        shutil.copytree(REPO / n, dst, ignore=shutil.ignore_patterns("var", "__pycache__"))
        out[n.split("/")[1]] = load_server(str(dst))
    return out


def play(g, world, mind, steps):
    w, m = g.start_run(world, "3").run, g.start_run(mind, "3").run
    state = g.get_state(world, w).fields["state"]
    fields = {}
    try:
        for _ in range(steps):
            action = g.get_action(mind, m, state).fields["action"]
            fields = g.execute_action(world, w, action).fields
            state = fields["state"]
    finally:
        g.end_run(mind, m)
        score = g.end_run(world, w).fields["score"]
    return state, fields, score


def test_song_world_with_each_baseline_over_the_file_protocol(tmp_path, runs_dir):
    s = install(tmp_path, "worlds/songs", "minds/random", "minds/popularity", "minds/itemknn")
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        for name in ("random", "popularity", "itemknn"):
            state, fields, score = play(g, s["songs"], s[name], 6)
            req = parse_state(state)
            assert req.world == "songs" and req.reward is not None and req.listened
            assert "hr@10:" in score and "invalid: 0" in score
    finally:
        g.shutdown()


def test_song_world_xml_and_bad_actions_through_the_gateway(tmp_path, runs_dir):
    s = install(tmp_path, "worlds/songs")
    toml = tmp_path / "worlds/songs/wwm.toml"
    toml.write_text(toml.read_text().replace('format = "text"', 'format = "xml"'))
    world = load_server(str(tmp_path / "worlds/songs"))
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        run = g.start_run(world, "1").run
        first = g.get_state(world, run).fields["state"]
        assert first.startswith("<request")
        for bad in ["", "no-such-track", "<action/>", "<action>" + "<track id='a'/>" * 11 + "</action>"]:
            f = g.execute_action(world, run, bad).fields
            assert "<reward>-1</reward>" in f["state"] and "<error>" in f["state"]
        for hostile in ["<action><track id='x'>", '<!DOCTYPE x [<!ENTITY e "e">]><a>&e;</a>']:
            with pytest.raises(BadRequest):                  # the gateway refuses it (400)
                g.execute_action(world, run, hostile)
        seed = parse_state(first).history[-1]
        f = g.execute_action(world, run, f'<action><track id="{seed}"/></action>').fields
        assert parse_state(f["state"]).reward is not None
        g.end_run(world, run)
    finally:
        g.shutdown()


def test_ml100k_replay_world_served(tmp_path, runs_dir, ml100k_dir, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))     # the programs find data via ~/.cache
    cache = tmp_path / "home" / ".cache" / "wwm"
    cache.mkdir(parents=True)
    (cache / "ml-100k").symlink_to(ml100k_dir)
    s = install(tmp_path, "worlds/ml100k", "minds/popularity")
    g = Gateway(str(tmp_path), str(runs_dir))
    try:
        state, fields, score = play(g, s["ml100k"], s["popularity"], 20)
        assert parse_state(state).world == "replay ml-100k"
        assert score.splitlines()[0] and "hr@10:" in score and "steps: 20" in score
    finally:
        g.shutdown()
