"""Checkpoints: weights only (safetensors), checked before use."""
from __future__ import annotations

import io
import json
import pickle
import struct

import numpy as np
import pytest
import torch

from wwm.fungus.learner import FungusLearner
from wwm.fungus.weights import WeightsError, export_weights, import_weights, parse_header

ITEMS = [f"i{k}" for k in range(40)]


def learner(seed=0, dim=8, items=ITEMS, features=True, fp="fp-A"):
    feats = np.random.default_rng(1).normal(size=(len(items), 5)) if features else None
    return FungusLearner(items, feats, domain="test", fingerprint=fp, dim=dim, hidden=16,
                         max_history=6, seed=seed)


def trained(seed=0):
    lrn = learner(seed)
    for k in range(30):
        lrn.observe([ITEMS[k % 7], ITEMS[(k + 1) % 7]], ITEMS[(k * 3) % 40])
    return lrn


def test_round_trip_gives_identical_scores(tmp_path):
    a = trained()
    digest = a.save(tmp_path / "w.safetensors")
    b = learner(seed=99)                       # different initial weights
    meta = b.load(tmp_path / "w.safetensors", expect_sha256=digest)
    assert meta["domain"] == "test" and meta["items_sha256"] == "fp-A"
    assert int(meta["samples"]) == 30 and b.samples == 30
    h = [ITEMS[1], ITEMS[2]]
    assert np.array_equal(a.scores(h), b.scores(h))
    assert a.recommend(h, 5) == b.recommend(h, 5)


def test_file_is_plain_safetensors(tmp_path):
    a = trained()
    a.save(tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    header, meta = parse_header(data)
    assert meta["format"] == "wwm-fungus/1"
    assert set(header) == set(a.model.state_dict())
    from safetensors.torch import load_file
    assert set(load_file(str(tmp_path / "w.safetensors"))) == set(header)


class Boom:
    def __reduce__(self):
        return (print, ("pickle payload executed!",))


@pytest.mark.parametrize("make", [
    lambda m: pickle.dumps({"x": Boom()}),
    lambda m: pickle.dumps(m.state_dict(), protocol=0),
    lambda m: _torch_save(m.state_dict()),
    lambda m: b"",
    lambda m: b"\x00" * 64,
    lambda m: struct.pack("<Q", 10 ** 12) + b"{}",
])
def test_pickles_and_junk_are_refused(tmp_path, make, capsys):
    a = trained()
    p = tmp_path / "bad.safetensors"
    p.write_bytes(make(a.model))
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    with pytest.raises(WeightsError):
        a.load(p)
    assert "executed" not in capsys.readouterr().out
    assert all(torch.equal(before[k], v) for k, v in a.model.state_dict().items())


def _torch_save(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_pickle_message_says_why(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(WeightsError, match="pickle"):
        trained().load(p)
    p.write_bytes(_torch_save({"a": torch.zeros(2)}))
    with pytest.raises(WeightsError, match="pickle|zip"):
        trained().load(p)


def test_wrong_shapes_names_catalog_and_values_are_refused(tmp_path):
    a = trained()
    a.save(tmp_path / "a.safetensors")
    with pytest.raises(WeightsError, match="shape"):
        learner(dim=12).load(tmp_path / "a.safetensors")          # another dim
    with pytest.raises(WeightsError, match="items_sha256"):
        learner(fp="fp-B").load(tmp_path / "a.safetensors")       # another catalog
    with pytest.raises(WeightsError, match="names"):
        learner(features=False).load(tmp_path / "a.safetensors")  # another architecture
    from safetensors.torch import save
    sd = {k: v.clone() for k, v in a.model.state_dict().items()}
    sd["out_bias"][0] = float("nan")
    meta = {"format": "wwm-fungus/1", "items_sha256": "fp-A"}
    (tmp_path / "nan.safetensors").write_bytes(save(sd, metadata=meta))
    with pytest.raises(WeightsError, match="NaN"):
        a.load(tmp_path / "nan.safetensors")
    sd = {k: v.clone() for k, v in a.model.state_dict().items()}
    sd["extra"] = torch.zeros(3)
    (tmp_path / "extra.safetensors").write_bytes(save(sd, metadata=meta))
    with pytest.raises(WeightsError, match="unexpected"):
        a.load(tmp_path / "extra.safetensors")
    sd = {k: v.to(torch.float64) for k, v in a.model.state_dict().items()}
    (tmp_path / "f64.safetensors").write_bytes(save(sd, metadata=meta))
    with pytest.raises(WeightsError, match="dtype"):
        a.load(tmp_path / "f64.safetensors")
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(WeightsError):
        a.load(tmp_path / "cut.safetensors")
    with pytest.raises(WeightsError, match="hash"):
        a.load(tmp_path / "a.safetensors", expect_sha256="0" * 64)


def test_header_json_tricks_are_refused():
    bad = json.dumps({"__metadata__": {"format": 1}}).encode()
    with pytest.raises(WeightsError):
        parse_header(struct.pack("<Q", len(bad)) + bad)
    bad = json.dumps({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 99]}}).encode()
    with pytest.raises(WeightsError, match="offsets"):
        parse_header(struct.pack("<Q", len(bad)) + bad + b"\x00" * 8)


def test_export_import_functions(tmp_path):
    a = trained()
    digest = export_weights(a.model, tmp_path / "e.safetensors", "test", "fp-A", 3, 30)
    b = learner(seed=5)
    meta = import_weights(b.model, (tmp_path / "e.safetensors").read_bytes(), "fp-A", digest)
    assert meta["steps"] == "3"
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
