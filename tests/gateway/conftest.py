"""Fixtures for the gateway conformance suite.

The same protocol tests run against every way the stock gateway is served:

- ``lighttpd``: ``cgi-bin/wwm.py`` under a real lighttpd (``mod_cgi``,
  ``/usr/bin/python3``), config written here, ``lighttpd -D -f CONF``;
- ``apache``: the same file under a real Apache httpd (``mod_cgid``, runs the
  CGI as www-data), when ``apache2`` is installed;
- ``serve``: ``wwm serve`` (Flask, threaded);
- ``gunicorn``: ``wwm.gateway.wsgi:create_app()`` under gunicorn with three
  workers sharing one runs folder.

Every server gets the same temporary ROOT (the hello-python World and Mind
from the repository plus the misbehaving Program 1s of ``servers/``) and its
own temporary RUNS.  After each test the ``gw`` fixture ends the runs the
test left open, then fails the test if a Program 1 process is still alive
under RUNS, or if a file changed anywhere under the temporary folder outside
the RUNS folders.

Environment: WWM_TEST_BACKENDS=lighttpd,serve limits the backends.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gwkit import (build_root, diff_snapshots, kill_program1, launch, selected_backends, shutdown, snapshot,
                   wait_no_program1)


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run this test only on these backends")


def pytest_collection_modifyitems(config, items):
    """Deselect the backends a test's ``backends`` marker leaves out (no server started for them)."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec else None
        (drop if marker and name and name not in marker.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def gw_base():
    """A world-readable temporary folder (Apache runs its CGI as www-data)."""
    base = Path(tempfile.mkdtemp(prefix="wwm-gw-"))
    os.chmod(base, 0o755)
    build_root(base / "root")
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def gw_root(gw_base) -> Path:
    return gw_base / "root"


@pytest.fixture(scope="session", params=selected_backends())
def backend(request, gw_base, gw_root):
    """A running gateway (one per backend for the whole session)."""
    b = launch(request.param, gw_base, gw_root)
    yield b
    left = shutdown(b)
    assert not left, f"{b.name}: Program 1 processes outlived the server: {left}"


@pytest.fixture
def gw(request, backend, gw_base):
    """The backend for one test, checked afterwards: runs ended, no Program 1
    left running, nothing written outside the RUNS folders."""
    before = snapshot(gw_base)
    backend.started.clear()
    yield backend
    backend.end_leftovers()
    left = wait_no_program1(backend.runs)
    if left:
        kill_program1(backend.runs)
        pytest.fail(f"{backend.name}: Program 1 processes left running after the test: {left}")
    changes = diff_snapshots(before, snapshot(gw_base))
    assert not changes, f"{backend.name}: files written outside the runs folder: {changes[:20]}"
