"""The record sink: JSONL lines a knowledge graph can replay, kinds checked, fan-out."""
from __future__ import annotations

import pytest

from wwm.spore.sink import JsonlSink, MemorySink, fan_out, read_jsonl


def test_jsonl_sink_appends_replayable_records(tmp_path):
    path = tmp_path / "log" / "spore.jsonl"
    sink = JsonlSink(path, clock=lambda: 123.0)
    memory = MemorySink()
    both = fan_out(sink, memory)
    both("decision", {"action": "move", "gain": 0.02})
    both("round", {"round": 1})
    assert read_jsonl(path) == [{"kind": "decision", "time": 123.0, "action": "move", "gain": 0.02},
                                {"kind": "round", "time": 123.0, "round": 1}]
    assert sink.records("round") == [{"kind": "round", "time": 123.0, "round": 1}]
    assert memory.of("decision") == [{"action": "move", "gain": 0.02}]
    assert read_jsonl(tmp_path / "absent.jsonl") == []


def test_unknown_kinds_refused(tmp_path):
    with pytest.raises(ValueError):
        JsonlSink(tmp_path / "x.jsonl")("gossip", {})
    with pytest.raises(ValueError):
        MemorySink()("gossip", {})
