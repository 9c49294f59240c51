"""Mentions -> the Mind -> a reply; likes and replies -> reward.  The Mind call is replaced here;
test_interop_fedify.py runs the real one."""
from __future__ import annotations

import json
import time

import pytest

from wwm.federation import get_federation
from wwm.federation.actors import AS_PUBLIC
from wwm.federation.mentions import Answer, feedback_value, is_song_request, note_text, with_reward

FUNGUS = "http://node.test/ap/actors/fungus"
INBOX = "/ap/actors/fungus/inbox"


def mention(remote, text, *, name="bob", n=1, in_reply_to=None, public=True, target=FUNGUS, handle="fungus"):
    actor = remote.actor_id(name)
    note = {"id": f"{actor}/notes/{n}", "type": "Note", "attributedTo": actor,
            "content": f'<p><span class="h-card"><a href="{target}" class="u-url mention">@<span>{handle}'
                       f'</span></a></span> {text}</p>',
            "to": [target], "cc": [AS_PUBLIC] if public else [], "inReplyTo": in_reply_to,
            "tag": [{"type": "Mention", "href": target, "name": f"@{handle}@node.test"}]}
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}/creates/{n}", "type": "Create",
            "actor": actor, "to": note["to"], "cc": note["cc"], "object": note}


class Recorder:
    def __init__(self, answer=None, fail=False):
        self.calls = []
        self.answer = answer
        self.fail = fail

    def __call__(self, ask):
        self.calls.append(ask)
        if self.fail:
            raise RuntimeError("the Mind crashed")
        return self.answer


SONGS = Answer("Songs like Enter Sandman — Metallica",
               ["Wherever I May Roam — Metallica", "Fade To Black — Metallica", "<b>Evil</b> & Co — X"],
               ["t1", "t2", "t3"])


@pytest.fixture
def setup(make_app, remote):
    remote.add_actor("bob")
    ask = Recorder(SONGS)
    app = make_app(FEDERATION_ASK_MIND=ask)
    return app.test_client(), get_federation(app), ask


def deliveries(remote):
    return [json.loads(r["body"]) for r in remote.received]


def test_mention_becomes_a_reply(setup, remote):
    client, fed, ask = setup
    assert remote.signed_post(client, INBOX, mention(remote, "songs like Enter Sandman"), name="bob").status_code == 202
    assert ask.calls == []  # nothing happens before the worker runs
    fed.run_pending()
    [call] = ask.calls
    assert call.text == "songs like Enter Sandman"
    assert call.mind == "fungus" and call.server == "minds/fungus"
    assert call.sender == remote.actor_id("bob") and call.sender_handle == f"@bob@127.0.0.1:{remote.port}"
    assert call.reward is None
    [create] = deliveries(remote)
    note = create["object"]
    assert create["type"] == "Create" and create["actor"] == FUNGUS and note["attributedTo"] == FUNGUS
    assert note["inReplyTo"] == f"{remote.actor_id('bob')}/notes/1"
    assert note["to"] == [remote.actor_id("bob")] and AS_PUBLIC in note["cc"]  # unlisted, like the request
    assert {"type": "Mention", "href": remote.actor_id("bob"), "name": f"@bob@127.0.0.1:{remote.port}"} in note["tag"]
    content = note["content"]
    assert "1. Wherever I May Roam — Metallica<br>2. Fade To Black — Metallica" in content
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in content  # text from the Mind is escaped
    assert f'href="{remote.actor_id("bob")}" class="u-url mention"' in content
    # the reply is public enough to be fetched by id and listed in the outbox
    assert client.get(note["id"].replace("http://node.test", "")).json["content"] == content
    assert client.get("/ap/actors/fungus/outbox").json["totalItems"] == 1


def test_direct_message_gets_a_direct_reply(setup, remote):
    client, fed, ask = setup
    remote.signed_post(client, INBOX, mention(remote, "recommend me something like Nirvana", public=False), name="bob")
    fed.run_pending()
    [create] = deliveries(remote)
    assert create["object"]["cc"] == [] and create["object"]["to"] == [remote.actor_id("bob")]
    assert client.get("/ap/actors/fungus/outbox").json["totalItems"] == 0


def test_likes_and_replies_feed_back_as_reward(setup, remote):
    client, fed, ask = setup
    remote.signed_post(client, INBOX, mention(remote, "songs like Enter Sandman"), name="bob")
    fed.run_pending()
    reply_id = deliveries(remote)[0]["object"]["id"]
    like = {"id": f"{remote.actor_id('bob')}/likes/1", "type": "Like", "actor": remote.actor_id("bob"),
            "object": reply_id}
    assert remote.signed_post(client, INBOX, like, name="bob").status_code == 202
    thanks = mention(remote, "thanks, love these!", n=2, in_reply_to=reply_id)
    assert remote.signed_post(client, INBOX, thanks, name="bob", now=time.time() + 1).status_code == 202
    fed.run_pending()
    assert sorted(fed.store.feedback(reply_id)) == [(remote.actor_id("bob"), "like", 1.0),
                                                   (remote.actor_id("bob"), "reply", 1.0)]
    assert len(ask.calls) == 1  # "thanks" is feedback, not a new request
    again = mention(remote, "more like Nothing Else Matters please", n=3, in_reply_to=reply_id)
    remote.signed_post(client, INBOX, again, name="bob", now=time.time() + 2)
    fed.run_pending()
    assert len(ask.calls) == 2
    assert ask.calls[1].reward == 1.0  # like + thanks, clamped to [-1, 1]
    remote.signed_post(client, INBOX, mention(remote, "songs like Creep", n=4), name="bob", now=time.time() + 3)
    fed.run_pending()
    assert ask.calls[2].reward == 0.0  # the second reply got no feedback


def test_undo_like_removes_the_reward(setup, remote):
    client, fed, ask = setup
    remote.signed_post(client, INBOX, mention(remote, "songs like Enter Sandman"), name="bob")
    fed.run_pending()
    reply_id = deliveries(remote)[0]["object"]["id"]
    like = {"id": f"{remote.actor_id('bob')}/likes/1", "type": "Like", "actor": remote.actor_id("bob"),
            "object": reply_id}
    remote.signed_post(client, INBOX, like, name="bob")
    undo = {"id": f"{remote.actor_id('bob')}/undos/1", "type": "Undo", "actor": remote.actor_id("bob"), "object": like}
    remote.signed_post(client, INBOX, undo, name="bob", now=time.time() + 1)
    fed.run_pending()
    assert fed.store.feedback(reply_id) == []


def test_bots_get_no_answer(make_app, remote):
    remote.add_actor("otherbot", kind="Service")
    ask = Recorder(SONGS)
    app = make_app(FEDERATION_ASK_MIND=ask)
    fed = get_federation(app)
    remote.signed_post(app.test_client(), INBOX, mention(remote, "songs like X", name="otherbot"), name="otherbot")
    fed.run_pending()
    assert ask.calls == [] and remote.received == []


def test_no_song_request_gets_a_hint(setup, remote):
    client, fed, ask = setup
    ask.answer = None  # the Mind's side says: this is not a song request
    remote.signed_post(client, INBOX, mention(remote, "hello there"), name="bob")
    fed.run_pending()
    [create] = deliveries(remote)
    assert "Ask me for songs" in create["object"]["content"] and "@fungus@node.test" in create["object"]["content"]
    assert fed.store.reply(create["object"]["id"]) is None  # nothing to learn from a hint


def test_failing_mind_gets_an_apology_not_silence(make_app, remote):
    remote.add_actor("bob")
    app = make_app(FEDERATION_ASK_MIND=Recorder(fail=True))
    fed = get_federation(app)
    remote.signed_post(app.test_client(), INBOX, mention(remote, "songs like X"), name="bob")
    fed.run_pending()
    [create] = deliveries(remote)
    assert "could not answer" in create["object"]["content"]


def test_mentioning_the_node_lists_its_minds(setup, remote):
    client, fed, ask = setup
    node = "http://node.test/ap/actors/node"
    remote.signed_post(client, "/ap/inbox", mention(remote, "songs?", target=node, handle="node"), name="bob")
    fed.run_pending()
    [create] = deliveries(remote)
    assert create["actor"] == node and "@fungus@node.test" in create["object"]["content"]
    assert ask.calls == []


def test_answer_budget_per_sender(make_app, remote):
    remote.add_actor("bob")
    ask = Recorder(SONGS)
    app = make_app(FEDERATION_ASK_MIND=ask, FEDERATION_REPLY_RATE=2)
    fed, client = get_federation(app), app.test_client()
    for n in range(4):
        remote.signed_post(client, INBOX, mention(remote, f"songs like {n}", n=n), name="bob", now=time.time() + n)
    fed.run_pending()
    assert len(ask.calls) == 2


def test_spoofed_note_author_ignored(setup, remote):
    client, fed, ask = setup
    remote.add_actor("carol")
    activity = mention(remote, "songs like X")
    activity["object"]["attributedTo"] = remote.actor_id("carol")  # bob's Create of carol's note
    remote.signed_post(client, INBOX, activity, name="bob")
    fed.run_pending()
    assert ask.calls == [] and remote.received == []


def test_note_text_and_helpers():
    note = {"content": '<p><span class="h-card"><a href="x" class="u-url mention">@<span>fungus</span></a></span>'
                       ' songs like <b>Enter&nbsp;Sandman</b> @someone@else.example</p><p>thanks</p>'}
    assert note_text(note) == "songs like Enter Sandman thanks"
    assert note_text({"contentMap": {"en": "<p>@fungus@host:8080 songs like Creep</p>"}}) == "songs like Creep"
    assert is_song_request("Nirvana") and not is_song_request("  ")
    assert not is_song_request("thanks!", strict=True) and is_song_request("more like this", strict=True)
    assert feedback_value("thanks, great picks 👍") == 1.0
    assert feedback_value("nope, boring") == -1.0
    assert feedback_value("ok") == 0.0
    assert with_reward("world: songs\n", 1) == "reward: 1.0\nworld: songs\n"
    assert with_reward('<request world="songs"><text>x</text></request>', -1) == \
        '<request world="songs"><reward>-1.0</reward><text>x</text></request>'
    assert with_reward('<request world="songs"/>', 0.5) == '<request world="songs"><reward>0.5</reward></request>'


def test_a_slow_mind_does_not_delay_accepts(make_app, remote):
    """The worker asks the Mind on another thread: a Follow that arrives while the Mind thinks is
    accepted (and the Accept delivered) at once; the Mind's reply follows when it is done."""
    import threading

    release = threading.Event()
    asked = threading.Event()

    def slow_mind(ask):
        asked.set()
        release.wait(60)
        return SONGS

    remote.add_actor("bob")
    remote.add_actor("carol")
    app = make_app(FEDERATION_ASK_MIND=slow_mind, FEDERATION_POLL=0.05)
    fed = get_federation(app)
    fed.start_worker()
    client = app.test_client()
    try:
        assert remote.signed_post(client, INBOX, mention(remote, "songs like Enter Sandman"), name="bob").status_code == 202
        assert asked.wait(30)
        follow = {"id": remote.actor_id("carol") + "/follows/1", "type": "Follow", "actor": remote.actor_id("carol"),
                  "object": FUNGUS}
        assert remote.signed_post(client, INBOX, follow, name="carol").status_code == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(d["type"] == "Accept" for d in deliveries(remote)):
            time.sleep(0.05)
        assert [d["type"] for d in deliveries(remote)] == ["Accept"]  # while the Mind still thinks
        release.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(deliveries(remote)) < 2:
            time.sleep(0.05)
        assert [d["type"] for d in deliveries(remote)] == ["Accept", "Create"]
    finally:
        release.set()
        fed.stop_worker()


def test_what_the_asker_should_know_is_said_in_the_reply():
    """A genre the catalog lacks ("any jazz tips?") is said to the person, escaped like all Mind text."""
    from types import SimpleNamespace

    from wwm.federation.mentions import Answer, _answer_html

    answer = Answer("Songs for “any jazz tips?”", ["Song — Band"], ["t1"],
                    ["the catalog has no jazz (its genres: <b>rock</b>); nearest: blues"])
    html_ = _answer_html(None, answer, SimpleNamespace(name="fungus"))
    assert "<p>Note: The catalog has no jazz (its genres: &lt;b&gt;rock&lt;/b&gt;); nearest: blues.</p>" in html_
    assert "1. Song — Band" in html_
