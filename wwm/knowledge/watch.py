"""Live: watch ROOT/minds and ROOT/worlds and keep the servers in the graph as folders come and go.

A server folder that is added or whose files change is described again; one
that is removed (or whose manifest breaks) is forgotten.  Reads (watchdog's opened and
closed-without-writing events: the gateway reads manifests all the time) and what a running server
writes into its ``var/`` (a Mind's checkpoints) are not changes.  Events are gathered
for ``delay`` seconds, so an editor's burst of writes makes one update.
``on_change(server_id, "update" | "delete")`` lets other areas react too
(a node sends an actor ``Update`` or ``Delete`` to its followers).
"""
from __future__ import annotations

import os
import threading
from typing import Callable

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from wwm.knowledge import writers
from wwm.knowledge.store import KnowledgeStore, StoreError
from wwm.knowledge.terms import DEFAULT_BASE

__all__ = ["ServerWatch"]

FOLDERS = ("worlds", "minds")
READS = ("opened", "closed_no_write")
#: what a running server writes into its own folder (a Mind's checkpoints in var/): not a change of the server
RUNTIME = ("var", "__pycache__")


class ServerWatch(FileSystemEventHandler):
    """Keep the graph's servers in step with the folders under ``root`` (``start()`` / ``stop()``)."""

    def __init__(self, store: KnowledgeStore, root: str, base: str = DEFAULT_BASE, delay: float = 0.3,
                 on_change: Callable[[str, str], None] | None = None):
        self.store, self.root, self.base = store, os.path.abspath(root), base
        self.delay, self.on_change = delay, on_change
        self.pending: set[str] = set()
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.observer = Observer()

    def start(self) -> "ServerWatch":
        try:
            self._start(self.observer)
        except OSError:  # no inotify left (a per-user limit): poll instead, once a second
            self.observer.stop()
            self.observer = PollingObserver(timeout=1.0)
            self._start(self.observer)
        return self

    def _start(self, observer) -> None:
        for sub in FOLDERS:
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
            observer.schedule(self, os.path.join(self.root, sub), recursive=True)
        observer.daemon = True
        observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(10)
        with self.lock:
            if self.timer:
                self.timer.cancel()

    def on_any_event(self, event) -> None:
        if event.event_type in READS:  # the gateway reading a manifest is no change (and would loop)
            return
        if event.is_directory and event.event_type == "modified":  # its entries' own events say what changed
            return
        for path in (event.src_path, getattr(event, "dest_path", "") or ""):
            rel = os.path.relpath(os.fsdecode(path), self.root).split(os.sep) if path else []
            if len(rel) >= 3 and rel[2] in RUNTIME:
                continue
            if len(rel) >= 2 and rel[0] in FOLDERS and rel[1] not in ("", ".", ".."):
                with self.lock:
                    self.pending.add(f"{rel[0]}/{rel[1]}")
                    if self.timer is None:
                        self.timer = threading.Timer(self.delay, self.flush)
                        self.timer.daemon = True
                        self.timer.start()

    def flush(self) -> None:
        """Describe again, or forget, every server folder touched since the last flush."""
        from wwm.protocol.errors import GatewayError, NotFound
        from wwm.protocol.manifest import NAME_RE, load_server

        with self.lock:
            touched, self.pending, self.timer = sorted(self.pending), set(), None
        for server_id in touched:
            folder = os.path.join(self.root, server_id)
            try:
                try:
                    if not NAME_RE.match(server_id.split("/")[1]):
                        raise NotFound(server_id)
                    writers.record_server(self.store, load_server(folder), self.base)
                    change = "update"
                except GatewayError:  # gone, or a manifest that no longer reads: hidden, as in the index
                    writers.forget_server(self.store, server_id, self.base)
                    change = "delete"
            except StoreError:
                continue  # the store is away; the next change or sync brings it up to date
            if self.on_change:
                self.on_change(server_id, change)
