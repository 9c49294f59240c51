"""Three real SPORE node processes on 127.0.0.1: a group is founded, joined over ActivityPub, rounds run.

A and B serve the same community (metal), C another (country).  A founds a group; B is set to
join any group (threshold -1) and does so by following it; C is set to move only for a gain of
a whole reward point, so it stays on its own and records why, with the figures it measured.
The test then reads each node's /spore/status, WebFinger, the group actor and the outboxes.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sporekit import free_port

REPO = Path(__file__).resolve().parent.parent.parent


def _start(tmp_path, name, port, *extra):
    root = tmp_path / name
    (root / "minds").mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "wwm", "spore", "node", "--root", str(root), "--base-url",
                             f"http://127.0.0.1:{port}", "--port", str(port), "--allow-private-fetch",
                             "--steps", "30", "--round-seconds", "2", "--stop-after", "170", *extra],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, log


def _status(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/spore/status", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None


def test_three_nodes_found_join_and_run_rounds(tmp_path):
    ports = {n: free_port() for n in "abc"}
    base = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    procs = [
        _start(tmp_path, "a", ports["a"], "--community", "metal", "--seed", "1", "--found", "--rule", "trimmed"),
        _start(tmp_path, "b", ports["b"], "--community", "metal", "--seed", "2", "--peer", base["a"],
               "--threshold", "-1", "--cooldown", "50"),
        _start(tmp_path, "c", ports["c"], "--community", "country", "--seed", "3", "--peer", base["a"],
               "--threshold", "1.0"),
    ]
    try:
        deadline = time.monotonic() + 150
        done = False
        while time.monotonic() < deadline and not done:
            time.sleep(2)
            for proc, _ in procs:
                assert proc.poll() is None, (tmp_path / "a.log").read_text()[-3000:]
            a, b, c = (_status(ports[n]) for n in "abc")
            if not (a and b and c):
                continue
            hosted = a["hosted_groups"]
            adopted = [d for d in b["decisions"] if d.get("action") in ("adopt", "keep_own")
                       and any(i["member"] == a["node"] for i in d.get("inputs", []))]
            done = (hosted and len(hosted[0]["members"]) == 2 and hosted[0]["model_round"] >= 2 and adopted
                    and any(d.get("candidates") for d in c["decisions"]))
        assert done, "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in "abc")
        group = a["hosted_groups"][0]
        group_id = group["id"]
        assert set(group["members"]) == {a["node"], b["node"]}
        assert a["group"] == b["group"] == group_id and c["group"] is None
        assert [m["to"] for m in a["migrations"]] == [group_id] and a["migrations"][0]["action"] == "found"
        assert [m["to"] for m in b["migrations"]] == [group_id]
        # C measured A's group on its own listeners and stayed, saying why
        stays = [d for d in c["decisions"] if d.get("candidates")]
        assert all(d["action"] == "stay" and "threshold" in d["reason"] for d in stays)
        assert stays[0]["candidates"][0]["group"] == group_id and 0 < stays[0]["candidates"][0]["score"] < 1
        # B fetched A's weights by hash and decided on its own validation figures
        decision = next(d for d in b["decisions"] if d.get("action") in ("adopt", "keep_own"))
        assert decision["after"] >= decision["before"] or decision["action"] == "keep_own"
        # the group is an ActivityPub Group actor, found by WebFinger
        name = group_id.rsplit("/", 1)[1]
        jrd = requests.get(base["a"] + "/.well-known/webfinger",
                           params={"resource": f"acct:{name}@127.0.0.1:{ports['a']}"}, timeout=10).json()
        doc = requests.get(jrd["links"][0]["href"], headers={"Accept": "application/activity+json"}, timeout=10).json()
        assert doc["type"] == "Group" and doc["id"] == group_id
        props = {p["name"]: p["value"] for p in doc["attachment"]}
        assert props["spore:rule"] == "trimmed" and props["spore:members"] == "2"
        model = requests.get(props["spore:model"], timeout=10)
        assert hashlib.sha256(model.content).hexdigest() == props["spore:model_sha256"]
        listing = requests.get(base["a"] + "/spore/groups", timeout=10).json()
        assert listing["orderedItems"] == [group_id]
        # B's notes are public, tagged #spore, with the machine-readable attachment
        outbox = requests.get(b["node"] + "/outbox?page=1", timeout=10).json()["orderedItems"]
        note = next(x["object"] for x in outbox if x["type"] == "Create"
                    and any(p["name"] == "spore:sha256" for p in x["object"].get("attachment") or []))
        assert any(t["name"] == "#spore" for t in note["tag"]) and group_id in note["to"]
        keys = {p["name"] for p in note["attachment"] if p["type"] == "PropertyValue"}
        assert {"spore:group", "spore:round", "spore:sha256", "spore:samples", "spore:metrics"} <= keys
        # moves are public notes too, with the figures they were based on
        b_notes = [x["object"] for x in outbox if x["type"] == "Create"]
        moved = [n for n in b_notes if any(p["name"] == "spore:decision" for p in n.get("attachment") or [])]
        figures = json.loads(next(p["value"] for p in moved[0]["attachment"] if p["name"] == "spore:decision"))
        assert figures["action"] == "move" and figures["to"] == group_id and figures["candidates"]
        # the group's outbox announces its members' notes
        g_outbox = requests.get(group_id + "/outbox?page=1", timeout=10).json()["orderedItems"]
        assert any(x["type"] == "Announce" for x in g_outbox)
        # the web UI's node page shows the group, its members, model versions and the founding
        learning = requests.get(base["a"] + "/ui/node.json", timeout=10).json()["learning"]
        assert learning["present"] and group_id in [g["id"] for g in learning["groups"]]
        assert next(g for g in learning["groups"] if g["id"] == group_id)["members"]
        assert any(v["group"] == group_id for v in learning["versions"])
        assert [m["to"] for m in learning["migrations"]] == [group_id]
        # what SPORE did is in the node's knowledge graph too, queryable at /sparql
        query = ("PREFIX wwm: <https://w3id.org/wwm/ns#> SELECT ?member ?version WHERE { "
                 f"<{group_id}> a wwm:LearningGroup ; wwm:member ?member . "
                 f"OPTIONAL {{ ?version a wwm:ModelVersion ; wwm:group <{group_id}> }} }}")
        rows = requests.get(base["a"] + "/sparql", params={"query": query},
                            headers={"Accept": "application/sparql-results+json"}, timeout=30).json()
        found = rows["results"]["bindings"]
        assert a["node"] in {r["member"]["value"] for r in found}
        assert any("version" in r for r in found)
        page = requests.get(base["a"] + "/ui/node", timeout=10).text
        assert group_id.rsplit("/", 1)[1] in page and "learns alone" not in page
    finally:
        for proc, log in procs:
            proc.terminate()
        for proc, log in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def test_a_node_moves_and_its_empty_group_dissolves(tmp_path):
    """A and B each found a group; B gains nothing to lose by moving (threshold -1) and joins A's;
    its own group, now empty, dissolves; a large hysteresis keeps it from moving back."""
    ports = {n: free_port() for n in "ab"}
    base = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    procs = [
        _start(tmp_path, "a", ports["a"], "--community", "metal", "--seed", "1", "--found", "--threshold", "1",
               "--peer", base["b"]),
        _start(tmp_path, "b", ports["b"], "--community", "club", "--seed", "2", "--found", "--threshold", "-1",
               "--hysteresis", "5", "--cooldown", "0", "--peer", base["a"]),
    ]
    try:
        deadline = time.monotonic() + 150
        a = b = None
        while time.monotonic() < deadline:
            time.sleep(2)
            for proc, _ in procs:
                assert proc.poll() is None
            a, b = _status(ports["a"]), _status(ports["b"])
            if a and b and b["hosted_groups"] and b["hosted_groups"][0]["dissolved"] and b["group"]:
                break
        assert b and b["hosted_groups"] and b["hosted_groups"][0]["dissolved"], \
            "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in "ab")
        own, group_a = b["hosted_groups"][0]["id"], a["hosted_groups"][0]["id"]
        assert b["group"] == group_a and sorted(a["hosted_groups"][0]["members"]) == sorted([a["node"], b["node"]])
        moves = [(m["action"], m["to"]) for m in b["migrations"]]
        assert moves == [("found", own), ("move", group_a)]
        assert b["hosted_groups"][0]["members"] == []
        assert requests.get(base["b"] + "/spore/groups", timeout=10).json()["orderedItems"] == []
        assert requests.get(own, timeout=10).status_code == 404  # the actor is gone with the group
    finally:
        for proc, log in procs:
            proc.terminate()
        for proc, log in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def test_a_full_group_rejects_followers(tmp_path):
    """A's group holds one member (A itself); B asks to join, A answers Reject, B records it and
    stays alone."""
    ports = {n: free_port() for n in "ab"}
    base = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    procs = [
        _start(tmp_path, "a", ports["a"], "--community", "metal", "--seed", "1", "--found", "--capacity", "1",
               "--threshold", "1"),
        _start(tmp_path, "b", ports["b"], "--community", "metal", "--seed", "2", "--threshold", "-1",
               "--cooldown", "0", "--peer", base["a"]),
    ]
    try:
        deadline = time.monotonic() + 150
        a = b = None
        while time.monotonic() < deadline:
            time.sleep(2)
            a, b = _status(ports["a"]), _status(ports["b"])
            if a and b and any(d.get("action") == "rejected" for d in b["decisions"]):
                break
        assert b and any(d.get("action") == "rejected" for d in b["decisions"]), \
            "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in "ab")
        group = a["hosted_groups"][0]
        assert group["members"] == [a["node"]]
        refused = [d for d in a["decisions"] if d.get("action") == "refuse_member"]
        assert refused and refused[0]["member"] == b["node"] and refused[0]["reason"] == "full"
        assert b["node"] not in _status(ports["a"])["hosted_groups"][0]["members"]  # never let in
    finally:
        for proc, log in procs:
            proc.terminate()
        for proc, log in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
