"""Fixtures for the federation tests: a small ROOT, apps, a fake remote server, a test CA."""
from __future__ import annotations

import pytest
from flask import Flask

from fedkit import MIND_TOML, WORLD_TOML, FakeRemote, make_config, make_tls_files
from wwm.federation import init_app


@pytest.fixture(scope="session")
def test_root(tmp_path_factory):
    """A ROOT with one Mind (fungus) and one World that shares its name."""
    root = tmp_path_factory.mktemp("root")
    (root / "minds" / "fungus").mkdir(parents=True)
    (root / "minds" / "fungus" / "wwm.toml").write_text(MIND_TOML)
    (root / "worlds" / "fungus").mkdir(parents=True)
    (root / "worlds" / "fungus" / "wwm.toml").write_text(WORLD_TOML)
    return root


@pytest.fixture(scope="session")
def key_cache(tmp_path_factory, test_root):
    """Keys for the test actors, generated once per session and copied into each app's folder."""
    from wwm.federation.keys import KeyStore

    folder = tmp_path_factory.mktemp("keys")
    store = KeyStore(str(folder))
    for name in ("node", "fungus", "fungus-world"):
        store.private_key(name)
    return folder


@pytest.fixture
def make_app(tmp_path, test_root, key_cache):
    """``make_app(**config)``: a Flask app with only the federation blueprint."""
    apps = []

    def make(**extra):
        app = Flask("federation-test")
        app.config.update(make_config(tmp_path, test_root, key_cache, **extra))
        init_app(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        fed = app.extensions["wwm.federation"]
        if fed is not None:
            fed.close()


@pytest.fixture
def remote():
    server = FakeRemote()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """(ca.pem, cert.pem, key.pem): a throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
