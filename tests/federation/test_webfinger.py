"""WebFinger, NodeInfo, actor documents and collections, as Mastodon reads them."""
from __future__ import annotations

import pytest

from wwm.federation import get_federation

BASE = "http://node.test"
FUNGUS = f"{BASE}/ap/actors/fungus"


@pytest.fixture
def client(make_app):
    return make_app().test_client()


@pytest.mark.parametrize("resource", ["acct:fungus@node.test", "fungus@node.test", "@fungus@node.test",
                                      "acct:fungus@NODE.TEST", "acct:Fungus@node.test", FUNGUS,
                                      f"{BASE}/ui/actors/fungus"])
def test_webfinger_answers_acct_and_urls(client, resource):
    resp = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert resp.status_code == 200, resp.json
    assert resp.headers["Content-Type"].startswith("application/jrd+json")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    doc = resp.json
    assert doc["subject"] == "acct:fungus@node.test"
    assert {"rel": "self", "type": "application/activity+json", "href": FUNGUS} in doc["links"]


@pytest.mark.parametrize("resource,status", [(None, 400), ("acct:fungus@other.host", 404),
                                             ("acct:nobody@node.test", 404), ("https://other.host/x", 404),
                                             ("acct:" + "x" * 2000, 400)])
def test_webfinger_refuses_what_is_not_ours(client, resource, status):
    query = {"resource": resource} if resource else {}
    assert client.get("/.well-known/webfinger", query_string=query).status_code == status


def test_world_sharing_a_minds_name_gets_its_own_handle(client):
    doc = client.get("/.well-known/webfinger", query_string={"resource": "acct:fungus-world@node.test"}).json
    assert doc["links"][0]["href"] == f"{BASE}/ap/actors/fungus-world"
    actor = client.get("/ap/actors/fungus-world", headers={"Accept": "application/activity+json"}).json
    assert actor["url"] == f"{BASE}/ui/actors/fungus-world"


def test_actor_document(client):
    resp = client.get("/ap/actors/fungus", headers={"Accept": "application/activity+json"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/activity+json"
    doc = resp.json
    assert doc["type"] == "Service" and doc["id"] == FUNGUS and doc["preferredUsername"] == "fungus"
    assert "https://www.w3.org/ns/activitystreams" in doc["@context"]
    assert "https://w3id.org/security/v1" in doc["@context"]
    for box in ("inbox", "outbox", "followers", "following"):
        assert doc[box] == f"{FUNGUS}/{box}"
    assert doc["endpoints"]["sharedInbox"] == f"{BASE}/ap/inbox"
    assert doc["publicKey"] == {"id": FUNGUS + "#main-key", "owner": FUNGUS,
                                "publicKeyPem": doc["publicKey"]["publicKeyPem"]}
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert doc["manuallyApprovesFollowers"] is False
    assert "songs like" in doc["summary"]


def test_node_actor_and_unknown_actor(client):
    assert client.get("/ap/actors/node").json["type"] == "Service"
    assert client.get("/ap/actors/nobody").status_code == 404


def test_browsers_are_sent_to_the_profile_page(client):
    resp = client.get("/ap/actors/fungus", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"{BASE}/ui/actors/fungus"


def test_collections(client):
    for box in ("outbox", "followers", "following"):
        doc = client.get(f"/ap/actors/fungus/{box}").json
        assert doc == {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{FUNGUS}/{box}",
                       "type": "OrderedCollection", "totalItems": 0}
        assert client.get(f"/ap/actors/fungus/{box}?page=1").json["orderedItems"] == []
    assert client.get("/ap/actors/fungus/outbox?page=x").status_code == 400
    assert client.get("/ap/actors/nobody/outbox").status_code == 404


def test_nodeinfo(client):
    links = client.get("/.well-known/nodeinfo").json
    assert links["links"][0]["href"] == f"{BASE}/nodeinfo/2.1"
    info = client.get("/nodeinfo/2.1").json
    assert info["software"]["name"] == "wwm" and info["protocols"] == ["activitypub"]
    assert info["metadata"]["minds"] == ["fungus"]


def test_federation_off_without_base_url(tmp_path):
    from flask import Flask

    from wwm.federation import init_app

    app = Flask("off")
    assert init_app(app) is None and get_federation(app) is None
    assert app.test_client().get("/.well-known/webfinger?resource=acct:x@y").status_code == 404
    assert init_app(app) is None  # idempotent
