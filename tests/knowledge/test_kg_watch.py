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
