"""house-greedy Mind: head for the nearest dirt by the shortest path; ignores battery and cat.

It answers the action on the first line, then its notes for a society of Minds:
``w: W`` (how much it cares now: 1 while there is dirt, else 0) and one line
``q ACTION: Q`` per action, a hand-made value: 1 for a step onto dirt, else
0.9 ** (steps from there to the nearest dirt), minus 1 for a step into a wall.
Run ``python3 mind.py --plain`` for the action line alone.
"""
from __future__ import annotations

import sys
from collections import deque

ACTIONS = ("N", "S", "E", "W", "stay")
MOVES = {"N": (0, -1), "S": (0, 1), "E": (1, 0), "W": (-1, 0), "stay": (0, 0)}
GAMMA = 0.9


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


def distances(rows: list[str], sources) -> dict[tuple[int, int], int]:
    """Steps from the nearest source to every reachable non-wall cell (walls block)."""
    dist = {s: 0 for s in sources}
    todo = deque(dist)
    while todo:
        x, y = todo.popleft()
        for dx, dy in ((0, -1), (0, 1), (1, 0), (-1, 0)):
            nx, ny = x + dx, y + dy
            if (nx, ny) not in dist and 0 <= ny < len(rows) and 0 <= nx < len(rows[ny]) and rows[ny][nx] != "#":
                dist[(nx, ny)] = dist[(x, y)] + 1
                todo.append((nx, ny))
    return dist


def decide(state: str) -> tuple[str, float, dict[str, float]]:
    """``(action, w, {action: q})`` for a house state."""
    rows, fields = parse(state)
    robot = cell(fields["robot"])
    dirt = [(x, y) for y, row in enumerate(rows) for x, ch in enumerate(row) if ch == "*"]
    if not dirt:
        return "stay", 0.0, {a: 0.0 for a in ACTIONS}
    dist = distances(rows, dirt)
    q = {}
    for a in ACTIONS:
        dx, dy = MOVES[a]
        x, y = robot[0] + dx, robot[1] + dy
        if not (0 <= y < len(rows) and 0 <= x < len(rows[y])) or rows[y][x] == "#":
            q[a] = -1.0 + GAMMA ** dist.get(robot, 99)
        elif rows[y][x] == "*":
            q[a] = 1.0
        else:
            q[a] = GAMMA ** dist.get((x, y), 99)
    best = max(ACTIONS, key=lambda a: q[a])  # first of equals, in ACTIONS order
    return best, 1.0, q


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
