"""Actor keys: generated on first start, kept on disk (0600), the same after a restart."""
from __future__ import annotations

import os
import stat
import threading

from wwm.federation import get_federation
from wwm.federation.keys import KeyStore, public_pem


def test_key_generated_once_and_kept(tmp_path):
    store = KeyStore(str(tmp_path / "keys"))
    first = public_pem(store.private_key("fungus"))
    path = tmp_path / "keys" / "fungus.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    again = KeyStore(str(tmp_path / "keys"))  # a restart
    assert public_pem(again.private_key("fungus")) == first
    assert store.private_key("fungus").key_size == 2048


def test_concurrent_first_start_agrees_on_one_key(tmp_path):
    pems = []

    def make():
        pems.append(KeyStore(str(tmp_path / "keys")).public_pem("node"))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pems)) == 1
    assert sorted(os.listdir(tmp_path / "keys")) == ["node.pem"]


def test_bad_names_refused(tmp_path):
    store = KeyStore(str(tmp_path))
    for bad in ("../x", "a/b", "", ".hidden"):
        try:
            store.private_key(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_node_start_makes_keys_for_every_actor(tmp_path, test_root):
    from flask import Flask

    from wwm.federation import init_app

    app = Flask("keys-test")
    app.config.update(ROOT=str(test_root), FEDERATION_BASE_URL="https://node.test",
                      FEDERATION_DIR=str(tmp_path / "state"))
    init_app(app)
    fed = get_federation(app)
    assert sorted(os.listdir(tmp_path / "state" / "keys")) == ["fungus-world.pem", "fungus.pem", "node.pem"]
    doc = fed.actor_document("fungus")
    assert doc["publicKey"]["publicKeyPem"] == fed.keys.public_pem("fungus")
    fed.close()
