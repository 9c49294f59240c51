"""Records of what a SPORE node decided and measured, through one small interface.

A sink is any callable ``sink(kind, record)``; ``kind`` is one of :data:`KINDS` and ``record``
a JSON-able dict.  :class:`JsonlSink` appends one line per record to a file (the node's
replayable history); :class:`MemorySink` keeps them in a list (tests, benches).  A knowledge
graph binds to the same interface by adding a callable that writes triples.
"""
from __future__ import annotations

import json
import os
import threading
import time

__all__ = ["KINDS", "JsonlSink", "MemorySink", "GraphSink", "fan_out", "read_jsonl"]

KINDS = ("decision", "round", "model", "measurement", "group")


class JsonlSink:
    """Append records to ``path`` as JSON lines (``{"kind", "time", ...record}``); thread-safe."""

    def __init__(self, path: str | os.PathLike, clock=time.time):
        self.path = os.fspath(path)
        self.clock = clock
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def __call__(self, kind: str, record: dict) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        line = json.dumps({"kind": kind, "time": self.clock(), **record}, sort_keys=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def records(self, kind: str | None = None) -> list[dict]:
        return read_jsonl(self.path, kind)


def read_jsonl(path: str | os.PathLike, kind: str | None = None) -> list[dict]:
    """The records of a :class:`JsonlSink` file (of one ``kind`` when given); [] when absent."""
    try:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [r for r in rows if kind is None or r.get("kind") == kind]


class MemorySink:
    """Keep records in ``self.records`` as ``(kind, record)`` pairs."""

    def __init__(self):
        self.records: list[tuple[str, dict]] = []

    def __call__(self, kind: str, record: dict) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        self.records.append((kind, dict(record)))

    def of(self, kind: str) -> list[dict]:
        return [r for k, r in self.records if k == kind]


def fan_out(*sinks):
    """One sink that writes to several (e.g. the JSONL log and a knowledge graph)."""

    def sink(kind: str, record: dict) -> None:
        for s in sinks:
            s(kind, record)

    return sink


class GraphSink:
    """Write what SPORE records into the node's knowledge graph (wwm.knowledge):
    groups and their members, model versions with their hash, URL, round and
    group, the node's measured held-out reward, moves between groups.

    ``store`` is a :class:`wwm.knowledge.store.KnowledgeStore`, or a callable
    returning one (opened on first use).  A graph that cannot be written never
    stops a round: the failure is logged, and the JSONL log still has it all.
    """

    def __init__(self, store, me: str):
        self._store, self.me = store, me
        self._known = False

    def store(self):
        if callable(self._store) and not hasattr(self._store, "query"):
            self._store = self._store()
        return self._store

    def __call__(self, kind: str, record: dict) -> None:
        from wwm.knowledge import writers

        try:
            store = self.store()
            if not self._known:
                writers.record_node(store, self.me)
                self._known = True
            if kind == "group" and record.get("event") == "founded":
                writers.join_group(store, record["group"], self.me)
            elif kind == "model":
                writers.record_model_version(store, record["sha256"], url=record.get("url"),
                                             round=record.get("round"), group=record.get("owner"), by=self.me,
                                             parents=[i for i in record.get("inputs", []) if isinstance(i, str)])
            elif kind == "measurement" and record.get("what") == "validation_reward":
                writers.record_measurement(store, self.me, "validation_reward", record["value"],
                                           world="worlds/songs", data=f"held-out listeners, round {record.get('round')}",
                                           by=self.me)
            elif kind == "decision" and record.get("action") in ("move", "found") and record.get("to"):
                if record.get("from"):
                    writers.leave_group(store, record["from"], self.me)
                writers.join_group(store, record["to"], self.me)
        except Exception as exc:  # the graph is a view of the log, never a reason to lose a round
            import logging

            logging.getLogger("wwm.spore").warning("knowledge graph not updated (%s): %r", kind, exc)
