"""Outbox posts for notable events, followers, Undo/Delete, and authorized fetch."""
from __future__ import annotations

import json
import time

import pytest

from wwm.federation import announce_milestone, announce_run_score, get_federation
from wwm.federation.actors import AS_PUBLIC
from wwm.federation.httpsig import sign_request

FUNGUS = "http://node.test/ap/actors/fungus"
NODE = "http://node.test/ap/actors/node"


def follow(remote, name, target, n=1):
    return {"id": f"{remote.actor_id(name)}/follows/{n}", "type": "Follow", "actor": remote.actor_id(name),
            "object": target}


@pytest.fixture
def followed(make_app, remote):
    """A node whose node actor and fungus are followed by bob and carol (both share one inbox)."""
    remote.add_actor("bob")
    remote.add_actor("carol")
    app = make_app()
    client, fed = app.test_client(), get_federation(app)
    for name in ("bob", "carol"):
        for target, inbox in ((NODE, "/ap/actors/node/inbox"), (FUNGUS, "/ap/actors/fungus/inbox")):
            resp = remote.signed_post(client, inbox, follow(remote, name, target, n=target[-4:]), name=name)
            assert resp.status_code == 202
    fed.run_pending()
    remote.received.clear()
    return client, fed


def test_run_score_announced_to_followers(followed, remote):
    client, fed = followed
    activity = announce_run_score(fed, world="songs", minds=["fungus"], score=0.42, steps=100, run="abc")
    fed.run_pending()
    # one delivery per server: both followers share the remote's shared inbox
    assert [r["path"] for r in remote.received] == ["/inbox"]
    sent = json.loads(remote.received[0]["body"])
    assert sent == activity
    note = sent["object"]
    assert sent["actor"] == NODE and note["to"] == [AS_PUBLIC] and note["cc"] == [NODE + "/followers"]
    assert "Run finished: fungus in the World songs scored 0.42 over 100 steps." in note["content"]
    assert {"type": "Hashtag", "href": "http://node.test/ap/tags/wwm", "name": "#wwm"} in note["tag"]
    assert {"type": "PropertyValue", "name": "score", "value": "0.42"} in note["attachment"]
    outbox = client.get("/ap/actors/node/outbox?page=1").json
    assert outbox["totalItems"] == 1 and outbox["orderedItems"][0]["id"] == activity["id"]
    assert client.get(note["id"].replace("http://node.test", "")).json["type"] == "Note"


def test_milestone_posted_by_the_mind(followed, remote):
    client, fed = followed
    activity = announce_milestone(fed, "fungus", "reached HR@10 0.20", data={"hr10": 0.2, "version": "abc123"})
    fed.run_pending()
    assert activity["actor"] == FUNGUS
    assert "fungus: reached HR@10 0.20" in activity["object"]["content"]
    assert len(remote.received) == 1
    assert client.get("/ap/actors/fungus/outbox").json["totalItems"] == 1


def test_followers_collection_and_undo(followed, remote):
    client, fed = followed
    page = client.get("/ap/actors/fungus/followers?page=1").json
    assert sorted(page["orderedItems"]) == [remote.actor_id("bob"), remote.actor_id("carol")]
    undo = {"id": f"{remote.actor_id('bob')}/undos/1", "type": "Undo", "actor": remote.actor_id("bob"),
            "object": follow(remote, "bob", FUNGUS, n=FUNGUS[-4:])}
    assert remote.signed_post(client, "/ap/actors/fungus/inbox", undo, name="bob").status_code == 202
    fed.run_pending()
    assert fed.store.followers("fungus") == [remote.actor_id("carol")]
    assert fed.store.is_follower("node", remote.actor_id("bob"))  # only that follow was undone


def test_undo_of_someone_elses_follow_ignored(followed, remote):
    client, fed = followed
    undo = {"id": f"{remote.actor_id('carol')}/undos/1", "type": "Undo", "actor": remote.actor_id("carol"),
            "object": follow(remote, "bob", FUNGUS, n=FUNGUS[-4:])}
    remote.signed_post(client, "/ap/actors/fungus/inbox", undo, name="carol")
    fed.run_pending()
    assert fed.store.is_follower("fungus", remote.actor_id("bob"))


def test_deleted_account_drops_its_follows(followed, remote):
    client, fed = followed
    delete = {"id": f"{remote.actor_id('bob')}#delete", "type": "Delete", "actor": remote.actor_id("bob"),
              "object": remote.actor_id("bob")}
    remote.signed_post(client, "/ap/inbox", delete, name="bob")
    fed.run_pending()
    assert remote.actor_id("bob") not in fed.store.followers("fungus") + fed.store.followers("node")


def test_direct_objects_are_not_served(make_app):
    app = make_app()
    fed = get_federation(app)
    from wwm.federation.outbox import post_note

    secret = post_note(fed, "fungus", "<p>secret</p>", visibility="direct")
    assert app.test_client().get(secret["object"]["id"].replace("http://node.test", "")).status_code == 404


def test_authorized_fetch(make_app, remote):
    remote.add_actor("bob")
    client = make_app(FEDERATION_AUTHORIZED_FETCH=True).test_client()
    assert client.get("/ap/actors/fungus/outbox").status_code == 401
    assert client.get("/ap/actors/fungus").status_code == 200  # actors stay public: keys must be fetchable
    headers = sign_request("GET", "http://node.test/ap/actors/fungus/outbox", key_id=remote.key_id("bob"),
                           private_key=remote.keys["bob"])
    headers.pop("Host")
    assert client.get("/ap/actors/fungus/outbox", headers=headers, base_url="http://node.test").status_code == 200
    stale = sign_request("GET", "http://node.test/ap/actors/fungus/outbox", key_id=remote.key_id("bob"),
                         private_key=remote.keys["bob"], now=time.time() - 7200)
    stale.pop("Host")
    assert client.get("/ap/actors/fungus/outbox", headers=stale, base_url="http://node.test").status_code == 401
    other_host = sign_request("GET", "http://elsewhere.test/ap/actors/fungus/outbox", key_id=remote.key_id("bob"),
                              private_key=remote.keys["bob"])
    other_host.pop("Host")
    assert client.get("/ap/actors/fungus/outbox", headers=other_host, base_url="http://node.test").status_code == 401


def test_finished_gateway_runs_are_announced_once(make_app, tmp_path):
    from wwm.federation.outbox import announce_finished_runs
    from wwm.gateway.scoreboard import Scoreboard

    app = make_app(FEDERATION_ANNOUNCE_RATE=2)
    fed = get_federation(app)
    (tmp_path / "runs").mkdir(exist_ok=True)
    board = Scoreboard(str(tmp_path / "runs" / "scores.sqlite"))
    now = time.time()
    base = {"kind": "world", "world": "worlds/fungus", "minds": "http://x.example/wwm/minds/fungus", "steps": 100,
            "start": now - 10, "end": now, "source": "gateway", "server": "worlds/fungus"}
    board.record(dict(base, run="r1", score="0.5\nhits: 3", outcome="done"))
    board.record(dict(base, run="r2", score="0.1", outcome="crashed"))   # not a result to boast of
    board.record(dict(base, run="r3", score="0.2", outcome="ended", steps=3))  # too short
    board.record(dict(base, run="r4", score="0.9", outcome="ended", end=now - 3600))  # before the node started
    board.record(dict(base, run="r5", score="0.7", outcome="running", end=None))
    posted = announce_finished_runs(fed, since=now - 60)
    assert len(posted) == 1
    note = posted[0]["object"]
    assert posted[0]["actor"] == "http://node.test/ap/actors/fungus-world"  # the World hosted here posts
    assert "minds/fungus in the World worlds/fungus scored 0.5 over 100 steps" in note["content"]
    assert announce_finished_runs(fed, since=now - 60) == []  # once only
    for n in range(3):
        board.record(dict(base, run=f"more{n}", score="0.3", outcome="done"))
    assert len(announce_finished_runs(fed, since=now - 60)) == 1  # budget: 2 an hour


def test_a_changed_or_removed_server_is_announced_to_its_followers(make_app, remote, test_root, tmp_path):
    """A server folder changed under ROOT: an Update with the actor's new document; removed: a Delete."""
    import json as json_
    import shutil

    from wwm.federation.blueprint import get_federation

    root = tmp_path / "own-root"  # this test changes and removes a server: its own copy of the ROOT
    shutil.copytree(test_root, root)
    test_root = root
    app = make_app(ROOT=str(root))
    fed = get_federation(app)
    name = fed.actors.by_server("minds/fungus").name
    remote.add_actor("bob")
    fed.store.add_follower(name, remote.actor_id("bob"), None, remote.actor_id("bob") + "/inbox", None, fed.clock())
    manifest = test_root / "minds" / "fungus" / "wwm.toml"
    manifest.write_text(manifest.read_text().replace("description = ", 'description = "Changed. " + ', 1)
                        if 'description = "' not in manifest.read_text()
                        else manifest.read_text().replace('description = "', 'description = "Changed. ', 1))
    update = fed.server_changed("minds/fungus", "update")
    assert update["type"] == "Update" and update["object"]["id"] == fed.actors.id(name)
    assert "Changed." in json_.dumps(update["object"])
    shutil.rmtree(test_root / "minds" / "fungus")
    delete = fed.server_changed("minds/fungus", "delete")
    assert delete["type"] == "Delete" and delete["object"] == fed.actors.id(name)
    fed.run_pending()
    got = [json_.loads(r["body"]) for r in remote.received]
    assert [a["type"] for a in got] == ["Update", "Delete"]
    assert fed.server_changed("minds/nothing-here", "update") is None
