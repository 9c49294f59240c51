"""The CGI file needs the Python standard library only.

``cgi-bin/wwm.py`` is run the way a web server runs it, with the system
interpreter in isolated mode (``/usr/bin/python3 -I -S``: no site-packages,
no PYTHONPATH, no user site, not the script's folder) and a trick
environment: a PYTHONPATH and a working folder full of poisoned modules
(flask, lxml, wwm, requests, ...) that leave a marker when imported, plus
PYTHONINSPECT/PYTHONSTARTUP/PYTHONHOME that must all be ignored.  Every
module it imports (``-X importtime``) must be in the standard library.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from gwkit import REPO, HelloRef, kill_program1, wait_no_program1
from wwmtest import missing

CGI = REPO / "cgi-bin" / "wwm.py"
PYTHON = "/usr/bin/python3"
POISON = ("flask", "lxml", "wwm", "requests", "werkzeug", "click", "gunicorn", "tomli", "defusedxml",
          "sitecustomize", "usercustomize")



@pytest.fixture(autouse=True)
def system_python():
    if not os.path.exists(PYTHON):
        missing("/usr/bin/python3, the interpreter a web server runs CGI with")


@pytest.fixture(scope="module")
def stdlib_names() -> set[str]:
    out = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; print(' '.join(sorted(sys.stdlib_module_names)))"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    # "org": copy.py (stdlib) probes for Jython's org.python.core; -X importtime lists the failed attempt
    return set(out.split()) | {"__future__", "__main__", "org"}


@pytest.fixture
def poison(tmp_path) -> Path:
    """A folder of modules that must never be imported: each leaves a marker and raises."""
    folder = tmp_path / "poison"
    folder.mkdir()
    for name in POISON + ("startup",):
        (folder / f"{name}.py").write_text(
            "import os, sys\n"
            f"open({str(folder)!r} + '/IMPORTED-{name}-' + str(os.getpid()), 'w').write(repr(sys.argv))\n"
            f"raise ImportError('poisoned module {name} was imported')\n")
    return folder


def markers(folder: Path) -> list[str]:
    """Poisoned modules the CGI process imported.  (Program 1 is started with the
    web server's PYTHONPATH on purpose, so its own imports are not counted.)"""
    return sorted(p.name for p in folder.glob("IMPORTED-*") if "wwm.py" in p.read_text())


class CGIRun:
    """Run the CGI file once, as a web server would, with a hostile environment."""

    def __init__(self, root: Path, runs: Path, poison: Path, script: Path = CGI):
        self.root, self.runs, self.poison, self.script = root, runs, poison, script

    def __call__(self, method: str, server: str, params: dict, body: bytes = b"",
                 ctype: str = "application/x-www-form-urlencoded", importtime: bool = False):
        env = {
            # what a web server passes
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "test",
            "REQUEST_METHOD": method, "SCRIPT_NAME": "/cgi-bin/wwm.py", "PATH_INFO": f"/{server}",
            "QUERY_STRING": urllib.parse.urlencode(params), "CONTENT_LENGTH": str(len(body)) if body else "",
            "CONTENT_TYPE": ctype if body else "", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_PROXY": "http://127.0.0.1:9/", "HTTP_HOST": "evil.example", "HTTP_COOKIE": "x=1",
            # the gateway's configuration
            "WWM_ROOT": str(self.root), "WWM_RUNS": str(self.runs), "WWM_ALLOW_ROOT": "1",
            # tricks that must all be ignored under -I -S
            "PYTHONPATH": str(self.poison), "PYTHONSTARTUP": str(self.poison / "startup.py"),
            "PYTHONINSPECT": "1", "PYTHONHOME": str(self.poison), "PYTHONUSERBASE": str(self.poison),
            "PYTHONWARNINGS": "error", "LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin",
        }
        argv = [PYTHON, "-I", "-S"] + (["-X", "importtime"] if importtime else []) + [str(self.script)]
        proc = subprocess.run(argv, input=body, env=env, cwd=str(self.poison), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        assert sep, proc.stdout[:500]
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(": ")
            headers[key.lower()] = value
        status = int(headers["status"].split()[0])
        if method != "HEAD":
            assert int(headers["content-length"]) == len(payload)
        return status, headers, payload, proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """The compiled variant, built the documented way: by the interpreter that runs it."""
    dest = tmp_path_factory.mktemp("compiled") / "wwm.pyz"
    subprocess.run([PYTHON, "-I", "-S", str(CGI), "--compile", str(dest)], check=True, timeout=60,
                   capture_output=True)
    return dest


@pytest.fixture(params=["readable", "compiled"])
def cgi(request, gw_root, tmp_path, poison, compiled):
    runs = tmp_path / "runs"
    yield CGIRun(gw_root, runs, poison, CGI if request.param == "readable" else compiled)
    left = wait_no_program1(runs)
    kill_program1(runs)
    assert not left, f"Program 1 left running: {left}"


def imported_modules(stderr: str) -> set[str]:
    """Top-level module names from ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name.split(".")[0])
    return names


def test_cgi_file_is_the_current_build_of_the_package():
    """cgi-bin/wwm.py is the amalgamation of wwm/protocol and wwm/gateway, as built now."""
    from wwm.gateway import amalgamate

    assert CGI.read_text(encoding="utf-8") == amalgamate.build(), "stale: run `make cgi`"
    assert CGI.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3")
    assert os.access(CGI, os.X_OK)


def test_amalgamation_refuses_clashing_names_and_foreign_imports(tmp_path):
    """Two modules defining one name, or a module importing outside the standard
    library, cannot be joined into the one file: the build says which."""
    import shutil

    from wwm.gateway import amalgamate

    pkg = tmp_path / "wwm"
    shutil.copytree(REPO / "wwm" / "protocol", pkg / "protocol")
    shutil.copytree(REPO / "wwm" / "gateway", pkg / "gateway")
    assert amalgamate.build(str(pkg)) == amalgamate.build()
    rewards = pkg / "protocol" / "rewards.py"
    original = rewards.read_text()
    rewards.write_text(original + "\n\ndef load_server():\n    pass\n")
    with pytest.raises(amalgamate.BuildError, match="load_server.*defined in both"):
        amalgamate.build(str(pkg))
    rewards.write_text("import requests\n" + original)
    with pytest.raises(amalgamate.BuildError, match="requests"):
        amalgamate.build(str(pkg))


def test_static_imports_are_stdlib(stdlib_names):
    """Every import statement in the file, top-level or deferred, names a stdlib module."""
    tree = ast.parse(CGI.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports cannot work in a one-file CGI"
            found.add(node.module.split(".")[0])
    assert found, "no imports found?"
    assert found <= stdlib_names, f"not in the standard library: {sorted(found - stdlib_names)}"


def test_describe_under_isolated_system_python(cgi, stdlib_names, poison):
    status, headers, body, stderr = cgi("GET", "worlds/hello-python", {"query": "Describe"}, importtime=True)
    assert status == 200, body
    assert headers["content-type"].startswith("application/xml")
    assert b"<name>hello-python</name>" in body
    assert markers(poison) == []
    mods = imported_modules(stderr)
    assert mods and mods <= stdlib_names, f"imported outside the standard library: {sorted(mods - stdlib_names)}"


def test_a_whole_run_under_isolated_system_python(cgi, stdlib_names, poison):
    """StartRun .. EndRun: the paths that start processes, lock, write the scoreboard."""
    world = "worlds/tiny"  # a p1.py World: its Program 1 imports nothing outside the stdlib either
    all_mods = set()

    def q(query, method="GET", **params):
        params = {"query": query, "format": "json", **params}
        if method == "POST":
            status, _, body, err = cgi("POST", world, {}, urllib.parse.urlencode(params).encode(), importtime=True)
        else:
            status, _, body, err = cgi("GET", world, params, importtime=True)
        all_mods.update(imported_modules(err))
        return status, json.loads(body)

    status, doc = q("StartRun", seed="5")
    assert status == 200, doc
    run = doc["run"]
    try:
        status, doc = q("GetState", run=run)
        assert status == 200 and doc["state"] == "low: 1\nhigh: 100\n", doc
        status, doc = q("ExecuteAction", "POST", run=run, action="50")
        ref = HelloRef(5)
        assert status == 200 and doc["state"] == ref.step(50), doc
        status, doc = q("GetScore", run=run)
        assert status == 200 and doc["score"] == ref.score(), doc
    finally:
        status, doc = q("EndRun", run=run)
    assert status == 200, doc
    assert markers(poison) == []
    assert all_mods <= stdlib_names, f"imported outside the standard library: {sorted(all_mods - stdlib_names)}"
    for needed in ("subprocess", "fcntl", "json"):
        assert needed in all_mods  # the run paths really were exercised


def test_errors_under_isolated_system_python(cgi, poison):
    status, headers, body, _ = cgi("GET", "worlds/no-such", {"query": "Describe", "format": "json"})
    assert status == 404 and json.loads(body)["status"] == "error"
    status, _, body, _ = cgi("PUT", "worlds/hello-python", {"query": "Describe", "format": "json"})
    assert status == 405
    envelope = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><wwm version="1"><request query="Describe">&e;</request></wwm>'
    status, _, body, _ = cgi("POST", "worlds/hello-python", {}, envelope, ctype="application/xml")
    assert status == 400 and b"root:" not in body
    status, headers, body, _ = cgi("HEAD", "worlds/hello-python", {"query": "Describe"})
    assert status == 200 and body == b""
    assert markers(poison) == []


def test_check_and_refusal_outside_cgi(gw_root, tmp_path):
    env = {"WWM_ROOT": str(gw_root), "WWM_RUNS": str(tmp_path / "runs"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([PYTHON, "-I", "-S", str(CGI), "--check"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and "hello-python" in out.stdout and str(gw_root) in out.stdout
    out = subprocess.run([PYTHON, "-I", "-S", str(CGI)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "CGI" in out.stderr
