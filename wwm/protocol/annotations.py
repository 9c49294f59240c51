"""Society annotations on a Mind's action: an urgency ``w`` and Q-values, in text and XML.

A Mind that wants a say in a society may add to its action how strongly it
wants it (``w``, Humphrys' W-value) and what it thinks other actions are worth
(``Q_i(x, a)``).  The annotations ride inside the action so that the file
protocol is unchanged; a society (and the wwm client, before the World sees
the action) removes them.  See docs/society.md.

Text: the action's lines (usually one), then annotation lines::

    50
    w: 0.8
    q 50: 0.62
    q 49: 0.31

``w: FLOAT`` gives the urgency; ``q ACTION: FLOAT`` gives one Q-value (the
value is after the last colon, so an action may itself contain colons).  Only
``w`` and ``q`` lines are annotations for a single action; for a ranked list
(one id per line, the song World's format) every ``key: value`` line is
ignored as well, as the song World does, and ``q ID: FLOAT`` scores an item.

XML: a ``w`` attribute on the action's root element, and ``<q>`` children::

    <move dir="left" w="0.8"><q action="left">0.62</q><q action="right">0.1</q></move>

A ``<q>`` names its action with an ``action`` attribute (for text actions or
ranked-list ids), or holds the action element itself with the value in a
``value`` attribute: ``<q value="0.1"><move dir="right"/></q>``.  A ranked list
in XML is ``<action><track id="ID"/>…</action>`` (``<item>`` works too).

    >>> annotate("50\\n", w=0.8, q={"50": 0.6})
    '50\\nw: 0.8\\nq 50: 0.6\\n'
    >>> parse("50\\nw: 0.8\\nq 50: 0.6\\n").w
    0.8
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from wwm.protocol.errors import GatewayError
from wwm.protocol.xmlsafe import parse_xml
from wwm.protocol.rewards import format_number

__all__ = ["Annotated", "AnnotationError", "annotate", "parse", "strip", "action_key",
           "format_ranking", "MAX_Q"]

MAX_Q = 1000          # Q-values per action, at most
_W_NOTE = re.compile(r"^\s*[wW]\s*:\s*(.*?)\s*$")
_Q_NOTE = re.compile(r"^\s*[qQ]\s+(.*\S)\s*:\s*(.*?)\s*$")
_ANY_NOTE = re.compile(r"^\s*[A-Za-z_][\w-]*\s*:")   # ranked lists: any key: value line
_SPLIT = re.compile(r"[\s,;]+")
RANK_TAGS = ("track", "item")


class AnnotationError(ValueError):
    """An action whose annotations cannot be read (a bad ``w`` or ``q``)."""


@dataclass
class Annotated:
    """An action read apart from its annotations.

    Attributes:
        action: the payload without annotations: what a World should get.
        key: the action's identity for comparing (whitespace and XML layout ignored).
        w: the urgency the Mind reported, or None.
        q: Q-values the Mind reported, by action key (for ranked lists, by item id).
        items: the ranked list's ids, best first (ranked mode), else ``[]``.
        xml: whether the action is XML.
    """

    action: str
    key: str
    w: float | None = None
    q: dict[str, float] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    xml: bool = False


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AnnotationError(f"{what} is not a number: {str(text)[:40]!r}") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{what} is not a finite number: {text!r}")
    return value


def action_key(action: str) -> str:
    """The identity of an action: text with blank lines and outer spaces dropped,
    XML in canonical form (attribute order, surrounding whitespace ignored)."""
    text = action.strip()
    if text.startswith("<"):
        try:
            return ET.canonicalize(xml_data=text, strip_text=True)
        except ET.ParseError:
            return text
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _ranked_items_text(lines: list[str]) -> list[str]:
    items: list[str] = []
    for line in lines:
        line = line.split("#", 1)[0].split("|", 1)[0].strip()
        if not line or _ANY_NOTE.match(line):
            continue
        items.extend(x for x in _SPLIT.split(line) if x)
    return items


def parse(payload: str, ranked: bool = False) -> Annotated:
    """Read an action and its annotations.

    Args:
        payload: the action as the Mind wrote it (text, or one XML element).
        ranked: read the action as a ranked list of ids (song recommendations).

    Returns:
        An :class:`Annotated`.

    Raises:
        AnnotationError: an annotation that is not a number, an empty action,
            too many Q-values, or XML that is not well-formed.
    """
    if payload is None or not payload.strip():
        raise AnnotationError("empty action")
    if payload.lstrip().startswith("<"):
        return _parse_xml(payload, ranked)
    w, q, kept = None, {}, []
    for line in payload.splitlines():
        m = _W_NOTE.match(line)
        if m:
            w = _number(m.group(1), "w")
            continue
        m = _Q_NOTE.match(line)
        if m:
            q[action_key(m.group(1))] = _number(m.group(2), f"q of {m.group(1)[:40]!r}")
            continue
        kept.append(line)
    if len(q) > MAX_Q:
        raise AnnotationError(f"more than {MAX_Q} Q-values")
    action = "\n".join(kept).strip("\n")
    if not action.strip():
        raise AnnotationError("the action has annotations but no action")
    action += "\n" if payload.endswith("\n") else ""
    items = _ranked_items_text(kept) if ranked else []
    if ranked and not items:
        raise AnnotationError("a ranked list with no items")
    key = " ".join(items) if ranked else action_key(action)
    return Annotated(action, key, w, q, items, False)


def _parse_xml(payload: str, ranked: bool) -> Annotated:
    try:
        root = parse_xml(payload, "action")
    except GatewayError as exc:
        raise AnnotationError(str(exc)) from None
    w = None
    if "w" in root.attrib:
        w = _number(root.attrib.pop("w"), "w")
    q = {}
    for child in [c for c in root if c.tag == "q"]:
        kids = list(child)
        if child.get("action") is not None:
            act, value = child.get("action"), child.get("value", child.text)
        elif kids:
            act = ET.tostring(kids[0], encoding="unicode").strip()
            value = child.get("value")
        else:
            raise AnnotationError("a <q> needs an action attribute or the action element inside it")
        if value is None:
            raise AnnotationError(f"the <q> of {act[:40]!r} has no value")
        q[action_key(act)] = _number(str(value).strip(), f"q of {act[:40]!r}")
        _remove(root, child)
    if len(q) > MAX_Q:
        raise AnnotationError(f"more than {MAX_Q} Q-values")
    action = ET.tostring(root, encoding="unicode")
    items = []
    if ranked:
        items = [(el.get("id") or el.text or "").strip() for el in root.iter() if el.tag in RANK_TAGS]
        items = [i for i in items if i]
        if not items:
            raise AnnotationError("a ranked list with no <track id=...> items")
    key = " ".join(items) if ranked else action_key(action)
    return Annotated(action, key, w, q, items, True)


def _remove(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child`` and keep the text that followed it."""
    kids = list(parent)
    i = kids.index(child)
    if child.tail and child.tail.strip():
        if i:
            kids[i - 1].tail = (kids[i - 1].tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def strip(payload: str, ranked: bool = False) -> str:
    """The action without its annotations (what a World should be sent).

    A payload whose annotations cannot be read is returned unchanged.
    """
    try:
        return parse(payload, ranked).action
    except AnnotationError:
        return payload


def annotate(action: str, w: float | None = None, q: dict[str, float] | None = None) -> str:
    """Add an urgency ``w`` and Q-values ``q`` (action -> value) to an action.

    Works on text and XML actions; the action itself is not changed.

    Args:
        action: the action (text, or one XML element).
        w: how much the Mind wants its action (any real number; higher wins).
        q: Q-values of candidate actions, the Mind's own included.

    Returns:
        The annotated action, in the same form (text or XML) as ``action``.
    """
    q = q or {}
    for name, value in [("w", w)] + [(f"q of {a!r}", v) for a, v in q.items()]:
        if value is not None and not math.isfinite(float(value)):
            raise AnnotationError(f"{name} must be a finite number")
    if action.lstrip().startswith("<"):
        try:
            root = parse_xml(action, "action")
        except GatewayError as exc:
            raise AnnotationError(str(exc)) from None
        if w is not None:
            root.set("w", format_number(w))
        for act, value in q.items():
            elem = ET.SubElement(root, "q")
            if act.lstrip().startswith("<"):
                elem.set("value", format_number(value))
                elem.append(parse_xml(act, "q action"))
            else:
                elem.set("action", act)
                elem.text = format_number(value)
        return ET.tostring(root, encoding="unicode")
    text = action if action.endswith("\n") or not action else action + "\n"
    lines = [] if w is None else [f"w: {format_number(w)}"]
    for act, value in q.items():
        act = act.strip()
        if not act or "\n" in act:
            raise AnnotationError(f"a text Q-value needs a one-line action, not {act[:40]!r}")
        lines.append(f"q {act}: {format_number(value)}")
    return text + "".join(line + "\n" for line in lines)


def format_ranking(items: list[str], xml: bool = False, w: float | None = None,
                   q: dict[str, float] | None = None, root: str = "action", tag: str = "track") -> str:
    """A ranked list of ids as an action (the song World's format), optionally annotated."""
    if xml:
        top = ET.Element(root)
        for i in items:
            ET.SubElement(top, tag, id=i)
        return annotate(ET.tostring(top, encoding="unicode"), w, q)
    return annotate("".join(i + "\n" for i in items), w, q)
