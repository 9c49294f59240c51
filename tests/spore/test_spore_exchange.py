"""Weights exchange: content addressing, signed capped fetch, and every check before any tensor is read."""
from __future__ import annotations

import pickle
import struct
import json
import time

import pytest
import torch
from cryptography.hazmat.primitives.asymmetric import rsa

from sporekit import ITEMS_SHA, model_bytes, small_model
from wwm.federation.errors import ForbiddenAddress
from wwm.federation.fetch import SafeHTTP
from wwm.federation.httpsig import KeyInfo, sign_request, verify_request
from wwm.fungus.weights import WeightsError, sha256_bytes
from wwm.spore import exchange
from wwm.spore.exchange import WeightStore, fetch_weights, weights_path

HTTP = SafeHTTP(allow_private=True, allow_http=True)


@pytest.fixture
def spy_loads(monkeypatch):
    """Counts calls of the function that reads tensors (so a test can show nothing was loaded)."""
    calls = []
    real = exchange.weights_from_bytes

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(exchange, "weights_from_bytes", spy)
    return calls


def test_store_is_content_addressed_and_refuses_path_tricks(tmp_path):
    store = WeightStore(tmp_path)
    data = model_bytes(small_model())
    sha = store.put(data)
    assert sha == sha256_bytes(data) and store.get(sha) == data
    assert store.put(data) == sha and len(list(tmp_path.iterdir())) == 1
    for bad in ("../" + sha, sha[:-1], sha.upper(), "x" * 64, ""):
        assert store.path(bad) is None
    assert weights_path(sha) == f"/spore/weights/{sha}.safetensors"
    with pytest.raises(WeightsError):
        weights_path("../etc/passwd")


def test_fetch_checks_hash_and_loads_signed(byte_server, spy_loads):
    model = small_model(seed=1)
    data = model_bytes(model, samples=42)
    sha = sha256_bytes(data)
    byte_server.files[weights_path(sha)] = data
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = "http://peer.test/ap/actors/node#main-key"

    def signer(method, url, body, headers):
        return sign_request(method, url, key_id=key_id, private_key=key, body=body, headers=headers)

    got = fetch_weights(HTTP, byte_server.base + weights_path(sha), sha, small_model().shapes(),
                        items_sha256=ITEMS_SHA, domain="songs", signer=signer)
    assert got.sha256 == sha and got.nbytes == len(data) and got.meta["samples"] == "42"
    for name, tensor in model.state_dict().items():
        assert torch.equal(got.tensors[name], tensor)
    assert spy_loads == [1]
    # the GET was signed, and the signature verifies with the node's public key
    req = byte_server.requests[-1]
    info = KeyInfo(key_id, "http://peer.test/ap/actors/node", "", key.public_key())
    verified = verify_request("GET", weights_path(sha), req["headers"].get, b"", now=time.time(),
                              resolve_key=lambda k, refresh=False: info)
    assert verified.key.key_id == key_id


def _serve(byte_server, data: bytes, sha: str | None = None) -> tuple[str, str]:
    sha = sha or sha256_bytes(data)
    byte_server.files[weights_path(sha)] = data
    return byte_server.base + weights_path(sha), sha


def _fetch(url, sha, **kw):
    return fetch_weights(HTTP, url, sha, small_model().shapes(), items_sha256=ITEMS_SHA, domain="songs", **kw)


def test_wrong_hash_refused_and_nothing_loaded(byte_server, spy_loads):
    honest = model_bytes(small_model())
    url, _ = _serve(byte_server, model_bytes(small_model(seed=9)), sha256_bytes(honest))  # swapped content
    with pytest.raises(WeightsError, match="hash"):
        _fetch(url, sha256_bytes(honest))
    assert spy_loads == []


@pytest.mark.parametrize("case", ["pickle", "shape", "dtype", "catalog", "extra_tensor", "oversized_header",
                                  "offsets", "domain"])
def test_poisoned_files_refused_before_any_tensor_is_read(byte_server, spy_loads, case):
    model = small_model()
    if case == "pickle":
        data = pickle.dumps({"item_emb.weight": [1.0]})
    elif case == "shape":
        data = model_bytes(small_model(n_items=31))
    elif case == "dtype":
        from safetensors.torch import save
        state = {k: v.double() for k, v in model.state_dict().items()}
        data = save(state, metadata={"format": "wwm-fungus/1", "items_sha256": ITEMS_SHA, "domain": "songs"})
    elif case == "catalog":
        data = model_bytes(model, items_sha="cd" * 32)
    elif case == "extra_tensor":
        state = dict(model.state_dict(), backdoor=torch.zeros(3))
        data = model_bytes(model, state=state)
    elif case == "oversized_header":
        data = struct.pack("<Q", 1 << 40) + b"{}" + b"\0" * 100
    elif case == "offsets":  # a header pointing outside the file
        header = json.dumps({"__metadata__": {"format": "wwm-fungus/1"},
                             "x": {"dtype": "F32", "shape": [1 << 20], "data_offsets": [0, 4 << 20]}}).encode()
        data = struct.pack("<Q", len(header)) + header + b"\0" * 16
    else:
        from wwm.fungus.weights import model_metadata, weights_to_bytes
        data = weights_to_bytes(model.state_dict(), model_metadata(model, "ml-100k", ITEMS_SHA))
    url, sha = _serve(byte_server, data)
    with pytest.raises(WeightsError):
        _fetch(url, sha)
    assert spy_loads == []


def test_nan_values_refused(byte_server):
    model = small_model()
    state = model.state_dict()
    state["out_bias"][3] = float("nan")
    url, sha = _serve(byte_server, model_bytes(model, state=state))
    with pytest.raises(WeightsError, match="NaN"):
        _fetch(url, sha)


def test_oversized_body_refused_and_nothing_loaded(byte_server, spy_loads):
    data = model_bytes(small_model())
    url, sha = _serve(byte_server, data)
    with pytest.raises(WeightsError, match="cap"):
        _fetch(url, sha, max_bytes=len(data) - 1)
    assert spy_loads == []


def test_private_addresses_refused_without_the_test_setting(byte_server, spy_loads):
    url, sha = _serve(byte_server, model_bytes(small_model()))
    strict = SafeHTTP(allow_private=False, allow_http=True)
    with pytest.raises(ForbiddenAddress):
        fetch_weights(strict, url, sha, small_model().shapes(), items_sha256=ITEMS_SHA)
    assert byte_server.requests == [] and spy_loads == []


def test_bad_announced_digest_refused_without_a_request(byte_server):
    with pytest.raises(WeightsError):
        _fetch(byte_server.base + "/x", "not-a-digest")
    assert byte_server.requests == []
