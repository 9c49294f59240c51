"""World parameters per run: declared in the manifest, typed, listed by Describe,
chosen at StartRun (param.NAME=value) and handed to Program 1 in its params file."""
from __future__ import annotations

import io
import json
import urllib.parse

import pytest

from wwm.gateway.app import App
from wwm.gateway.queries import Gateway

ECHO = '''import os, time
d = os.environ["WWM_RUN_DIR"]
path = os.path.join(d, "params")
text = open(path).read() if os.path.exists(path) else "none"
open(os.path.join(d, "state.tmp"), "w").write(text)
os.rename(os.path.join(d, "state.tmp"), os.path.join(d, "state"))
while not os.path.exists(os.path.join(d, "stop")):
    time.sleep(0.05)
'''


@pytest.fixture
def app(tmp_path, runs_dir):
    world = tmp_path / "root" / "worlds" / "echo"
    world.mkdir(parents=True)
    (world / "echo.py").write_text(ECHO)
    (world / "wwm.toml").write_text('kind = "world"\ncommand = "python3 ./echo.py"\n'
                                    '[params]\ncommunity = "mixed"\nsteps = 200\nrate = 0.5\nfast = false\n')
    gw = Gateway(str(tmp_path / "root"), str(runs_dir))
    yield App(gw)
    gw.shutdown()


def q(app, query, **params):
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/worlds/echo", "REMOTE_ADDR": "127.0.0.1",
           "QUERY_STRING": urllib.parse.urlencode(dict(params, query=query, format="json")),
           "wsgi.input": io.BytesIO(b"")}
    got = {}
    body = b"".join(app(env, lambda status, headers: got.update(status=int(status[:3]))))
    return got["status"], json.loads(body)


def test_describe_lists_the_parameters(app):
    assert q(app, "Describe")[1]["params"] == "community=mixed steps=200 rate=0.5 fast=false"


def test_chosen_parameters_reach_program_1(app):
    status, doc = q(app, "StartRun", **{"param.community": "metal", "param.steps": "20", "param.fast": "true"})
    assert status == 200, doc
    run = doc["run"]
    assert q(app, "GetState", run=run)[1]["state"] == "community=metal\nsteps=20\nfast=true\n"
    q(app, "EndRun", run=run)
    status, doc = q(app, "StartRun")
    assert q(app, "GetState", run=doc["run"])[1]["state"] == "none"  # nothing chosen: the manifest's defaults
    q(app, "EndRun", run=doc["run"])


@pytest.mark.parametrize("name,value,words", [
    ("colour", "red", "no parameter 'colour'"),
    ("steps", "many", "must be a int"),
    ("steps", "\u0663", "must be a int"),  # Arabic-Indic three
    ("rate", "nan", "must be a float"),
    ("fast", "maybe", "must be a bool"),
    ("community", "a\nb", "must be a str"),
    ("community", "x" * 201, "must be a str"),
])
def test_bad_parameters_are_refused_before_any_run_starts(app, name, value, words):
    status, doc = q(app, "StartRun", **{f"param.{name}": value})
    assert status == 400 and words in doc["error"], doc
    assert app.gateway.active_runs() == []
