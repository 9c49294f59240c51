"""Hostile and malformed input: every case gets a clean wwm error (XML, JSON or
text) with the right HTTP code: no 500, no traceback, no file touched
outside the runs folder (checked by the ``gw`` fixture after each test), no
network access, no process left behind.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.parse

import pytest

WORLD = "worlds/hello-python"
MIND = "minds/hello-python"
XML = {"Content-Type": "application/xml"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

XXE_FILE = ('<?xml version="1.0"?><!DOCTYPE wwm [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<wwm version="1"><request query="Describe" format="json">&e;</request></wwm>')
BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + ']><wwm version="1"><request query="Describe">&lol9;</request></wwm>')
QUADRATIC = ('<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + "a" * 50000 + '">]>'
             '<wwm version="1"><request query="Describe">' + "&a;" * 20 + '</request></wwm>')
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/evil.dtd">%p;]>'
                    '<wwm version="1"><request query="Describe"/></wwm>')
EXTERNAL_DTD = ('<?xml version="1.0"?><!DOCTYPE wwm SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
                '<wwm version="1"><request query="Describe"/></wwm>')
XINCLUDE = ('<wwm version="1" xmlns:xi="http://www.w3.org/2001/XInclude"><request query="Describe">'
            '<xi:include href="file:///etc/passwd" parse="text"/></request></wwm>')


class Listener:
    """A TCP listener that records whether anything connected to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


# -- XML attacks ----------------------------------------------------------------


@pytest.mark.parametrize("doc", [XXE_FILE, BILLION_LAUGHS, QUADRATIC], ids=["xxe", "billion-laughs", "quadratic"])
def test_entity_attacks_in_envelope(gw, doc):
    started = time.monotonic()
    reply = gw.request("POST", gw.prefix + WORLD, doc.encode(), XML)
    message = reply.error(400)
    assert time.monotonic() - started < 5
    assert "root:" not in reply.text and "lollol" not in reply.text and "aaaa" not in reply.text
    assert "DTD" in message or "entit" in message, message


@pytest.mark.parametrize("doc", [PARAMETER_ENTITY, EXTERNAL_DTD], ids=["parameter-entity", "external-dtd"])
def test_no_network_from_dtds(gw, listener, doc):
    reply = gw.request("POST", gw.prefix + WORLD, doc.format(port=listener.port).encode(), XML)
    reply.error(400)
    time.sleep(0.2)
    assert listener.hits == 0, "the gateway fetched an external DTD"


def test_xinclude_is_not_processed(gw):
    reply = gw.request("POST", gw.prefix + WORLD, XINCLUDE.encode(), XML)
    assert "root:" not in reply.text
    assert reply.status in (200, 400), reply
    reply.no_leak()


@pytest.mark.parametrize("slot", ["state", "action"])
def test_entity_attacks_in_payloads(gw, slot):
    """A state or action that is XML with a DTD is refused before Program 1 sees it."""
    server = MIND if slot == "state" else WORLD
    run = gw.start(server)
    query = "GetAction" if slot == "state" else "ExecuteAction"
    if slot == "action":
        gw.q(server, "GetState", run=run).ok()
    for payload in ('<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><s>&e;</s>',
                    BILLION_LAUGHS.split("?>", 1)[1].replace("wwm", "s")):
        reply = gw.q(server, query, method="POST", run=run, **{slot: payload})
        reply.error(400)
        assert "root:" not in reply.text
    # XML payload in an envelope, with the DTD inside the payload element
    envelope = (f'<wwm version="1"><request query="{query}" run="{run}">'
                f'<{slot}><!DOCTYPE s [<!ENTITY e "x">]><s>&e;</s></{slot}></request></wwm>')
    gw.request("POST", gw.prefix + server, envelope.encode(), XML).error(400)
    gw.q(server, "EndRun", run=run).ok()


def test_deeply_nested_xml(gw):
    deep = "<a>" * 5000 + "</a>" * 5000
    envelope = f'<wwm version="1"><request query="GetAction"><state>{deep}</state></request></wwm>'
    gw.request("POST", gw.prefix + MIND, envelope.encode(), XML).error(400)
    run = gw.start(MIND)
    gw.q(MIND, "GetAction", method="POST", run=run, state=deep).error(400)
    gw.q(MIND, "EndRun", run=run).ok()


@pytest.mark.parametrize("body", [
    b"<wwm version='1'><request query='Describe'>",               # not well-formed
    b"<nope><request query='Describe'/></nope>",                   # wrong root
    b"<wwm version='2'><request query='Describe'/></wwm>",         # unknown version
    b"",                                                           # empty
    b"\xff\xfe<\x00w\x00",                                         # not UTF-8
    b"just text",
], ids=["unclosed", "wrong-root", "version-2", "empty", "utf16", "text"])
def test_malformed_envelopes(gw, body):
    reply = gw.request("POST", gw.prefix + WORLD, body, XML)
    if body == b"":
        # an empty body is no envelope: the query parameter is missing
        reply.error(400)
        return
    reply.error(400)


# -- names and run ids ----------------------------------------------------------


BAD_NAMES = [
    "..", "worlds/..", "worlds/../minds/hello-python", "..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
    "worlds/%2e%2e", "worlds/.hidden", "worlds/hello-python%00", "worlds/hello-python/extra",
    "minds/../../../../etc", "~root", "worlds/" + "a" * 300, "worlds/hello%20python", "worlds/h\u00e9llo",
    "/etc/passwd", "worlds//hello-python/..", "minds/hello-python/wwm.toml", "worlds/hello-python/../../../etc",
    "worlds%2fhello-python", "worlds\\..\\..\\etc",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_path_traversal_in_server_names(gw, name):
    """Sent as raw paths (no client-side normalisation).

    The web server may normalise the path first (``a/../b`` is ``b``; lighttpd
    decodes ``%2e``); what reaches the gateway then names the index or a real
    server, which is no escape.  Otherwise the gateway answers 404 or 400, or
    the web server its own 403/404 (or a redirect that stays under the
    gateway's prefix).  Never a file's contents, never another folder.
    """
    raw = urllib.parse.quote(name, safe="/%~\\")
    reply = gw.request("GET", f"{gw.prefix}{raw}?query=Describe&format=json")
    assert "root:" not in reply.text and 'kind = "mind"' not in reply.text
    if reply.status == 200:
        doc = reply.doc()
        served = doc.get("name") or ("index" if "servers" in doc else None)
        assert served in ("index", "hello-python"), reply  # a normalised path inside the gateway
        return
    if 300 <= reply.status < 400:
        location = urllib.parse.urlsplit(reply.headers.get("location", "")).path
        assert location.startswith(gw.prefix), reply
        return
    if reply.ctype.startswith(("application/json", "application/xml", "text/plain")):
        reply.error(400, 404)  # the gateway's answer
    else:
        assert reply.status in (400, 403, 404), reply  # the web server's own answer


def test_traversal_that_normalises_to_a_server(gw):
    # /x/../ is removed by the web server (or by us): it is the same server, not an escape.
    reply = gw.request("GET", f"{gw.prefix}minds/x/../hello-python?query=Describe&format=json")
    assert reply.status in (200, 400, 404), reply
    if reply.status == 200:
        assert reply.doc()["name"] == "hello-python"


BAD_RUNS = ["../../../etc/passwd", "..", ".", "/etc/passwd", "A" * 21 + "/..", "..%2F..%2Fetc",
            "A" * 200, "A" * 23 + "\n", "A" * 23 + "\x00", "scores.sqlite", ".lock", "A" * 22 + "/.wwm.json",
            "../hello-python/" + "A" * 22]


@pytest.mark.parametrize("run", BAD_RUNS)
@pytest.mark.parametrize("query", ["GetState", "EndRun", "ExecuteAction"])
def test_path_traversal_in_run_ids(gw, run, query):
    reply = gw.q(WORLD, query, method="POST", run=run, action="50")
    message = reply.error(400, 404)
    assert "root:" not in reply.text
    assert str(gw.runs) not in message  # no absolute paths in messages


def test_run_id_of_another_server_in_a_traversal(gw):
    run = gw.start(WORLD)
    gw.q("worlds/slow", "GetState", run=f"../hello-python/{run}").error(400, 404)
    gw.q(MIND, "GetAction", run=f"../../worlds/hello-python/{run}", state="low: 1\nhigh: 2\n").error(400, 404)
    gw.q(WORLD, "EndRun", run=run).ok()


# -- sizes ------------------------------------------------------------------------


def test_oversized_body(gw):
    body = b"query=Describe&format=json&state=" + b"x" * (1536 * 1024)  # 1.5 MiB: over the gateway's 1 MiB
    reply = gw.request("POST", gw.prefix + WORLD, body, FORM)
    assert "1048576" in reply.error(413)


def test_oversized_body_beyond_the_web_server_limit(gw):
    body = b"query=Describe&state=" + b"x" * (5 << 20)  # 5 MiB: the web server may refuse it itself
    reply = gw.request("POST", gw.prefix + WORLD, body, FORM, timeout=30)
    assert reply.status == 413, reply
    assert "Traceback" not in reply.text


def test_payload_over_the_server_limit(gw):
    run = gw.start(MIND)
    reply = gw.q(MIND, "GetAction", method="POST", run=run, state="x" * 70000)  # max_payload 65536
    assert "65536" in reply.error(413)
    gw.q(MIND, "GetAction", method="POST", run=run, state="low: 1\nhigh: 3\n").ok()  # the run goes on
    gw.q(MIND, "EndRun", run=run).ok()


def test_lying_content_length(gw):
    """A Content-Length larger than the body: the server must not hang forever."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=90)
    conn.putrequest("POST", gw.prefix + WORLD)
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", "100")
    conn.endheaders()
    conn.send(b"query=Describe")
    conn.sock.shutdown(socket.SHUT_WR)
    try:
        resp = conn.getresponse()
        status = resp.status
        resp.read()
    except (ConnectionError, http.client.HTTPException, socket.timeout):
        status = None  # the server closed the connection: fine
    finally:
        conn.close()
    assert status in (None, 200, 400, 408, 413), status


def test_too_many_parameters(gw):
    params = "&".join(f"p{i}=1" for i in range(200))
    reply = gw.request("GET", f"{gw.prefix}{WORLD}?query=Describe&format=json&{params}")
    reply.error(400, 413)
    body = f"query=Describe&format=json&{params}".encode()
    gw.request("POST", gw.prefix + WORLD, body, FORM).error(400, 413)


# -- bad parameters -------------------------------------------------------------------


def test_unknown_and_missing_queries(gw):
    assert "unknown query" in gw.q(WORLD, "Explode").error(400)
    assert "GetState" in gw.get(WORLD, {"format": "json"}).error(400)  # lists the queries
    gw.q(WORLD, "describe").error(400)  # names are case-sensitive
    gw.q(WORLD, "Describe" * 100).error(400)


def test_query_of_the_other_role(gw):
    run = gw.start(WORLD)
    assert "mind query" in gw.q(WORLD, "GetAction", run=run, state="x").error(400)
    gw.q(WORLD, "HereIsState", run=run, state="x").error(400)
    mrun = gw.start(MIND)
    assert "world query" in gw.q(MIND, "GetState", run=mrun).error(400)
    gw.q(MIND, "ExecuteAction", run=mrun, action="1").error(400)
    gw.q(MIND, "GetScore", run=mrun).error(400)
    gw.q(WORLD, "EndRun", run=run).ok()
    gw.q(MIND, "EndRun", run=mrun).ok()


def test_missing_parameters(gw):
    gw.q(WORLD, "GetState").error(400)
    gw.q(WORLD, "EndRun").error(400)
    run = gw.start(WORLD)
    gw.q(WORLD, "GetState", run=run).ok()
    assert "action" in gw.q(WORLD, "ExecuteAction", run=run).error(400)
    mrun = gw.start(MIND)
    assert "state" in gw.q(MIND, "HereIsState", run=mrun).error(400)
    gw.q(WORLD, "EndRun", run=run).ok()
    gw.q(MIND, "EndRun", run=mrun).ok()


@pytest.mark.parametrize("seed", ["abc", "1.5", "9" * 40, "1; rm -rf /", "-", ""])
def test_bad_seed(gw, seed):
    reply = gw.q(WORLD, "StartRun", seed=seed)
    if seed == "":
        # an empty seed is the default seed, or refused; both are fine
        assert reply.status in (200, 400), reply
        return
    assert "seed" in reply.error(400)


def test_bad_format(gw):
    reply = gw.get(WORLD, {"query": "Describe", "format": "yaml"})
    assert "format" in reply.error(400)


def test_bad_payloads(gw):
    run = gw.start(WORLD)
    gw.q(WORLD, "GetState", run=run).ok()
    message = gw.q(WORLD, "ExecuteAction", method="POST", run=run, action="5\x000").error(400)
    assert "NUL" in message or "control" in message, message
    gw.q(WORLD, "ExecuteAction", method="POST", run=run, action="<a><b></a>").error(400)
    # raw bytes that are not UTF-8, as a form and as a text/plain body
    body = b"query=ExecuteAction&format=json&run=" + run.encode() + b"&action=%FF%FE"
    gw.request("POST", gw.prefix + WORLD, body, FORM).error(400)
    body = b"\xff\xfe50"
    qs = urllib.parse.urlencode({"query": "ExecuteAction", "format": "json", "run": run})
    gw.request("POST", f"{gw.prefix}{WORLD}?{qs}", body, {"Content-Type": "text/plain"}).error(400)
    gw.q(WORLD, "ExecuteAction", run=run, action="50").ok()  # the run is still in sequence
    gw.q(WORLD, "EndRun", run=run).ok()


def test_unsupported_content_type(gw):
    for ctype in ("application/json", "multipart/form-data; boundary=x", "image/png"):
        reply = gw.request("POST", gw.prefix + WORLD + "?format=json", b'{"query": "Describe"}',
                           {"Content-Type": ctype})
        reply.error(400, 415)


# -- methods ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_methods(gw, method):
    reply = gw.request(method, f"{gw.prefix}{WORLD}?query=Describe&format=json", b"x" if method != "OPTIONS"
                       else None)
    message = reply.error(405)
    assert method in message
    run = gw.start(WORLD)
    gw.request(method, f"{gw.prefix}{WORLD}?query=EndRun&format=json&run={run}", b"").error(405)
    gw.q(WORLD, "GetState", run=run).ok()  # untouched by the refused request
    gw.q(WORLD, "EndRun", run=run).ok()


# -- leftovers --------------------------------------------------------------------------


def test_refused_requests_start_nothing(gw):
    """After a burst of refused StartRuns nothing runs and no run folder exists."""
    before = {p.name for p in (gw.runs / "worlds" / "hello-python").glob("*")} \
        if (gw.runs / "worlds" / "hello-python").exists() else set()
    for params in ({"seed": "x"}, {"format": "yaml"}):
        gw.q(WORLD, "StartRun", **params).error(400)
    gw.request("PUT", f"{gw.prefix}{WORLD}?query=StartRun", b"").error(405)
    gw.request("POST", gw.prefix + WORLD, XXE_FILE.replace("Describe", "StartRun").encode(), XML).error(400)
    after = {p.name for p in (gw.runs / "worlds" / "hello-python").glob("*")} \
        if (gw.runs / "worlds" / "hello-python").exists() else set()
    assert after == before
