"""Weights between nodes: content-addressed safetensors files, served by URL, fetched with checks.

A node keeps every weights file it publishes in a :class:`WeightStore`, named by the SHA-256 of
its bytes and served at ``BASE/spore/weights/SHA256.safetensors``.  A peer fetches it with
:func:`fetch_weights`, which refuses, before a single tensor is read:

- a URL the SSRF guard refuses (``wwm.federation.fetch.SafeHTTP``: no private addresses unless
  the test setting allows them, checked redirects, timeouts);
- a body over the size cap (the declared length first, then while reading);
- bytes whose SHA-256 is not the announced one;
- anything that is not a ``wwm-fungus/1`` safetensors file with exactly the model's tensor
  names, float32 dtypes and shapes, made for the same catalog (``items_sha256``) and domain
  (``wwm.fungus.weights.check_file_bytes`` reads only the header);
- then, reading the tensors, NaN or infinite values.

Nothing is ever unpickled.  The request is signed (draft-cavage) as the node's actor, so a
host with authorized fetch on can tell who asks.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from wwm.fungus.weights import (FORMAT, WeightsError, check_file_bytes, sha256_bytes, weights_from_bytes,
                                write_bytes_atomic)

__all__ = ["WeightStore", "Fetched", "fetch_weights", "weights_path", "SHA_RE", "DEFAULT_MAX_BYTES"]

SHA_RE = re.compile(r"[0-9a-f]{64}\Z")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def weights_path(sha256: str) -> str:
    """The URL path of a weights file, below the node's base URL."""
    if not SHA_RE.match(sha256 or ""):
        raise WeightsError("not a SHA-256 hex digest")
    return f"/spore/weights/{sha256}.safetensors"


class WeightStore:
    """Weights files in ``folder``, each named ``SHA256.safetensors`` after its own bytes."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        """Keep ``data`` (idempotent); returns its SHA-256."""
        sha = sha256_bytes(data)
        path = self.folder / f"{sha}.safetensors"
        if not path.exists():
            write_bytes_atomic(path, data)
        return sha

    def path(self, sha256: str) -> Path | None:
        """The file of ``sha256`` (None when absent or not a digest: no path tricks)."""
        if not SHA_RE.match(sha256 or ""):
            return None
        path = self.folder / f"{sha256}.safetensors"
        return path if path.is_file() else None

    def get(self, sha256: str) -> bytes | None:
        path = self.path(sha256)
        return path.read_bytes() if path else None

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.safetensors"))


@dataclass
class Fetched:
    """Checked weights from a peer."""

    tensors: dict[str, torch.Tensor]
    meta: dict
    sha256: str
    nbytes: int


def fetch_weights(http, url: str, sha256: str, expected_shapes: dict, *, items_sha256: str,
                  domain: str | None = None, signer=None, max_bytes: int = DEFAULT_MAX_BYTES) -> Fetched:
    """GET ``url`` (signed), check it, and only then read its tensors.

    Args:
        http: a :class:`wwm.federation.fetch.SafeHTTP`.
        sha256: the digest the announcement named; the bytes must have it.
        expected_shapes: the local model's ``shapes()``.
        items_sha256: the local catalog's fingerprint; the file must be made for it.
        domain: the file's domain must be this one, when given.
        signer: signs the GET (``Federation.signer_for(node)``).
        max_bytes: the largest body read.

    Raises:
        WeightsError: the file must not be used (hash, size, format, dtype, shape, catalog, values).
        wwm.federation.FetchError: it could not be fetched (network, HTTP status, SSRF guard).
    """
    from wwm.federation.errors import FetchError

    if not SHA_RE.match(sha256 or ""):
        raise WeightsError("the announced digest is not a SHA-256 hex digest")
    try:
        resp, body = http.request("GET", url, headers={"Accept": "application/octet-stream"}, signer=signer,
                                  max_bytes=max_bytes)
    except FetchError as exc:
        if "too large" in str(exc):
            raise WeightsError(f"weights file over the {max_bytes}-byte cap") from None
        raise
    if resp.status_code != 200:
        raise FetchError(f"GET {url[:200]}: HTTP {resp.status_code}")
    if sha256_bytes(body) != sha256:
        raise WeightsError("content hash does not match the announced one")
    meta_expect = {"format": FORMAT, "items_sha256": items_sha256}
    if domain is not None:
        meta_expect["domain"] = domain
    check_file_bytes(body, expected_shapes, meta_expect)  # header only: before any tensor is read
    tensors, meta = weights_from_bytes(body, expected_shapes, meta_expect)
    return Fetched(tensors, meta, sha256, len(body))
