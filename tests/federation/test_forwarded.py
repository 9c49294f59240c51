"""Activities relayed by a third server (replies in threads): taken from their origin, never on trust."""
from __future__ import annotations

import json

import pytest

from fedkit import FakeRemote
from test_mentions import FUNGUS, INBOX, SONGS, Recorder, deliveries, mention
from wwm.federation import get_federation


@pytest.fixture
def origin_server():
    server = FakeRemote()
    yield server
    server.close()


@pytest.fixture
def setup(make_app, remote, origin_server):
    remote.add_actor("bob")            # bob's server relays
    origin_server.add_actor("dave")    # dave wrote the note, on his own server
    ask = Recorder(SONGS)
    app = make_app(FEDERATION_ASK_MIND=ask)
    return app.test_client(), get_federation(app), ask


def test_forwarded_note_is_fetched_from_its_origin(setup, remote, origin_server):
    client, fed, ask = setup
    create = mention(origin_server, "songs like Enter Sandman", name="dave")
    origin_server.docs["/users/dave/notes/1"] = create["object"]
    relayed = json.loads(json.dumps(create))
    relayed["object"]["content"] = "<p>songs like something the relay made up</p>"  # ignored: origin wins
    resp = remote.signed_post(client, INBOX, relayed, name="bob")  # signed by bob, not by dave
    assert resp.status_code == 202, resp.json
    fed.run_pending()
    assert "/users/dave/notes/1" in origin_server.hits
    assert [a.text for a in ask.calls] == ["songs like Enter Sandman"]
    [reply] = deliveries(origin_server)
    assert reply["object"]["tag"][0]["href"] == origin_server.actor_id("dave")


def test_forwarded_note_missing_at_its_origin_is_dropped(setup, remote, origin_server):
    client, fed, ask = setup
    forged = mention(origin_server, "songs like Enter Sandman", name="dave", n=7)  # dave never wrote it
    assert remote.signed_post(client, INBOX, forged, name="bob").status_code == 202
    fed.run_pending()
    assert ask.calls == [] and deliveries(origin_server) == [] and deliveries(remote) == []


def test_origin_note_by_someone_else_is_dropped(setup, remote, origin_server):
    client, fed, ask = setup
    origin_server.add_actor("erin")
    create = mention(origin_server, "songs like Enter Sandman", name="dave")
    origin_server.docs["/users/dave/notes/1"] = dict(create["object"], attributedTo=origin_server.actor_id("erin"))
    assert remote.signed_post(client, INBOX, create, name="bob").status_code == 202
    fed.run_pending()
    assert ask.calls == []


def test_only_creates_may_be_relayed(setup, remote, origin_server):
    client, fed, ask = setup
    follow = {"id": origin_server.actor_id("dave") + "/follows/1", "type": "Follow",
              "actor": origin_server.actor_id("dave"), "object": FUNGUS}
    resp = remote.signed_post(client, INBOX, follow, name="bob")
    assert resp.status_code == 401
    fed.run_pending()
    assert fed.store.followers("fungus") == []
