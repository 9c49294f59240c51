"""A configurable hello-game Mind (a Program 1) for society tests and bench/society.py.

    python3 member.py --skill bisect|noisy|linear|random|fixed [--p 0.5] [--salt 1]
                      [--q optimal|linear|none] [--w 0.8] [--delay 0.05]
                      [--crash-at N] [--hang-at N] [--garbage-at N] [--bad-xml-at N]

Skills (the hello game: find a number in [low, high], docs/protocol.md):
  bisect  the middle of the range (the best play)
  noisy   bisect, but with probability p a random guess in the range (a trembling hand);
          with --wild the random guess is anywhere in 1..100 (often a wasted step)
  linear  always ``low`` (finds the number, slowly)
  random  a random guess in the range
  fixed   always ``--guess`` (a stubborn Mind)

``--items a,b,c`` answers that ranked list instead (one id per line, or
``<action><track id=.../></action>`` with ``--xml``), whatever the state, with
``--q`` scores ``--item-q 0.9,0.5,0.1`` if given: a stand-in for a song Mind.

``--q optimal`` annotates the action with Q-values from an exact model of the
game under the best play; ``--q linear`` from the model of linear search (what
a linear Mind believes); see :func:`q_values`.

Faults, to test how a society copes (N counts the states of the current run):
  --crash-at N     exit(3) on the Nth state (the gateway answers 502; the run is lost)
  --hang-at N      never answer the Nth state (the gateway answers 504 after step_timeout)
  --garbage-at N   answer an unreadable annotation ("w: lots") on the Nth state and every 3rd after
  --bad-xml-at N   answer malformed XML on the Nth state (the gateway answers 502)
and, read on every state, the file ``$WWM_SERVER_DIR/mode``: ``crash``, ``hang``,
``garbage`` or ``slow`` make the Mind misbehave that way until the file says
``ok`` or is removed (the Mind then "comes back").
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from functools import lru_cache

from wwm.program import Mind, serve_mind
from wwm.protocol.annotations import annotate, format_ranking

GAMMA = 0.9


@lru_cache(maxsize=None)
def _values(policy: str) -> tuple[float, ...]:
    """V(m) for m = 0..100 under ``policy`` (bisect or linear), found by iteration.

    Range size m, guess at position k (1..m), secret uniform in the range:
    Q(m, k) = (1 + gamma V(100)) / m + (k-1)/m gamma V(k-1) + (m-k)/m gamma V(m-k).
    """
    v = [0.0] * 101
    for _ in range(200):
        for m in range(1, 101):
            k = (m + 1) // 2 if policy == "bisect" else 1
            v[m] = _q(v, m, k)
    return tuple(v)


def _q(v, m: int, k: int) -> float:
    return (1 + GAMMA * v[100]) / m + (k - 1) / m * GAMMA * v[k - 1] + (m - k) / m * GAMMA * v[m - k]


def q_values(low: int, high: int, guesses: list[int], policy: str) -> dict[str, float]:
    """Q((low, high), g) for each guess g, continuing with ``policy`` afterwards."""
    v = list(_values(policy))
    m = high - low + 1
    out = {}
    for g in guesses:
        k = g - low + 1
        out[str(g)] = round(_q(v, m, k) if 1 <= k <= m else GAMMA * v[m], 6)
    return out


def parse_state(text: str) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return int(fields["low"]), int(fields["high"])
    except (KeyError, ValueError):
        return 1, 100


def options(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--skill", default="bisect", choices=["bisect", "noisy", "linear", "random", "fixed"])
    p.add_argument("--p", type=float, default=0.5)
    p.add_argument("--salt", type=int, default=0)
    p.add_argument("--wild", action="store_true")
    p.add_argument("--guess", type=int, default=50)
    p.add_argument("--q", default="none", choices=["optimal", "linear", "none"])
    p.add_argument("--w", type=float, default=None)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--crash-at", type=int, default=0)
    p.add_argument("--hang-at", type=int, default=0)
    p.add_argument("--garbage-at", type=int, default=0)
    p.add_argument("--bad-xml-at", type=int, default=0)
    p.add_argument("--items", default="")
    p.add_argument("--item-q", default="")
    p.add_argument("--xml", action="store_true")
    return p.parse_args(argv)


OPT = options()


def _mode() -> str:
    try:
        with open(os.path.join(os.environ.get("WWM_SERVER_DIR", "."), "mode"), encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return "ok"


class Member(Mind):
    def __init__(self) -> None:
        seed = int(os.environ.get("WWM_SEED", "1") or 1)
        self.rng = random.Random(seed * 1000 + OPT.salt)
        self.n = 0

    def act(self, step) -> str:
        self.n += 1
        mode = _mode()
        if mode == "crash" or self.n == OPT.crash_at:
            os._exit(3)
        if mode == "hang" or self.n == OPT.hang_at:
            while True:
                time.sleep(1)
        if OPT.delay or mode == "slow":
            time.sleep(OPT.delay if mode != "slow" else 5.0)
        if self.n == OPT.bad_xml_at:
            return "<guess>50</guesss>"
        if mode == "garbage" or (OPT.garbage_at and self.n >= OPT.garbage_at
                                 and (self.n - OPT.garbage_at) % 3 == 0):
            return "50\nw: lots\n"
        if OPT.items:
            items = OPT.items.split(",")
            q = dict(zip(items, map(float, OPT.item_q.split(",")))) if OPT.item_q else None
            return format_ranking(items, xml=OPT.xml, w=OPT.w, q=q)
        low, high = parse_state(step.state)
        guess = self.choose(low, high)
        if OPT.q == "none" and OPT.w is None:
            return f"{guess}\n"
        q = None
        if OPT.q != "none":
            mid = (low + high) // 2
            cands = list(dict.fromkeys([guess, mid, low, high]))
            q = q_values(low, high, cands, "bisect" if OPT.q == "optimal" else "linear")
        return annotate(f"{guess}\n", w=OPT.w, q=q)

    def choose(self, low: int, high: int) -> int:
        if high < low:
            return low
        mid = (low + high) // 2
        skill = OPT.skill
        if skill == "bisect":
            return mid
        if skill == "noisy":
            if self.rng.random() >= OPT.p:
                return mid
            return self.rng.randint(1, 100) if OPT.wild else self.rng.randint(low, high)
        if skill == "linear":
            return low
        if skill == "random":
            return self.rng.randint(low, high)
        return OPT.guess


if __name__ == "__main__":
    serve_mind(Member)
    sys.exit(0)
