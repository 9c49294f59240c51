"""Fixtures: the same knowledge-store tests on the embedded store and on a real `oxigraph serve`.

rdflib's in-memory store is not in the suite: its own SPARQL parser loses a tab inside a
string literal, so hostile-literal round trips fail there (it is only used for benchmarks).
"""
from __future__ import annotations

import pytest

from kgkit import OxigraphServer, open_test_store, oxigraph_or_skip


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    """One `oxigraph serve` on 127.0.0.1 for the session (each test clears it)."""
    oxigraph_or_skip()
    server = OxigraphServer(str(tmp_path_factory.mktemp("oxigraph")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "remote"])
def store(request, tmp_path):
    s = open_test_store(request.param, tmp_path, request)
    yield s
    s.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "watch: the app watches ROOT's server folders (uses inotify)")
