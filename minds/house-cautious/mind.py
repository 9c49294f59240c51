"""house-cautious Mind: keep the battery from running flat and keep off the cat; cleans nothing.

Modes, from the state alone (no memory):

* charging: on the charger with the battery under 90%: stay.  w = 2 + 8 * (1 - battery/capacity).
* returning: slack = battery - (steps to the charger) is at most MARGIN (8): step
  towards the charger.  w = 2 + 8 * min(1, (MARGIN - slack) / MARGIN).
* relaxed: otherwise: stay where it is (nothing to fix).  w = MARGIN / slack (under 1).

Q-values (hand-made, one per action): in charging and returning modes
w * (distance to the charger now - distance after the action), so a step towards
the charger is worth +w, staying 0 and a step away -w; in relaxed mode 0.  On top
of that a step into the cat is worth -5 (and w is at least 1.5 while the cat is
next to the robot) and a step into a wall -1.

It answers the action on the first line, then ``w: W`` and one ``q ACTION: Q``
line per action, for a society of Minds.  ``python3 mind.py --plain``: the action alone.
"""
from __future__ import annotations

import sys
from collections import deque

ACTIONS = ("N", "S", "E", "W", "stay")
MOVES = {"N": (0, -1), "S": (0, 1), "E": (1, 0), "W": (-1, 0), "stay": (0, 0)}
MARGIN = 8           # spare battery it wants on the way home
FULL_ENOUGH = 0.9    # leave the charger at this fraction of capacity
CAT = -5.0           # Q of a step into the cat (the World's penalty)
WALL = -1.0          # Q of a step into a wall (the World's penalty)


def parse(state: str) -> tuple[list[str], dict[str, str]]:
    """The map rows and the ``key: value`` fields of a house state."""
    rows, fields = [], {}
    for line in state.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        elif line.strip():
            rows.append(line.rstrip())
    return rows, fields


def cell(text: str) -> tuple[int, int]:
    x, _, y = text.partition(",")
    return int(x), int(y)


_dist_cache: dict[tuple, dict] = {}


def distances(rows: list[str], source: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Steps from ``source`` to every reachable non-wall cell (walls block; cached per floor plan)."""
    key = (tuple(r.translate(str.maketrans("*cRP", "....")) for r in rows), source)
    if key in _dist_cache:
        return _dist_cache[key]
    dist = {source: 0}
    todo = deque(dist)
    while todo:
        x, y = todo.popleft()
        for dx, dy in ((0, -1), (0, 1), (1, 0), (-1, 0)):
            nx, ny = x + dx, y + dy
            if (nx, ny) not in dist and 0 <= ny < len(rows) and 0 <= nx < len(rows[ny]) and rows[ny][nx] != "#":
                dist[(nx, ny)] = dist[(x, y)] + 1
                todo.append((nx, ny))
    if len(_dist_cache) > 16:
        _dist_cache.clear()
    _dist_cache[key] = dist
    return dist


def decide(state: str) -> tuple[str, float, dict[str, float]]:
    """``(action, w, {action: q})`` for a house state."""
    rows, fields = parse(state)
    robot, charger = cell(fields["robot"]), cell(fields["charger"])
    cat = cell(fields["cat"]) if "cat" in fields else None
    battery, capacity = float(fields["battery"]), float(fields.get("capacity", 100))
    dist = distances(rows, charger)
    here = dist.get(robot, 0)
    slack = battery - here
    if robot == charger and battery < FULL_ENOUGH * capacity:
        w, homing = 2 + 8 * (1 - battery / capacity), True
    elif slack <= MARGIN:
        w, homing = 2 + 8 * min(1.0, (MARGIN - slack) / MARGIN), True
    else:
        w, homing = MARGIN / slack, False
    q = {}
    for a in ACTIONS:
        dx, dy = MOVES[a]
        target = (robot[0] + dx, robot[1] + dy)
        x, y = target
        if not (0 <= y < len(rows) and 0 <= x < len(rows[y])) or rows[y][x] == "#":
            q[a] = WALL  # the robot stays put
        elif target == cat and target != robot:
            q[a] = CAT
            w = max(w, 1.5)
        else:
            q[a] = w * (here - dist.get(target, here)) if homing else 0.0
    best = max(reversed(ACTIONS), key=lambda a: q[a])  # of equals, prefer stay, then W, E, S, N
    return best, w, q


def answer(state: str, plain: bool = False) -> str:
    """The action text: the action line, then (unless plain) ``w:`` and ``q ACTION:`` lines."""
    try:
        action, w, q = decide(state)
    except (KeyError, ValueError):
        return "stay\n"  # not a house state: do nothing, harmlessly
    if plain:
        return action + "\n"
    return action + "\n" + f"w: {w:.4f}\n" + "".join(f"q {a}: {q[a]:.4f}\n" for a in ACTIONS)


if __name__ == "__main__":
    from wwm.program import serve_mind

    plain = "--plain" in sys.argv[1:]
    serve_mind(lambda step: answer(step.state, plain))
