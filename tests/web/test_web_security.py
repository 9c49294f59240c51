"""Attacks on the web UI are refused: cross-site forms, private URLs, path tricks; errors hide traces."""
from __future__ import annotations

import re

import pytest

from wwmtest import REPO


@pytest.fixture
def client(tmp_path):
    from wwm.gateway.wsgi import create_app

    return create_app({"ROOT": str(REPO), "RUNS": str(tmp_path / "runs")}).test_client()


def token(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/runs/new").text).group(1)


def test_every_page_sends_a_csp(client):
    for path in ("/ui/", "/ui/scores", "/ui/runs/new", "/ui/nothing-here"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


def test_forms_without_the_token_or_from_another_site_are_refused(client):
    good = token(client)
    form = {"world": "worlds/hello-python", "mind": "minds/hello-python", "steps": "1"}
    assert client.post("/ui/runs", data=form).status_code == 403
    assert client.post("/ui/runs", data=dict(form, csrf="x" * 43)).status_code == 403
    evil = client.post("/ui/runs", data=dict(form, csrf=good), headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "another site" in evil.text
    client.delete_cookie("wwm_csrf", path="/")
    assert client.post("/ui/runs", data=dict(form, csrf=good)).status_code == 403  # a token without its cookie


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/wwm/worlds/x", "http://10.0.0.1/wwm/worlds/x",
                                 "http://[::1]/wwm/worlds/x", "http://169.254.169.254/latest/meta-data",
                                 "file:///etc/passwd", "http://user:pw@example.com/wwm/worlds/x"])
def test_urls_to_private_hosts_are_refused(client, url):
    resp = client.post("/ui/runs", data={"csrf": token(client), "world_url": url, "mind": "minds/hello-python"})
    assert resp.status_code == 400 and ("private" in resp.text or "not an http(s) URL" in resp.text)
    resp = client.post("/ui/societies", data={"csrf": token(client), "name": "s", "rule": "vote", "member_urls": url})
    assert resp.status_code == 400


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "x" * 80, ""])
def test_society_names_cannot_leave_minds(client, tmp_path, name):
    resp = client.post("/ui/societies", data={"csrf": token(client), "name": name, "rule": "vote",
                                              "member": "minds/hello-python"})
    assert resp.status_code == 400 and "name" in resp.text


@pytest.mark.parametrize("choice", ["worlds/../../etc", "../minds/hello-python", "minds/hello-python/../..",
                                    "/etc/passwd"])
def test_server_choices_cannot_leave_the_root(client, choice):
    resp = client.post("/ui/runs", data={"csrf": token(client), "world": choice, "mind": "minds/hello-python"})
    assert resp.status_code == 404 and "no server" in resp.text


def test_unknown_run_ids_and_odd_ids(client):
    assert client.get("/ui/runs/0123456789abcdef").status_code == 404
    assert client.get("/ui/runs/..%2f..%2fetc.json").status_code == 404


def test_a_crash_shows_a_message_not_a_traceback(client, monkeypatch):
    from wwm.web import views

    monkeypatch.setattr(views, "_servers", lambda: 1 / 0)
    resp = client.get("/ui/")
    assert resp.status_code == 500
    assert "Something went wrong" in resp.text and "ZeroDivisionError" not in resp.text and "Traceback" not in resp.text


def test_oversized_bodies_are_refused(client):
    resp = client.post("/ui/songs", data={"csrf": "x", "text": "a" * (2 << 20)})
    assert resp.status_code == 413


def test_questions_for_songs_are_rate_limited(client, monkeypatch):
    from wwm.federation.service import RateLimiter
    from wwm.web import views

    monkeypatch.setattr(views, "ASK_LIMIT", RateLimiter(0.001, 1))
    form = {"csrf": token(client), "mind": "minds/no-such-mind", "text": "songs like Enter Sandman"}
    assert client.post("/ui/songs", data=form).status_code == 404  # the one question allowed, about no Mind
    resp = client.post("/ui/songs", data=form)
    assert resp.status_code == 429 and "too many questions" in resp.text
