"""Rewards and scores in the file protocol.

A World may carry the reward for the last action inside the state it writes
(a first line ``reward: R``, or a first ``<reward>`` element); its ``score``
file is free text whose first word, when a number, is the score.
"""
from __future__ import annotations

from wwm.protocol.xmlsafe import parse_xml


def score_value(score) -> float | None:
    """The number at the start of a score (``"35\nsteps: 200"`` -> 35.0)."""
    first = str(score or "").split()
    try:
        return float(first[0]) if first else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------


def format_number(x: float) -> str:
    """``1`` for 1.0, ``0.25`` for 0.25: short and exact."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def join_reward(state: str, reward: float | None) -> str:
    """Put ``reward`` into a state: a first line ``reward: R`` or a ``<reward>`` element."""
    if reward is None:
        return state
    if state.lstrip().startswith("<"):
        from xml.etree import ElementTree as ET  # deferred: the CGI gateway never needs it

        root = parse_xml(state, "state")
        elem = ET.Element("reward")
        elem.text = format_number(reward)
        elem.tail = root.text
        root.text = None
        root.insert(0, elem)
        return ET.tostring(root, encoding="unicode")
    return f"reward: {format_number(reward)}\n{state}"


def split_reward(payload: str) -> tuple[str, float | None]:
    """Take the reward back out of a state; ``(state, reward or None)``."""
    if payload.lstrip().startswith("<"):
        from xml.etree import ElementTree as ET

        root = parse_xml(payload, "state")
        first = root[0] if len(root) else None
        if first is None or first.tag != "reward":
            return payload, None
        try:
            reward = float((first.text or "").strip())
        except ValueError:
            return payload, None
        root.text = (root.text or "") + (first.tail or "") if (root.text or first.tail) else None
        root.remove(first)
        return ET.tostring(root, encoding="unicode"), reward
    head, sep, rest = payload.partition("\n")
    if head.startswith("reward:"):
        try:
            return rest, float(head[7:].strip())
        except ValueError:
            pass
    return payload, None
