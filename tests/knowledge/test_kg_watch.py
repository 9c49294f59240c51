"""ServerWatch: live server folders, on inotify and, when inotify is used up, by polling."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from wwm.knowledge.store import EmbeddedStore
from wwm.knowledge.watch import ServerWatch
from wwm.knowledge.writers import server_iri


def wait_for(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the graph did not follow the folders"
        time.sleep(0.1)


@pytest.mark.parametrize("inotify", [True, False])
def test_watch_follows_folders(tmp_path, monkeypatch, inotify):
    if not inotify:  # as when the per-user inotify limit is reached
        from watchdog.observers import Observer

        def refuse(*args, **kwargs):
            raise OSError(24, "inotify instance limit reached")

        monkeypatch.setattr(Observer, "schedule", refuse)
    changes = []
    store = EmbeddedStore(str(tmp_path / "kg"))
    watch = ServerWatch(store, str(tmp_path / "root"), delay=0.2, on_change=lambda *c: changes.append(c)).start()
    try:
        folder = tmp_path / "root" / "worlds" / "w1"
        folder.mkdir()
        (folder / "wwm.toml").write_text('kind = "world"\nname = "w1"\ncommand = "true"\n')
        s = server_iri("worlds/w1")
        wait_for(lambda: store.query("ASK { ?s a <https://w3id.org/wwm/ns#World> }", {"s": s}).askAnswer)
        (folder / "wwm.toml").write_text('kind = "world"\nname = "WRONG"\ncommand = "true"\n')  # breaks: hidden
        wait_for(lambda: not store.query("ASK { ?s ?p ?o }", {"s": s}).askAnswer)
        (folder / "wwm.toml").write_text('kind = "world"\nname = "w1"\ncommand = "true"\n')
        wait_for(lambda: store.query("ASK { ?s ?p ?o }", {"s": s}).askAnswer)
        shutil.rmtree(folder)
        wait_for(lambda: not store.query("ASK { ?s ?p ?o }", {"s": s}).askAnswer)
        wait_for(lambda: changes and changes[-1] == ("worlds/w1", "delete"))
        assert ("worlds/w1", "update") in changes
    finally:
        watch.stop()
        store.close()
    assert os.path.isdir(tmp_path / "root" / "minds")


def test_reads_and_runtime_files_are_no_change(tmp_path):
    """Reading a manifest (as the gateway does on every request) and a Mind writing its checkpoints
    into var/ must not count as changes: each would send an actor Update to every follower."""
    changes = []
    store = EmbeddedStore(str(tmp_path / "kg"))
    folder = tmp_path / "root" / "minds" / "m1"
    folder.mkdir(parents=True)
    (folder / "wwm.toml").write_text('kind = "mind"\nname = "m1"\ncommand = "true"\n')
    watch = ServerWatch(store, str(tmp_path / "root"), delay=0.2, on_change=lambda *c: changes.append(c)).start()
    try:
        for _ in range(5):
            (folder / "wwm.toml").read_text()
        (folder / "var").mkdir()
        (folder / "var" / "weights.safetensors").write_bytes(b"0" * 100)
        (folder / "var" / "weights.safetensors").write_bytes(b"1" * 100)
        time.sleep(1.5)
        assert changes == []
        (folder / "wwm.toml").write_text('kind = "mind"\nname = "m1"\ndescription = "new"\ncommand = "true"\n')
        wait_for(lambda: changes == [("minds/m1", "update")])
        time.sleep(1.0)
        assert changes == [("minds/m1", "update")]  # describing it again read the manifest: no loop
    finally:
        watch.stop()
        store.close()
