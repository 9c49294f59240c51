"""Every query of the gateway, in every format and transport, on every backend.

The same tests run against cgi-bin/wwm.py under lighttpd and Apache, ``wwm
serve`` and gunicorn (the ``backend`` fixture in conftest.py).
"""
from __future__ import annotations

import threading
import time
import urllib.parse
from xml.etree import ElementTree as ET

import pytest

from gwkit import HelloRef, hello_mind, run_threads

WORLD = "worlds/hello-python"
MIND = "minds/hello-python"


# -- Describe and the index ---------------------------------------------------


def test_index_lists_every_server(gw):
    doc = gw.get("", {"format": "json"}).ok()
    names = {(s["name"], s["kind"]) for s in doc["servers"]}
    assert ("hello-python", "world") in names and ("hello-python", "mind") in names
    assert ("crash-start", "world") in names
    assert "broken-manifest" not in {n for n, _ in names}  # a broken manifest hides its server only
    reply = gw.get("")  # XML by default
    assert reply.status == 200 and reply.ctype.startswith("application/xml"), reply
    top = ET.fromstring(reply.body)
    assert top.tag == "wwm" and top.find("server") is not None
    text = gw.get("", {"format": "text"})
    assert text.status == 200 and "hello-python\tworld\t" in text.text


@pytest.mark.parametrize("fmt", ["xml", "json", "text"])
def test_describe_every_format(gw, fmt):
    reply = gw.q(WORLD, "Describe", fmt=fmt)
    doc = reply.ok()
    if fmt == "text":
        assert reply.ctype.startswith("text/plain")
        assert "name: hello-python" in doc["text"] and "kind: world" in doc["text"]
        return
    assert doc["name"] == "hello-python" and doc["kind"] == "world" and doc["role"] == "world"
    assert set(doc["queries"].split()) == {"Describe", "StartRun", "EndRun", "GetState", "ExecuteAction",
                                           "GetScore", "GetLog"}
    mind = gw.q(MIND, "Describe", fmt=fmt).ok()
    assert set(mind["queries"].split()) == {"Describe", "StartRun", "EndRun", "HereIsState", "GetAction", "GetLog"}


def test_bare_name_and_folder_name(gw):
    assert gw.q("crash-start", "Describe").ok()["kind"] == "world"
    assert gw.q("worlds/crash-start", "Describe").ok()["name"] == "crash-start"
    # twin is both a World and a Mind: the bare name is ambiguous, the error says what to write
    message = gw.q("twin", "Describe").error(404)
    assert "worlds/twin" in message and "minds/twin" in message
    assert gw.q("minds/twin", "Describe").ok()["kind"] == "mind"


def test_head_request(gw):
    reply = gw.get(WORLD, {"query": "Describe"}, method="HEAD")
    assert reply.status == 200 and reply.body == b""


# -- a World ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_world_episode(gw, method):
    ref = HelloRef(seed=7)
    run = gw.q(WORLD, "StartRun", method=method, seed=7).ok()["run"]
    assert 22 <= len(run) <= 64
    doc = gw.q(WORLD, "GetState", method=method, run=run).ok()
    assert doc["state"] == ref.state() and doc["done"] is False
    # GetState again is the same state (it does not consume anything)
    assert gw.q(WORLD, "GetState", method=method, run=run).ok()["state"] == ref.state()
    state = doc["state"]
    for _ in range(5):
        guess = hello_mind(state)
        doc = gw.q(WORLD, "ExecuteAction", method=method, run=run, action=guess).ok()
        expected = ref.step(int(guess))
        assert doc["state"] == expected
        assert doc["score"] == ref.score() and doc["done"] is False
        state = doc["state"]
    assert gw.q(WORLD, "GetScore", method=method, run=run).ok()["score"] == ref.score()
    assert gw.q(WORLD, "EndRun", method=method, run=run).ok()["score"] == ref.score()
    gw.q(WORLD, "GetState", run=run).error(404)


def test_world_text_format(gw):
    run = gw.start(WORLD)
    reply = gw.q(WORLD, "GetState", fmt="text", run=run)
    assert reply.ok()["text"] == "low: 1\nhigh: 100\n"
    reply = gw.q(WORLD, "ExecuteAction", fmt="text", run=run, action="49")
    assert reply.ok()["text"] == "reward: 0\nlow: 50\nhigh: 100\n"
    assert reply.headers.get("x-wwm-done") == "false"
    assert reply.headers.get("x-wwm-score") == "0"
    assert gw.q(WORLD, "GetScore", fmt="text", run=run).ok()["text"] == "0\nsteps: 1"
    assert gw.q(WORLD, "StartRun", fmt="text").ok()["text"]  # a run id as plain text
    gw.q(WORLD, "EndRun", run=run).ok()


def test_world_xml_format(gw):
    run = gw.start(WORLD, seed=3)
    ref = HelloRef(3)
    doc = gw.q(WORLD, "GetState", fmt="xml", run=run).ok()
    assert doc["state"] == ref.state() and doc["run"] == run and doc["query"] == "GetState"
    doc = gw.q(WORLD, "ExecuteAction", fmt="xml", run=run, action="50").ok()
    assert doc["state"] == ref.step(50) and doc["done"] == "false" and doc["score"] == ref.score()
    gw.q(WORLD, "EndRun", run=run).ok()


def test_xml_payloads(gw):
    """An XML state is one element; it travels as an element in the envelope."""
    run = gw.start("worlds/xml")
    doc = gw.q("worlds/xml", "GetState", run=run).ok()
    assert doc["state"] == "<state><n>0</n></state>"
    doc = gw.q("worlds/xml", "ExecuteAction", run=run, action="<action>up</action>").ok()
    assert doc["state"] == "<state><reward>1</reward><n>1</n></state>"
    reply = gw.q("worlds/xml", "ExecuteAction", fmt="xml", run=run, action="up")
    top = ET.fromstring(reply.body)
    state = top.find("response/state/state")
    assert state is not None and state.findtext("n") == "2" and state.findtext("reward") == "1", reply
    gw.q("worlds/xml", "EndRun", run=run).ok()


def test_post_xml_envelope(gw):
    envelope = '<wwm version="1"><request query="StartRun" seed="5" format="json"/></wwm>'
    reply = gw.request("POST", gw.prefix + WORLD, envelope.encode(), {"Content-Type": "application/xml"})
    run = reply.ok()["run"]
    gw.started.append((WORLD, run))
    envelope = f'<wwm version="1"><request query="GetState" run="{run}"/></wwm>'
    reply = gw.request("POST", gw.prefix + WORLD, envelope.encode(), {"Content-Type": "application/xml"})
    assert reply.ok()["state"] == HelloRef(5).state()
    envelope = (f'<wwm version="1"><request query="ExecuteAction" run="{run}" format="json">'
                f'<action>50</action></request></wwm>')
    reply = gw.request("POST", gw.prefix + WORLD, envelope.encode(), {"Content-Type": "text/xml"})
    ref = HelloRef(5)
    assert reply.ok()["state"] == ref.step(50)
    gw.q(WORLD, "EndRun", run=run).ok()


def test_post_text_plain_body(gw):
    """curl --data-binary @action -H 'Content-Type: text/plain' '...?query=ExecuteAction&run=R'"""
    run = gw.start(WORLD)
    gw.q(WORLD, "GetState", run=run).ok()
    qs = urllib.parse.urlencode({"query": "ExecuteAction", "run": run, "format": "json"})
    reply = gw.request("POST", f"{gw.prefix}{WORLD}?{qs}", b"50\n", {"Content-Type": "text/plain"})
    assert reply.ok()["state"] == HelloRef(1).step(50)
    gw.q(WORLD, "EndRun", run=run).ok()


def test_unicode_payload(gw):
    run = gw.start(WORLD)
    gw.q(WORLD, "GetState", run=run).ok()
    doc = gw.q(WORLD, "ExecuteAction", method="POST", run=run, action="cinquante \u00e9\u6f22\U0001f600").ok()
    assert doc["state"].startswith("reward: -1\n")  # not an integer: reward -1, state unchanged
    gw.q(WORLD, "EndRun", run=run).ok()


# -- a Mind -------------------------------------------------------------------


def test_mind_here_is_state_then_get_action(gw):
    run = gw.start(MIND)
    for low, high in ((1, 100), (51, 100), (51, 74)):
        state = f"low: {low}\nhigh: {high}\n"
        assert gw.q(MIND, "HereIsState", run=run, state=state).ok()["status"] == "ok"
        assert gw.q(MIND, "GetAction", run=run).ok()["action"] == f"{(low + high) // 2}\n"
    gw.q(MIND, "EndRun", run=run).ok()


@pytest.mark.parametrize("fmt", ["json", "xml", "text"])
def test_mind_get_action_with_state(gw, fmt):
    run = gw.start(MIND)
    reply = gw.q(MIND, "GetAction", fmt=fmt, method="POST", run=run, state="reward: 0\nlow: 10\nhigh: 20\n")
    doc = reply.ok()
    assert (doc["text"] if fmt == "text" else doc["action"]) == "15\n"
    gw.q(MIND, "EndRun", run=run).ok()


def test_mind_xml_state_in_envelope(gw):
    run = gw.start(MIND)
    envelope = (f'<wwm version="1"><request query="GetAction" run="{run}" format="json">'
                f'<state><state><reward>1</reward><low>1</low></state></state></request></wwm>')
    reply = gw.request("POST", gw.prefix + MIND, envelope.encode(), {"Content-Type": "application/xml"})
    assert reply.ok()["action"] == "50\n"  # the hello Mind's fair first guess for a state it cannot read
    gw.q(MIND, "EndRun", run=run).ok()


def play(gw, seed: int, steps: int, world: str = WORLD, mind: str = MIND) -> tuple[str, str]:
    """World and Mind over HTTP; returns (final score, expected score)."""
    ref = HelloRef(seed)
    wrun, mrun = gw.start(world, seed), gw.start(mind, seed)
    state = gw.q(world, "GetState", run=wrun).ok()["state"]
    for _ in range(steps):
        action = gw.q(mind, "GetAction", method="POST", run=mrun, state=state).ok()["action"]
        assert action == hello_mind(state)
        state = gw.q(world, "ExecuteAction", method="POST", run=wrun, action=action).ok()["state"]
        assert state == ref.step(int(action)), (seed, ref.steps)
    score = gw.q(world, "EndRun", run=wrun).ok()["score"]
    gw.q(mind, "EndRun", run=mrun).ok()
    return score, ref.score()


def test_world_and_mind_loop(gw):
    score, expected = play(gw, seed=11, steps=12)
    assert score == expected and int(score.split()[0]) >= 1


def test_concurrent_runs_do_not_mix(gw):
    """Four World+Mind pairs at once, each with its own seed: every answer is its own."""
    seeds = [101, 202, 303, 404]
    results = run_threads(lambda s: play(gw, s, 6), [(s,) for s in seeds], timeout=120)
    for seed, result in zip(seeds, results):
        assert not isinstance(result, BaseException), (seed, result)
        score, expected = result
        assert score == expected, seed


# -- strict alternation: 409 --------------------------------------------------


def test_execute_action_before_get_state(gw):
    run = gw.start(WORLD)
    assert "GetState" in gw.q(WORLD, "ExecuteAction", run=run, action="50").error(409)
    gw.q(WORLD, "GetState", run=run).ok()
    gw.q(WORLD, "ExecuteAction", run=run, action="50").ok()  # the run goes on
    gw.q(WORLD, "EndRun", run=run).ok()


def test_get_action_without_state(gw):
    run = gw.start(MIND)
    gw.q(MIND, "GetAction", run=run).error(409)
    gw.q(MIND, "HereIsState", run=run, state="low: 1\nhigh: 9\n").ok()
    gw.q(MIND, "HereIsState", run=run, state="low: 1\nhigh: 3\n").error(409)  # previous one unanswered
    gw.q(MIND, "GetAction", run=run, state="low: 1\nhigh: 3\n").error(409)
    assert gw.q(MIND, "GetAction", run=run).ok()["action"] == "5\n"  # the first state's answer, not mixed up
    gw.q(MIND, "GetAction", run=run).error(409)  # consumed once
    gw.q(MIND, "EndRun", run=run).ok()


def test_execute_action_after_done(gw):
    world = "worlds/countdown"
    run = gw.start(world)
    gw.q(world, "GetState", run=run).ok()
    dones = [gw.q(world, "ExecuteAction", run=run, action="1").ok()["done"] for _ in range(3)]
    assert dones == [False, False, True]
    assert gw.q(world, "GetState", run=run).ok()["done"] is True
    assert "over" in gw.q(world, "ExecuteAction", run=run, action="1").error(409)
    assert gw.q(world, "EndRun", run=run).ok()["score"] == "0\nsteps: 3"


def test_concurrent_query_on_one_run_is_409(gw):
    """A second query while one is in progress on the same run: 409, not queued, not mixed."""
    world = "worlds/slow"
    run = gw.start(world)
    gw.q(world, "GetState", run=run).ok()
    slow = {}
    t = threading.Thread(target=lambda: slow.setdefault("r", gw.q(world, "ExecuteAction", run=run,
                                                                  action="50")))
    t.start()
    time.sleep(0.4)
    gw.q(world, "GetScore", run=run).error(409)
    gw.q(world, "ExecuteAction", run=run, action="25").error(409)
    t.join(10)
    assert slow["r"].ok()["state"] == HelloRef(1).step(50)
    gw.q(world, "EndRun", run=run).ok()


def test_ended_and_unknown_runs_are_404(gw):
    run = gw.start(WORLD)
    gw.q(WORLD, "EndRun", run=run).ok()
    for query in ("GetState", "GetScore", "EndRun"):
        gw.q(WORLD, query, run=run).error(404)
    gw.q(WORLD, "ExecuteAction", run=run, action="1").error(404)
    gw.q(WORLD, "GetState", run="A" * 24).error(404)
    gw.q(MIND, "GetAction", run="A" * 24, state="low: 1\nhigh: 2\n").error(404)
    # a run of the World is no run of the Mind
    other = gw.start(WORLD)
    gw.q(MIND, "GetAction", run=other, state="low: 1\nhigh: 2\n").error(404)
    gw.q("worlds/slow", "GetState", run=other).error(404)
    gw.q(WORLD, "EndRun", run=other).ok()


def test_unknown_server_is_404(gw):
    for name in ("no-such", "worlds/no-such", "minds/no-such", "gods/hello-python"):
        gw.q(name, "Describe").error(404)
        gw.q(name, "StartRun").error(404)


def test_too_many_runs(gw):
    world = "worlds/tiny"  # max_runs = 2
    a, b = gw.start(world), gw.start(world)
    message = gw.q(world, "StartRun").error(429, 503)
    assert "runs" in message
    gw.q(world, "EndRun", run=a).ok()
    c = gw.start(world)  # a slot is free again
    for run in (b, c):
        gw.q(world, "EndRun", run=run).ok()


def test_run_limit_holds_under_concurrent_starts(gw):
    """max_runs = 2 holds when 16 StartRuns arrive at once (no check-then-create race).

    A race shows only sometimes, so the burst is repeated (three times on the
    WSGI backends; once under CGI, where each request costs a process)."""
    world = "worlds/tiny"
    for burst in range(1 if gw.cgi else 3):
        replies = run_threads(lambda: gw.q(world, "StartRun"), [()] * 16, timeout=60)
        for r in replies:
            assert not isinstance(r, BaseException), r
            if r.status != 200:
                r.error(429, 503)
        started = [r.doc()["run"] for r in replies if r.status == 200]
        gw.end_leftovers()
        assert 1 <= len(started) <= 2, f"burst {burst}: {len(started)} runs started with max_runs = 2"


@pytest.mark.parametrize("fmt", ["xml", "json", "text"])
def test_errors_in_every_format(gw, fmt):
    """The same errors, rendered as an XML envelope, JSON or one text line."""
    reply = gw.q("worlds/no-such", "Describe", fmt=fmt)
    assert "no-such" in reply.error(404)
    expected = {"xml": "application/xml", "json": "application/json", "text": "text/plain"}[fmt]
    assert reply.ctype.startswith(expected), reply
    gw.q(WORLD, "Explode", fmt=fmt).error(400)
    gw.q(WORLD, "GetState", fmt=fmt, run="B" * 24).error(404)
    gw.request("DELETE", f"{gw.prefix}{WORLD}?query=Describe&format={fmt}").error(405)
