"""A running `wwm node` and its knowledge graph, end to end, with no restart:

- a server folder added, changed and removed under ROOT/minds updates the server list and
  Describe, the graph (through /sparql), and the actor's follower (an ``Update`` with the new
  actor document, then a ``Delete``);
- a mention is answered through the graph: the node's graph (a real `oxigraph serve`) holds a
  catalog without metal, so "any metal?" gets the honest note and rock songs, although the
  catalog in memory has metal.

The follower and the asker are the fake remote of fedkit.py (real HTTP on 127.0.0.1).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fedkit import MIND_TOML, free_port, wait_port
from wwm.federation.actors import AS_PUBLIC
from wwm.federation.httpsig import sign_request

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "knowledge"))
from kgkit import OxigraphServer, oxigraph_or_skip  # noqa: E402

WAIT = 90.0  # generous: a loaded machine, a Mind to start


def start_node(root, tmp_path, port, **env):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    env = {k: v for k, v in env.items() if v is not None}  # None: left unset, as a user's shell would
    log = open(tmp_path / "node.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "wwm", "node", "--root", str(root), "--base-url",
                             f"http://127.0.0.1:{port}", "--port", str(port), "--state-dir", str(tmp_path / "state"),
                             "--allow-private-fetch", "--stop-after", "300"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    wait_port(port, 60, proc)
    return proc


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def until(what: str, check, timeout: float = WAIT, log: Path | None = None):
    """``check()``'s first true value, polled; fails after ``timeout`` seconds saying what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    pytest.fail(f"waited {timeout:g} s for {what}\n{tail}")


def post_signed(remote, name: str, url: str, activity: dict) -> requests.Response:
    raw = json.dumps(activity).encode()
    headers = sign_request("POST", url, key_id=remote.key_id(name), private_key=remote.keys[name], body=raw,
                           headers={"Content-Type": "application/activity+json"})
    headers.pop("Host", None)
    return requests.post(url, data=raw, headers=headers, timeout=30)


def received(remote, kind: str) -> list[dict]:
    out = []
    for r in list(remote.received):
        try:
            doc = json.loads(r["body"])
        except ValueError:
            continue
        if doc.get("type") == kind:
            out.append(doc)
    return out


def sparql(base: str, query: str) -> dict:
    resp = requests.get(f"{base}/sparql", params={"query": query}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_server_folder_added_changed_and_removed_on_a_running_node(tmp_path, remote):
    root = tmp_path / "root"
    (root / "minds" / "fungus").mkdir(parents=True)
    (root / "minds" / "fungus" / "wwm.toml").write_text(MIND_TOML)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fungus = f"{base}/ap/actors/fungus"
    remote.add_actor("alice")
    proc = start_node(root, tmp_path, port)
    log = tmp_path / "node.log"
    try:
        follow = {"@context": "https://www.w3.org/ns/activitystreams", "id": remote.actor_id("alice") + "/follows/1",
                  "type": "Follow", "actor": remote.actor_id("alice"), "object": fungus}
        assert post_signed(remote, "alice", f"{base}/ap/actors/fungus/inbox", follow).status_code == 202
        until("the Accept of alice's Follow", lambda: received(remote, "Accept"), log=log)

        def listed():
            return {s["id"]: s for s in requests.get(f"{base}/wwm/", params={"format": "json"},
                                                     timeout=30).json()["servers"]}

        def in_graph(server_id):
            return sparql(base, "ASK { ?s <https://w3id.org/wwm/ns#path> %s }" % json.dumps(server_id))["boolean"]

        def described(server_id):
            return requests.get(f"{base}/wwm/{server_id}", params={"query": "Describe", "format": "json"},
                                timeout=30)

        assert "minds/fungus" in listed() and in_graph("minds/fungus") and not in_graph("minds/extra")

        # added
        (root / "minds" / "extra").mkdir()
        (root / "minds" / "extra" / "wwm.toml").write_text(MIND_TOML.replace('name = "fungus"', 'name = "extra"'))
        until("minds/extra in the graph", lambda: in_graph("minds/extra"), log=log)
        assert "minds/extra" in listed() and described("minds/extra").status_code == 200

        # changed
        (root / "minds" / "fungus" / "wwm.toml").write_text(
            MIND_TOML.replace("A test stand-in for the fungus Mind.", "Now changed, live."))
        query = ("SELECT ?d WHERE { ?s <https://w3id.org/wwm/ns#path> \"minds/fungus\" ; "
                 "<https://schema.org/description> ?d }")
        until("the new description in the graph",
              lambda: [b["d"]["value"] for b in sparql(base, query)["results"]["bindings"]] == ["Now changed, live."],
              log=log)
        assert "Now changed, live." in described("minds/fungus").text
        assert listed()["minds/fungus"]["description"] == "Now changed, live."
        update = until("an Update to alice", lambda: received(remote, "Update"), log=log)[0]
        assert update["actor"] == fungus and update["object"]["id"] == fungus
        assert "Now changed, live." in update["object"]["summary"]
        assert update["object"]["publicKey"]["owner"] == fungus

        # removed
        shutil.rmtree(root / "minds" / "fungus")
        until("minds/fungus gone from the graph", lambda: not in_graph("minds/fungus"), log=log)
        delete = until("a Delete to alice", lambda: received(remote, "Delete"), log=log)[0]
        assert delete["actor"] == fungus and delete["object"] == fungus
        assert "minds/fungus" not in listed() and described("minds/fungus").status_code == 404
        assert "minds/extra" in listed() and in_graph("minds/extra")
        inbox_posts = [r for r in remote.received if r["path"] == "/users/alice/inbox"]
        assert all("signature" in r["headers"] for r in inbox_posts)  # delivered signed, like any activity
        assert proc.poll() is None  # the same process all along
    finally:
        stop(proc)


def test_a_mention_is_answered_through_the_graph(tmp_path, remote):
    from wwm.knowledge import writers
    from wwm.knowledge.store import RemoteStore
    from wwm.songs.catalog import Catalog, load_catalog

    oxigraph_or_skip()
    server = OxigraphServer(str(tmp_path / "oxigraph"))
    server.start()
    try:
        catalog = load_catalog()
        without_metal = Catalog([r for r in catalog._releases if "metal" not in r["genres"]], source="test")
        store = RemoteStore(server.url, queue=str(tmp_path / "queue.sqlite"))
        writers.record_catalog(store, without_metal)
        store.close()

        root = tmp_path / "root"
        shutil.copytree(REPO / "minds" / "popularity", root / "minds" / "popularity",
                        ignore=shutil.ignore_patterns("var", "__pycache__"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        mind = f"{base}/ap/actors/popularity"
        remote.add_actor("bob")
        proc = start_node(root, tmp_path, port, WWM_KNOWLEDGE=server.url,
                          WWM_KNOWLEDGE_QUEUE=str(tmp_path / "node-queue.sqlite"), WWM_ALLOW_ROOT="1")
        log = tmp_path / "node.log"
        try:
            actor = remote.actor_id("bob")
            note = {"id": f"{actor}/notes/1", "type": "Note", "attributedTo": actor,
                    "content": f'<p><a href="{mind}" class="u-url mention">@popularity</a> any metal?</p>',
                    "to": [mind], "cc": [AS_PUBLIC], "tag": [{"type": "Mention", "href": mind}]}
            create = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}/creates/1",
                      "type": "Create", "actor": actor, "to": note["to"], "cc": note["cc"], "object": note}
            assert post_signed(remote, "bob", f"{base}/ap/actors/popularity/inbox", create).status_code == 202
            answer = until("the reply to bob", lambda: received(remote, "Create"), timeout=150, log=log)[0]
        finally:
            stop(proc)
    finally:
        server.stop()
    text = html.unescape(re.sub(r"<[^>]+>", "\n", answer["object"]["content"]))
    assert answer["object"]["inReplyTo"] == note["id"]
    assert "The catalog has no metal (its genres: country, deep-house, dubstep, hip-hop, rock); nearest: rock" in text
    labels = {t.label: t for t in catalog.tracks}
    picked = [labels[m] for m in re.findall(r"^\d+\. (.+)$", text, re.M) if m in labels]
    assert len(picked) >= 5, text
    assert all("rock" in t.genres for t in picked), [(t.label, t.genres) for t in picked]  # the Mind read the graph too


def test_a_node_writes_the_catalog_into_its_graph_by_default(tmp_path):
    """With nothing configured (the suite's WWM_KNOWLEDGE_SONGS=0 taken away) a node writes the song
    catalog into its fresh embedded graph at start, so its song requests are read there."""
    from wwm.songs.catalog import load_catalog

    root = tmp_path / "root"
    (root / "minds").mkdir(parents=True)
    port = free_port()
    proc = start_node(root, tmp_path, port, WWM_KNOWLEDGE=str(tmp_path / "kg"), WWM_KNOWLEDGE_SONGS=None)
    query = ("PREFIX schema: <https://schema.org/> "
             "SELECT (COUNT(?s) AS ?n) WHERE { ?s a schema:MusicRecording }")
    try:
        r = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": query},
                         headers={"Accept": "application/sparql-results+json"}, timeout=60)
    finally:
        stop(proc)
    assert r.status_code == 200, r.text
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == len(load_catalog()) == 4508
