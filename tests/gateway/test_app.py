"""The gateway's WSGI App called directly, and the CGI file run the way a web
server runs it, on the same requests: both front ends accept and refuse alike.
(The same App also runs under lighttpd, Apache, wwm serve and gunicorn in the
conformance suites; here no web server is involved.)"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from gwkit import REPO
from wwm.gateway.app import MAX_BODY, App
from wwm.gateway.queries import Gateway
from wwm.protocol.envelope import parse_response

CGI = REPO / "cgi-bin" / "wwm.py"
RUN = "A" * 24

# (name, method, server path, query string, content type, body, expected status)
CASES = [
    ("describe", "GET", "worlds/hello-python", "query=Describe&format=json", "", b"", 200),
    ("index", "GET", "", "format=json", "", b"", 200),
    ("head describe", "HEAD", "worlds/hello-python", "query=Describe", "", b"", 200),
    ("method", "PUT", "worlds/hello-python", "query=Describe", "", b"", 405),
    ("unknown query", "GET", "worlds/hello-python", "query=Drop", "", b"", 400),
    ("missing query", "GET", "worlds/hello-python", "", "", b"", 400),
    ("wrong role", "GET", "worlds/hello-python", "query=GetAction&run=" + RUN, "", b"", 400),
    ("bad format", "GET", "worlds/hello-python", "query=Describe&format=html", "", b"", 400),
    ("traversal", "GET", "worlds/../../etc", "query=Describe", "", b"", 404),
    ("no such server", "GET", "worlds/nope", "query=Describe", "", b"", 404),
    ("no such run", "GET", "worlds/hello-python", "query=GetState&run=" + RUN, "", b"", 404),
    ("bad run id", "GET", "worlds/hello-python", "query=GetState&run=../x", "", b"", 404),
    ("bad seed", "GET", "worlds/hello-python", "query=StartRun&seed=1e9", "", b"", 400),
    ("unicode digit seed", "GET", "worlds/hello-python", "query=StartRun&seed=%D9%A3", "", b"", 400),
    ("control character echoed", "GET", "worlds/hello-python", "query=%01%02Drop", "", b"", 400),
    ("raw non-utf8 query string", "GET", "worlds/hello-python", "query=Describe&minds=\udcff", "", b"", 400),
    ("raw non-utf8 path", "GET", "worlds/hello-\udcff", "query=Describe", "", b"", 400),
    ("non-utf8 minds before any run starts", "GET", "worlds/hello-python", "query=StartRun&minds=%ff%fe", "", b"",
     400),
    ("non-utf8 escape", "GET", "worlds/hello-python", "query=Describe&x=%ff", "", b"", 400),
    ("too many fields", "GET", "worlds/hello-python", "&".join(f"k{i}=1" for i in range(40)), "", b"", 400),
    ("content type", "POST", "worlds/hello-python", "query=Describe", "application/pdf", b"x", 400),
    ("form", "POST", "worlds/hello-python", "", "application/x-www-form-urlencoded", b"query=Describe", 200),
    ("non-utf8 form", "POST", "worlds/hello-python", "", "application/x-www-form-urlencoded", b"query=\xff", 400),
    ("envelope", "POST", "worlds/hello-python", "", "application/xml",
     b'<wwm version="1"><request query="Describe" format="json"/></wwm>', 200),
    ("envelope with a DTD", "POST", "worlds/hello-python", "", "application/xml",
     b'<!DOCTYPE wwm [<!ENTITY e "x">]><wwm><request query="Describe"/></wwm>', 400),
    ("utf-16 envelope with a DTD", "POST", "worlds/hello-python", "", "text/xml",
     '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE wwm [<!ENTITY e "x">]><wwm><request query="Describe"/></wwm>'
     .encode("utf-16"), 400),
    ("envelope with an extra attribute", "POST", "worlds/hello-python", "", "application/xml",
     b'<wwm><request query="Describe" admin="1"/></wwm>', 400),
    ("deep envelope", "POST", "worlds/hello-python", "", "application/xml", b"<a>" * 5000 + b"</a>" * 5000, 400),
    ("body too large", "POST", "worlds/hello-python", "query=Describe", "text/plain", b"x" * (MAX_BODY + 1), 413),
]


def environ(method, path, qs, ctype, body):
    """CGI variables; undecodable URL bytes as surrogates, as os.environ holds them."""
    return {"REQUEST_METHOD": method, "PATH_INFO": "/" + path, "QUERY_STRING": qs, "CONTENT_TYPE": ctype,
            "CONTENT_LENGTH": str(len(body)) if body else "", "wsgi.input": io.BytesIO(body)}


def wsgi(env):
    """The same request as a WSGI server hands it over (PEP 3333: bytes as latin-1)."""
    latin1 = {k: env[k].encode("utf-8", "surrogateescape").decode("latin-1") for k in ("PATH_INFO", "QUERY_STRING")}
    return dict(env, **latin1)


def call_app(app, method, path, qs, ctype, body):
    got = {}

    def start_response(status, headers):
        got["status"], got["headers"] = int(status.split()[0]), dict(headers)

    out = b"".join(app(wsgi(environ(method, path, qs, ctype, body)), start_response))
    return got["status"], got["headers"], out


def call_cgi(runs, method, path, qs, ctype, body):
    env = {k: v for k, v in environ(method, path, qs, ctype, body).items() if k != "wsgi.input"}
    env.update(GATEWAY_INTERFACE="CGI/1.1", WWM_ROOT=str(REPO), WWM_RUNS=str(runs), PATH=os.environ["PATH"],
               WWM_ALLOW_ROOT="1")
    proc = subprocess.run([sys.executable, "-I", str(CGI)], input=body, env=env, capture_output=True, timeout=60)
    head, _, out = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(headers.pop("Status").split()[0]), headers, out


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    gw = Gateway(str(REPO), str(runs))
    yield App(gw)
    gw.shutdown()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_wsgi_app_and_cgi_file_answer_alike(app, tmp_path, case):
    name, method, path, qs, ctype, body, expected = case
    status, headers, out = call_app(app, method, path, qs, ctype, body)
    cgi_status, cgi_headers, cgi_out = call_cgi(tmp_path, method, path, qs, ctype, body)
    assert status == cgi_status == expected, (out[:300], cgi_out[:300])
    assert headers["Content-Type"] == cgi_headers["Content-Type"]
    assert int(headers["Content-Length"]) == int(cgi_headers["Content-Length"])
    if method == "HEAD":
        assert out == cgi_out == b""
    elif status != 200:
        assert b"Traceback" not in out and b"Traceback" not in cgi_out
        for body in (out, cgi_out):  # an error that echoes input is still a valid XML response
            assert parse_response(body)["code"] == expected


def test_a_whole_run_through_the_app_with_byte_exact_xml(app):
    """Steps through the App alone: StartRun, GetState, ExecuteAction, EndRun; done a JSON bool."""
    def q(**params):
        from urllib.parse import urlencode

        status, _, out = call_app(app, "POST", "worlds/hello-python", "", "application/x-www-form-urlencoded",
                                  urlencode(dict(params, format="json")).encode())
        doc = json.loads(out)
        assert status == 200, doc
        return doc

    run = q(query="StartRun", seed="3")["run"]
    assert q(query="GetState", run=run)["done"] is False
    doc = q(query="ExecuteAction", run=run, action="50")
    assert isinstance(doc["done"], bool) and doc["score"]
    q(query="EndRun", run=run)


def test_getlog_gives_the_run_holder_its_log_tail(app):
    from urllib.parse import urlencode

    def q(**params):
        status, _, out = call_app(app, "GET", "worlds/hello-python", urlencode(dict(params, format="json")), "", b"")
        return status, json.loads(out)

    run = q(query="StartRun")[1]["run"]
    q(query="GetState", run=run)
    status, doc = q(query="GetLog", run=run)
    assert status == 200 and isinstance(doc["log"], str)
    q(query="EndRun", run=run)
    assert q(query="GetLog", run=run)[0] == 200  # kept after the run ended
    assert q(query="GetLog", run="B" * 24)[0] == 404
    assert q(query="GetLog")[0] == 400
