"""Every attack on the inbox is refused, and refused requests change nothing.

"Nothing changed" is checked after running the worker: no follower, no queued inbox job,
no delivery.
"""
from __future__ import annotations

import base64
import json
import socket
import time

import pytest

from wwm.federation import get_federation
from wwm.federation.httpsig import KeyInfo, sign_request, verify_request
from wwm.federation.keys import public_pem

INBOX = "/ap/actors/fungus/inbox"
FUNGUS = "http://node.test/ap/actors/fungus"


def follow(remote, name="bob", target=FUNGUS, n=1):
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.actor_id(name)}/follows/{n}",
            "type": "Follow", "actor": remote.actor_id(name), "object": target}


def assert_untouched(fed):
    fed.run_pending()
    assert fed.store.count_followers() == 0
    assert fed.store.count_inbox() == 0
    assert fed.store.deliveries() == []


@pytest.fixture
def node(make_app, remote):
    remote.add_actor("bob")
    remote.add_actor("carol")
    app = make_app()
    return app, app.test_client(), get_federation(app)


def test_valid_follow_is_accepted_with_a_signed_accept(node, remote):
    app, client, fed = node
    resp = remote.signed_post(client, INBOX, follow(remote), name="bob")
    assert resp.status_code == 202, resp.json
    assert fed.store.count_inbox() == 1  # queued: the work happens after the answer
    fed.run_pending()
    assert fed.store.followers("fungus") == [remote.actor_id("bob")]
    [got] = remote.received
    assert got["path"] == "/users/bob/inbox"
    accept = json.loads(got["body"])
    assert accept["type"] == "Accept" and accept["actor"] == FUNGUS
    assert accept["object"]["id"] == follow(remote)["id"]
    # the Accept is signed by fungus's key: check it with the verifier and the node's public key
    key = fed.keys.private_key("fungus")
    info = KeyInfo(fed.actors.key_id("fungus"), FUNGUS, public_pem(key), key.public_key())
    verified = verify_request("POST", "/users/bob/inbox", lambda n: got["headers"].get(n), got["body"],
                              resolve_key=lambda key_id, refresh: info, now=time.time(), scheme="http")
    assert verified.signature.key_id == "http://node.test/ap/actors/fungus#main-key"
    assert set(verified.signature.headers) >= {"@method", "@target-uri", "content-digest"}  # RFC 9421 first


def test_accept_falls_back_to_draft_cavage(node, remote):
    app, client, fed = node
    remote.status_for = lambda headers: 401 if "signature-input" in headers else None  # no RFC 9421 here
    assert remote.signed_post(client, INBOX, follow(remote), name="bob").status_code == 202
    fed.run_pending()
    got = remote.received[-1]
    key = fed.keys.private_key("fungus")
    info = KeyInfo(fed.actors.key_id("fungus"), FUNGUS, public_pem(key), key.public_key())
    verified = verify_request("POST", "/users/bob/inbox", lambda n: got["headers"].get(n), got["body"],
                              resolve_key=lambda key_id, refresh: info, now=time.time())
    assert set(verified.signature.headers) >= {"(request-target)", "host", "date", "digest"}
    assert [d["status"] for d in fed.store.deliveries()] == ["done"]


def test_hs2019_signatures_accepted(node, remote):
    app, client, fed = node
    resp = remote.signed_post(client, INBOX, follow(remote), name="bob", algorithm="hs2019")
    assert resp.status_code == 202, resp.json


def test_shared_inbox_routes_by_object(node, remote):
    app, client, fed = node
    assert remote.signed_post(client, "/ap/inbox", follow(remote), name="bob").status_code == 202
    fed.run_pending()
    assert fed.store.followers("fungus") == [remote.actor_id("bob")]


def test_forged_signature_refused(node, remote):
    app, client, fed = node
    # signed with carol's key, but claiming bob's keyId
    resp = remote.signed_post(client, INBOX, follow(remote), name="bob", key=remote.keys["carol"])
    assert resp.status_code == 401
    assert_untouched(fed)


def test_wrong_key_owner_refused(node, remote):
    app, client, fed = node
    # carol signs correctly with her own key, but the activity says it is bob's
    resp = remote.signed_post(client, INBOX, follow(remote, "bob"), name="carol")
    assert resp.status_code == 401
    assert "owner" in resp.json["error"]
    assert_untouched(fed)


def test_key_not_claimed_by_its_owner_refused(node, remote):
    app, client, fed = node
    # mallory's document lists bob's key id as its own: bob's actor does not list mallory's key
    remote.add_actor("mallory")
    remote.docs["/users/mallory"]["publicKey"]["owner"] = remote.actor_id("bob")
    resp = remote.signed_post(client, INBOX, follow(remote, "bob"), name="mallory")
    assert resp.status_code == 401
    assert_untouched(fed)


def test_replayed_request_refused(node, remote):
    app, client, fed = node
    body = json.dumps(follow(remote)).encode()
    headers = sign_request("POST", "http://node.test" + INBOX, key_id=remote.key_id("bob"),
                           private_key=remote.keys["bob"], body=body)
    headers.pop("Host")
    assert client.post(INBOX, data=body, headers=headers, base_url="http://node.test").status_code == 202
    fed.run_pending()
    assert len(remote.received) == 1
    replay = client.post(INBOX, data=body, headers=headers, base_url="http://node.test")
    assert replay.status_code == 401 and "replay" in replay.json["error"]
    assert fed.store.count_inbox() == 0
    fed.run_pending()
    assert len(remote.received) == 1 and fed.store.count_followers() == 1


def test_expired_date_refused(node, remote):
    app, client, fed = node
    resp = remote.signed_post(client, INBOX, follow(remote), name="bob", now=time.time() - 2 * 3600)
    assert resp.status_code == 401 and "Date" in resp.json["error"]
    assert_untouched(fed)
    assert remote.hits == []  # refused before any key was fetched


def test_digest_mismatch_refused(node, remote):
    app, client, fed = node
    # a valid signature over one body, sent with another
    body = json.dumps(follow(remote)).encode()
    headers = sign_request("POST", "http://node.test" + INBOX, key_id=remote.key_id("bob"),
                           private_key=remote.keys["bob"], body=body)
    headers.pop("Host")
    resp = client.post(INBOX, data=json.dumps(follow(remote, n=2)).encode(), headers=headers,
                       base_url="http://node.test")
    assert resp.status_code == 401 and "Digest" in resp.json["error"]
    assert_untouched(fed)
    assert remote.hits == []


def test_unsigned_refused(node, remote):
    app, client, fed = node
    resp = client.post(INBOX, data=json.dumps(follow(remote)), content_type="application/activity+json")
    assert resp.status_code == 401
    assert_untouched(fed)


def test_forged_rfc9421_signature_answered_401(node, remote):
    app, client, fed = node

    def to_rfc9421(headers):
        headers["Signature-Input"] = ('sig1=("@method" "@target-uri" "content-digest");created=%d;'
                                      'keyid="%s";alg="rsa-v1_5-sha256"' % (time.time(), remote.key_id("bob")))
        headers["Signature"] = "sig1=:" + base64.b64encode(b"\x01" * 256).decode() + ":"
        from http_message_signatures import ContentDigest
        headers["Content-Digest"] = ContentDigest.create(json.dumps(follow(remote)).encode())

    resp = remote.signed_post(client, INBOX, follow(remote), name="bob", tamper=to_rfc9421)
    assert resp.status_code == 401
    assert "does not verify" in resp.json["error"]
    assert_untouched(fed)


def _rfc9421_post(client, remote, activity, *, name="bob", path=INBOX, body=None, **kw):
    from wwm.federation import rfc9421

    raw = body if body is not None else json.dumps(activity).encode()
    headers = rfc9421.sign("POST", f"http://node.test{path}", key_id=remote.key_id(name),
                           private_key=remote.keys[name], body=json.dumps(activity).encode(),
                           headers={"Content-Type": "application/activity+json"}, **kw)
    return client.post(path, data=raw, headers=headers, base_url="http://node.test")


def test_rfc9421_signature_verified(node, remote):
    app, client, fed = node
    resp = _rfc9421_post(client, remote, follow(remote))
    assert resp.status_code == 202, resp.json
    fed.run_pending()
    assert fed.store.followers("fungus") == [remote.actor_id("bob")]


def test_rfc9421_tampered_body_stale_or_wrong_owner_refused(node, remote):
    app, client, fed = node
    tampered = dict(follow(remote), id=remote.actor_id("bob") + "/follows/evil")
    assert _rfc9421_post(client, remote, follow(remote), body=json.dumps(tampered).encode()).status_code == 401
    assert _rfc9421_post(client, remote, follow(remote), now=time.time() - 7200).status_code == 401
    assert _rfc9421_post(client, remote, follow(remote, "bob"), name="carol").status_code == 401
    assert_untouched(fed)


def test_oversized_body_refused(node, remote):
    app, client, fed = node
    big = follow(remote)
    big["padding"] = "x" * (300 * 1024)
    resp = remote.signed_post(client, INBOX, big, name="bob")
    assert resp.status_code == 413
    assert_untouched(fed)
    assert remote.hits == []


def test_flood_from_one_sender_limited_while_another_gets_through(make_app, remote):
    remote.add_actor("bob")
    remote.add_actor("carol")
    app = make_app(FEDERATION_RATE=0.01, FEDERATION_BURST=5)
    client, fed = app.test_client(), get_federation(app)
    codes = [remote.signed_post(client, INBOX, follow(remote, "bob", n=i), name="bob").status_code
             for i in range(20)]
    assert codes[:5] == [202] * 5
    assert set(codes[5:]) == {429}
    limited = remote.signed_post(client, INBOX, follow(remote, "bob", n=99), name="bob")
    assert limited.headers["Retry-After"].isdigit()
    key_fetches = remote.hits.count("/users/bob")
    assert key_fetches == 1  # the limited requests cost no signature work at all
    assert remote.signed_post(client, INBOX, follow(remote, "carol"), name="carol").status_code == 202
    assert fed.store.count_inbox() == 6


def test_ssrf_key_on_private_address_refused(make_app, remote, monkeypatch):
    remote.add_actor("bob")
    app = make_app(ALLOW_PRIVATE_FETCH=False, FEDERATION_ALLOW_HTTP=True)
    client, fed = app.test_client(), get_federation(app)
    real_connect = socket.socket.connect
    attempts = []

    def connect(self, address):
        attempts.append(address)
        raise AssertionError(f"connection to {address} attempted")

    monkeypatch.setattr(socket.socket, "connect", connect)
    try:
        for host in ("10.0.0.1", "169.254.169.254", f"127.0.0.1:{remote.port}"):
            activity = {"id": f"http://{host}/users/x/follows/1", "type": "Follow",
                        "actor": f"http://{host}/users/x", "object": FUNGUS}
            resp = remote.signed_post(client, INBOX, activity, name="bob",
                                      key_id=f"http://{host}/users/x#main-key")
            assert resp.status_code == 401, (host, resp.json)
    finally:
        monkeypatch.setattr(socket.socket, "connect", real_connect)
    assert attempts == [] and remote.hits == []
    assert_untouched(fed)


def test_activity_from_another_origin_refused(node, remote):
    app, client, fed = node
    activity = follow(remote)
    activity["id"] = "https://elsewhere.example/follows/1"
    resp = remote.signed_post(client, INBOX, activity, name="bob")
    assert resp.status_code == 400
    assert_untouched(fed)


def test_unknown_actor_and_methods(node, remote):
    app, client, fed = node
    assert remote.signed_post(client, "/ap/actors/nobody/inbox", follow(remote), name="bob").status_code == 404
    assert client.get(INBOX).status_code == 405
    assert_untouched(fed)


def test_duplicate_activity_acknowledged_once(node, remote):
    app, client, fed = node
    assert remote.signed_post(client, INBOX, follow(remote), name="bob").status_code == 202
    # the same activity again, under a new signature (a sender's retry)
    again = remote.signed_post(client, INBOX, follow(remote), name="bob", now=time.time() + 2)
    assert again.status_code == 202 and again.json["status"] == "already received"
    assert fed.store.count_inbox() == 1


def test_key_refetched_once_with_a_rate_limit(make_app, remote):
    """Forgeries cost at most one key fetch per interval; a rotated key is picked up by one refetch."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from fedkit import ManualClock

    clock = ManualClock()
    remote.add_actor("bob")
    app = make_app(FEDERATION_KEY_REFETCH=60)
    client, fed = app.test_client(), get_federation(app)
    fed.clock = fed.remote.clock = clock
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(5):
        resp = remote.signed_post(client, INBOX, follow(remote, n=n), name="bob", key=forger, now=clock() + n)
        assert resp.status_code == 401
    assert remote.hits.count("/users/bob") == 1  # first fetch; the refetches were rate-limited
    assert_untouched(fed)

    clock.advance(120)
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    remote.add_actor("bob", key=rotated)  # bob rotates his key
    resp = remote.signed_post(client, INBOX, follow(remote, n=10), name="bob", key=rotated, now=clock())
    assert resp.status_code == 202
    assert remote.hits.count("/users/bob") == 2  # the cached key failed, one refetch found the new one
