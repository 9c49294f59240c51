"""Safe weights files for fungus models: safetensors only, checked before use.

Format (``wwm-fungus/1``): a safetensors file whose tensors are exactly the model's
``state_dict()`` (float32), with string metadata:

    format        "wwm-fungus/1"
    domain        "songs" | "ml-100k" | …
    items_sha256  SHA-256 of the newline-joined item ids (the item order the rows follow)
    n_items, dim, hidden, max_history   the model's shape
    steps, samples  how much it has learned (for weighting in federated averaging)
    created       ISO time (informational)

Reading never unpickles anything.  A file is refused (:class:`WeightsError`) when it is not a
safetensors file (a pickle, a ``torch.save`` zip, anything else), is larger than the cap, has a
header that is too large or not JSON, has tensors other than the expected names, dtypes or
shapes, holds NaN/inf values, or was made for another catalog (``items_sha256``) or shape.
The shapes and dtypes are checked from the header, before any tensor data is touched.

The bytes of an exported file are content-addressed: :func:`export_weights` returns their
SHA-256, which peers check after fetching (a later federation issue moves them over
ActivityPub by URL).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from pathlib import Path
from typing import Mapping

import torch

FORMAT = "wwm-fungus/1"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024
_DTYPES = {"F32": torch.float32}


class WeightsError(ValueError):
    """A weights file that must not be used."""


def _describe_bad_magic(data: bytes) -> str:
    if data[:1] == b"\x80" or data[:2] in (b"\x80\x02", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle; pickle payloads are refused"
    if data[:2] == b"PK":
        return "a zip archive (torch.save format, which holds a pickle); refused"
    if data[:1] in (b"(", b"c", b"]", b"}"):
        return "possibly a protocol-0 pickle; refused"
    return "not a safetensors file"


def parse_header(data: bytes) -> tuple[dict, dict]:
    """(tensor entries, metadata) of safetensors bytes, after strict checks."""
    if len(data) < 10:
        raise WeightsError("file too short to be safetensors: " + _describe_bad_magic(data))
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > MAX_HEADER_BYTES or 8 + n > len(data) or data[8:9] != b"{":
        raise WeightsError(_describe_bad_magic(data))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeightsError("safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise WeightsError("safetensors header is not an object")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise WeightsError("safetensors metadata must map strings to strings")
    body = len(data) - 8 - n
    for name, ent in header.items():
        if not isinstance(ent, dict) or set(ent) != {"dtype", "shape", "data_offsets"}:
            raise WeightsError(f"tensor {name!r}: malformed header entry")
        a, b = ent["data_offsets"]
        if not (isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= body):
            raise WeightsError(f"tensor {name!r}: offsets outside the file")
    return header, meta


def check_file_bytes(data: bytes, expected: Mapping[str, tuple[int, ...]],
                     meta_expect: Mapping[str, str] | None = None) -> dict:
    """Check header, names, dtypes, shapes and metadata; return the metadata."""
    if len(data) > MAX_FILE_BYTES:
        raise WeightsError(f"weights file larger than {MAX_FILE_BYTES} bytes")
    header, meta = parse_header(data)
    if meta.get("format") != FORMAT:
        raise WeightsError(f"format {meta.get('format')!r} is not {FORMAT!r}")
    for k, v in (meta_expect or {}).items():
        if meta.get(k) != v:
            raise WeightsError(f"metadata {k}={meta.get(k)!r} does not match this model ({v!r})")
    names, want = set(header), set(expected)
    if names != want:
        missing, extra = sorted(want - names), sorted(names - want)
        raise WeightsError(f"tensor names differ: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        ent = header[name]
        if ent["dtype"] not in _DTYPES:
            raise WeightsError(f"tensor {name!r}: dtype {ent['dtype']} (want F32)")
        if tuple(ent["shape"]) != tuple(shape):
            raise WeightsError(f"tensor {name!r}: shape {tuple(ent['shape'])} "
                               f"does not match the model's {tuple(shape)}")
        a, b = ent["data_offsets"]
        if b - a != 4 * _numel(shape):
            raise WeightsError(f"tensor {name!r}: {b - a} bytes for shape {tuple(shape)}")
    return meta


def _numel(shape) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


def weights_to_bytes(state: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    from safetensors.torch import save
    meta = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    meta.update({k: str(v) for k, v in metadata.items()})
    tensors = {k: v.detach().to(torch.float32).contiguous().cpu() for k, v in state.items()}
    return save(tensors, metadata=meta)


def weights_from_bytes(data: bytes, expected: Mapping[str, tuple[int, ...]],
                       meta_expect: Mapping[str, str] | None = None
                       ) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata from checked safetensors bytes (never unpickles)."""
    meta = check_file_bytes(data, expected, meta_expect)
    from safetensors.torch import load
    try:
        tensors = load(bytes(data))
    except Exception as e:
        raise WeightsError(f"unreadable safetensors data: {e}") from None
    for name, t in tensors.items():
        if not torch.isfinite(t).all():
            raise WeightsError(f"tensor {name!r} holds NaN or infinite values")
    return tensors, meta


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.tmp{os.getpid()}{p.suffix}")   # *.safetensors: git-ignored
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
    return p


def read_bytes_capped(path: str | os.PathLike) -> bytes:
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WeightsError(f"{p}: larger than {MAX_FILE_BYTES} bytes")
    with open(p, "rb") as f:
        return f.read(MAX_FILE_BYTES + 1)


def model_metadata(model, domain: str, items_sha256: str, steps: int = 0,
                   samples: int = 0) -> dict[str, str]:
    cfg = model.config()
    return {"domain": domain, "items_sha256": items_sha256, "steps": str(int(steps)),
            "samples": str(int(samples)), **{k: str(v) for k, v in cfg.items()}}


def export_weights(model, path: str | os.PathLike, domain: str, items_sha256: str,
                   steps: int = 0, samples: int = 0) -> str:
    """Write the model's weights to ``path`` (atomically); return the file's SHA-256."""
    data = weights_to_bytes(model.state_dict(),
                            model_metadata(model, domain, items_sha256, steps, samples))
    write_bytes_atomic(path, data)
    return sha256_bytes(data)


def import_weights(model, path_or_bytes, items_sha256: str | None = None,
                   expect_sha256: str | None = None) -> dict:
    """Load checked weights into ``model`` (in place); return the file's metadata.

    ``items_sha256``: refuse weights made for another item list.  ``expect_sha256``: refuse
    bytes whose digest differs (content addressing)."""
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) \
        else read_bytes_capped(path_or_bytes)
    if expect_sha256 is not None and sha256_bytes(bytes(data)) != expect_sha256:
        raise WeightsError("content hash does not match the announced one")
    expect_meta = {"format": FORMAT}
    if items_sha256 is not None:
        expect_meta["items_sha256"] = items_sha256
    tensors, meta = weights_from_bytes(bytes(data), model.shapes(), expect_meta)
    model.load_state_dict(tensors, strict=True)
    return meta
