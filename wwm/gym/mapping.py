"""Spaces declared in a manifest, and the rules that map their values to and from text or XML.

A World declares its spaces in its manifest (``wwm.toml``)::

    [spaces]
    observation = { type = "Box", low = -1.0, high = 1.0, shape = [4], dtype = "float32" }
    action = { type = "Discrete", n = 2 }

A space table has a ``type`` and the arguments of the Gymnasium space:

==============  ==========================================================  ==================
type            keys                                                        text form
==============  ==========================================================  ==================
Discrete        ``n``, ``start`` (0), ``labels`` (optional, n words)        ``3`` (or ``N``)
Box             ``low``, ``high`` (number or nested list), ``shape``,       ``0.5 -1 2.25``
                ``dtype`` (float32)
MultiDiscrete   ``nvec`` (list), ``start`` (list, optional)                 ``3 0 7``
MultiBinary     ``n``                                                       ``0 1 1``
Text            ``max_length`` (64), ``min_length`` (0), ``charset``        the text itself
                (optional: any character when absent)
Dict            ``spaces``: a table of the above (not Dict or Text with     ``key: value``
                newlines)                                                   lines
==============  ==========================================================  ==================

Text rules, both ways:

- Numbers are separated by spaces (commas are read too: ``robot: 5,3``),
  row-major for a Box with several dimensions; only ASCII numbers are read
  (integers of at most 18 digits, decimals, ``inf``, ``nan``). Whole numbers print without a
  decimal point; float32 values print in their shortest form that reads back
  to the same float32 (``0.1``), float64 values as Python's ``repr``;
  ``inf``, ``-inf`` and ``nan`` as written.
- A Discrete with ``labels`` maps value ``start + i`` to ``labels[i]`` (an
  action ``N`` for the house robot); a label is read back case-insensitively.
- A Dict is one ``key: value`` line per key, in the order declared. When
  reading, lines whose key the Dict does not name are ignored (a state may
  carry more than the space describes); a missing key is an error.

XML rules (a payload that starts with ``<``): a Dict reads the text of the
root's child element of each key's name (or, failing that, the root's
attribute of that name); any other space reads the root's own text. When the
World only speaks XML (``formats = ["xml"]``) an action is written as
``<action>VALUE</action>``, a Dict as ``<action><KEY>VALUE</KEY>…</action>``.

Reading a value outside its space raises :class:`SpaceError`, naming the value
and the space.
"""
from __future__ import annotations

import math
import re
import string
from xml.etree import ElementTree as ET

import numpy as np
from gymnasium import spaces as gs

from wwm.protocol.xmlsafe import parse_xml

__all__ = ["SpaceError", "Codec", "codec", "spec_of", "text_spec", "to_toml", "format_value"]

SEPARATORS = re.compile(r"[\s,]+")
# ASCII only: Python's int() and float() would also take "１", "1_000" or "infinity"
INTEGER = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|nan)", re.ASCII)
# sampling alphabet for a Text space that accepts any character
SAMPLE_CHARS = string.ascii_letters + string.digits + string.punctuation + " "


class SpaceError(ValueError):
    """A value that is not in its declared space, or a space table that is not valid."""


class AnyText(gs.Text):
    """A Text space that holds any string of the right length (a World's free-form state)."""

    def contains(self, x) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length


def _number(x, dtype) -> str:
    """One number as text: shortest exact form for its dtype."""
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
        return str(int(x))
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    if np.dtype(dtype) == np.float32:
        return np.format_float_scientific(np.float32(x), unique=True, trim="-") if abs(x) < 1e-4 or abs(x) >= 1e16 \
            else np.format_float_positional(np.float32(x), unique=True, trim="-")
    return repr(x)


def format_value(x, dtype=np.float64) -> str:
    """A number as the text rules write it (used for manifests too)."""
    return _number(x, np.dtype(dtype))


class Codec:
    """One space: the Gymnasium space, and its value <-> text mapping."""

    def __init__(self, spec: dict, space: gs.Space):
        self.spec, self.space = spec, space

    def __repr__(self) -> str:
        return f"<Codec {self.space}>"

    def encode(self, value) -> str:
        """The text form of ``value`` (a value of the space)."""
        raise NotImplementedError

    def parse(self, text: str):
        """The value for ``text``; SpaceError when it is not in the space."""
        raise NotImplementedError

    def decode(self, payload: str):
        """The value of a whole payload: text, or one XML element."""
        if payload.lstrip().startswith("<"):
            return self.parse(xml_text(payload))
        return self.parse(payload)

    def encode_xml(self, value, tag: str = "action") -> str:
        elem = ET.Element(tag)
        elem.text = self.encode(value)
        return ET.tostring(elem, encoding="unicode")

    def check(self, value, text: str):
        if not self.space.contains(value):
            raise self.error(text)
        return value

    def error(self, text: str, why: str = "") -> SpaceError:
        shown = text if len(text) <= 200 else text[:200] + "…"
        return SpaceError(f"{shown!r} is not in the space {self.space}{': ' + why if why else ''}")


def xml_text(payload: str) -> str:
    root = parse_xml(payload, "payload")
    return "".join(root.itertext()) if len(root) else (root.text or "")


class DiscreteCodec(Codec):
    def __init__(self, spec, space, labels):
        super().__init__(spec, space)
        self.labels = labels
        self.index = {w.upper(): i for i, w in enumerate(labels or ())}

    def encode(self, value) -> str:
        i = int(value) - int(self.space.start)
        return self.labels[i] if self.labels else str(int(value))

    def parse(self, text: str):
        word = text.strip()
        if self.labels and word.upper() in self.index:
            return self.check(np.int64(self.space.start + self.index[word.upper()]), text)
        if not INTEGER.fullmatch(word):
            raise self.error(text, "not an integer" + (f" nor one of {', '.join(self.labels)}" if self.labels else ""))
        return self.check(np.int64(int(word)), text)


class ArrayCodec(Codec):
    """Box, MultiDiscrete, MultiBinary: numbers separated by spaces."""

    def encode(self, value) -> str:
        arr = np.asarray(value, dtype=self.space.dtype)
        return " ".join(_number(x, arr.dtype) for x in arr.ravel())

    def parse(self, text: str):
        words = [w for w in SEPARATORS.split(text.strip()) if w]
        shape = self.space.shape
        if len(words) != int(np.prod(shape)):
            raise self.error(text, f"{len(words)} numbers, not {int(np.prod(shape))}")
        integer = np.issubdtype(self.space.dtype, np.integer)
        if not all((INTEGER if integer else NUMBER).fullmatch(w) for w in words):
            raise self.error(text, "not numbers of its type")
        try:
            nums = [int(w) for w in words] if integer else [float(w) for w in words]
            arr = np.array(nums, dtype=self.space.dtype).reshape(shape)
        except (ValueError, OverflowError):
            raise self.error(text, "not numbers of its type") from None
        return self.check(arr, text)


class TextCodec(Codec):
    def encode(self, value) -> str:
        return str(value)

    def parse(self, text: str):
        return self.check(text, text)


class DictCodec(Codec):
    def __init__(self, spec, space, parts: dict[str, Codec]):
        super().__init__(spec, space)
        self.parts = parts

    def encode(self, value) -> str:
        return "".join(f"{k}: {c.encode(value[k])}\n" for k, c in self.parts.items())

    def encode_xml(self, value, tag: str = "action") -> str:
        root = ET.Element(tag)
        for k, c in self.parts.items():
            ET.SubElement(root, k).text = c.encode(value[k])
        return ET.tostring(root, encoding="unicode")

    def parse(self, text: str):
        found = {}
        for line in text.splitlines():
            key, sep, rest = line.partition(":")
            key = key.strip()
            if sep and key in self.parts and key not in found:
                found[key] = rest.strip()
        return self._values(found, text)

    def decode(self, payload: str):
        if not payload.lstrip().startswith("<"):
            return self.parse(payload)
        root = parse_xml(payload, "payload")
        found = {}
        for k in self.parts:
            child = root.find(k)
            if child is not None:
                found[k] = "".join(child.itertext())
            elif k in root.attrib:
                found[k] = root.attrib[k]
        return self._values(found, payload)

    def _values(self, found: dict, text: str) -> dict:
        missing = [k for k in self.parts if k not in found]
        if missing:
            raise self.error(text, f"no value for {', '.join(missing)}")
        out = {}
        for k, c in self.parts.items():
            try:
                out[k] = c.parse(found[k])
            except SpaceError as exc:
                raise SpaceError(f"{k}: {exc}") from None
        return out


def _array(x, dtype):
    return np.array(x, dtype=dtype) if isinstance(x, list) else dtype.type(x)


def codec(spec: dict) -> Codec:
    """The Codec for one space table of a manifest (see the module docs)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise SpaceError(f"a space is a table with a type, not {spec!r}")
    kind = spec["type"]
    try:
        if kind == "Discrete":
            labels = spec.get("labels")
            if labels is not None and (len(labels) != spec["n"] or not all(isinstance(w, str) for w in labels)):
                raise SpaceError(f"Discrete labels must be {spec['n']} words")
            return DiscreteCodec(spec, gs.Discrete(int(spec["n"]), start=int(spec.get("start", 0))), labels)
        if kind == "Box":
            dtype = np.dtype(spec.get("dtype", "float32"))
            shape = tuple(spec["shape"]) if "shape" in spec else None
            space = gs.Box(_array(spec["low"], dtype), _array(spec["high"], dtype), shape=shape, dtype=dtype)
            return ArrayCodec(spec, space)
        if kind == "MultiDiscrete":
            start = np.array(spec["start"], dtype=np.int64) if "start" in spec else None
            return ArrayCodec(spec, gs.MultiDiscrete(np.array(spec["nvec"], dtype=np.int64), start=start))
        if kind == "MultiBinary":
            return ArrayCodec(spec, gs.MultiBinary(int(spec["n"])))
        if kind == "Text":
            lo, hi = int(spec.get("min_length", 0)), int(spec.get("max_length", 64))
            if "charset" in spec:
                return TextCodec(spec, gs.Text(hi, min_length=lo, charset=str(spec["charset"])))
            return TextCodec(spec, AnyText(hi, min_length=lo, charset=SAMPLE_CHARS))
        if kind == "Dict":
            parts = {str(k): codec(v) for k, v in dict(spec["spaces"]).items()}
            for k, c in parts.items():
                if isinstance(c, DictCodec) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", k):
                    raise SpaceError(f"Dict key {k!r}: keys are names, values are not Dicts")
            return DictCodec(spec, gs.Dict({k: c.space for k, c in parts.items()}), parts)
    except SpaceError:
        raise
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise SpaceError(f"invalid {kind} space {spec!r}: {exc}") from None
    raise SpaceError(f"unknown space type {kind!r}; one of Discrete, Box, MultiDiscrete, MultiBinary, Text, Dict")


def text_spec(max_length: int) -> dict:
    """The space of a World that declares none: any text up to ``max_length`` characters."""
    return {"type": "Text", "max_length": int(max_length)}


def _bound(arr: np.ndarray, dtype) -> float | int | list:
    """A Box bound as a manifest writes it: one number when all are equal."""
    flat = arr.ravel()
    if flat.size and np.all(flat == flat[0]):
        return _plain(flat[0], dtype)
    return np.vectorize(lambda v: _plain(v, dtype), otypes=[object])(arr).tolist()


def _plain(x, dtype):
    return int(x) if np.issubdtype(dtype, np.integer) else float(format_value(x, dtype))


def spec_of(space: gs.Space) -> dict:
    """The manifest table for a Gymnasium space (the other way from :func:`codec`)."""
    if isinstance(space, gs.Discrete):
        spec = {"type": "Discrete", "n": int(space.n)}
        if int(space.start):
            spec["start"] = int(space.start)
        return spec
    if isinstance(space, gs.Box):
        return {"type": "Box", "low": _bound(space.low, space.dtype), "high": _bound(space.high, space.dtype),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    if isinstance(space, gs.MultiDiscrete):
        spec = {"type": "MultiDiscrete", "nvec": space.nvec.astype(int).tolist()}
        if np.any(space.start):
            spec["start"] = space.start.astype(int).tolist()
        return spec
    if isinstance(space, gs.MultiBinary):
        if len(space.shape) != 1:
            raise SpaceError(f"only one-dimensional MultiBinary spaces map to text, not {space}")
        return {"type": "MultiBinary", "n": int(space.shape[0])}
    if isinstance(space, gs.Text):
        return {"type": "Text", "max_length": int(space.max_length), "min_length": int(space.min_length),
                "charset": "".join(sorted(space.character_set))}
    if isinstance(space, gs.Dict):
        return {"type": "Dict", "spaces": {k: spec_of(s) for k, s in space.spaces.items()}}
    raise SpaceError(f"no text mapping for the space {space}")


def to_toml(value) -> str:
    """A TOML inline value for a space table (numbers, strings, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(to_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {to_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else to_toml(k)
