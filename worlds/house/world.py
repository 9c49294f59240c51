"""house World: a vacuum-cleaning robot in a four-room house (after Humphrys' house robot).

The robot cleans dirt (+1 each), must get back to its charger before the
battery runs flat (the run then ends, -10), and should not run into the cat
(-5) or the walls (-1).  Each sub-goal suits a different specialist Mind, so
a society of them does better than any one alone.  Full rules: docs/house.md.

State (text; the gateway's helper puts ``reward: R`` first from the second state on)::

    ####################
    #..*.....#.........#      # wall   . floor   * dirt
    #........#....c....#      P charger (plug)   c cat   R robot
    #....R.............#
    ...
    battery: 93
    capacity: 100
    robot: 5,3
    charger: 5,3
    cat: 14,2
    dirt: 6
    cleaned: 2
    step: 7
    event: cleaned dirt
    actions: N S E W stay

Action: one word, ``N`` ``S`` ``E`` ``W`` or ``stay`` (any case) on the first line
that holds no colon; later lines (``w: 0.5``, ``q N: 0.9``: a Mind's notes for a
society) are ignored.  Anything else: reward -1, the robot stays put.
"""
from __future__ import annotations

import random

from wwm.program import World

LAYOUT = (
    "####################",
    "#........#.........#",
    "#........#.........#",
    "#....P.............#",
    "#........#.........#",
    "####.#########.#####",
    "#........#.........#",
    "#..................#",
    "#........#.........#",
    "####################",
)

CAPACITY = 100      # full battery
CHARGE = 10         # battery gained by a step that ends on the charger
COST = 1            # battery used by any other step (moving, bumping, staying)
START_DIRT = 6      # dirt on the floor at the start
MAX_DIRT = 12       # never more dirt than this at once
DIRT_CHANCE = 0.2   # chance per step that a new patch of dirt appears
CAT_MOVES = 0.5     # chance per step that the cat walks to a neighbouring cell

R_DIRT = 1.0        # cleaning one patch of dirt
R_WALL = -1.0       # moving into a wall (the robot stays put)
R_CAT = -5.0        # moving into the cat (the robot stays put)
R_INVALID = -1.0    # an action that is not N, S, E, W or stay (the robot stays put)
R_FLAT = -10.0      # the battery ran flat: the run ends

ACTIONS = ("N", "S", "E", "W", "stay")
MOVES = {"N": (0, -1), "S": (0, 1), "E": (1, 0), "W": (-1, 0), "STAY": (0, 0)}


def parse_action(text: str) -> str | None:
    """The action word (``N``..``W`` or ``stay``), or None when there is none.

    The first non-blank line without a colon counts; annotation lines
    (``w: 1``, ``q N: 0.5``) are skipped.
    """
    for line in text.splitlines():
        word = line.strip()
        if not word or ":" in word:
            continue
        key = word.upper()
        if key in MOVES:
            return "stay" if key == "STAY" else key
        return None
    return None


class House(World):
    """One run of the house: robot, charger, cat and dirt on a fixed floor plan."""

    def reset(self, seed: int) -> str:
        self.rng = random.Random(seed)
        self.walls = {(x, y) for y, row in enumerate(LAYOUT) for x, ch in enumerate(row) if ch == "#"}
        self.floor = [(x, y) for y, row in enumerate(LAYOUT) for x, ch in enumerate(row) if ch != "#"]
        self.charger = next((x, y) for y, row in enumerate(LAYOUT) for x, ch in enumerate(row) if ch == "P")
        self.robot = self.charger
        self.battery = CAPACITY
        self.dirt: set[tuple[int, int]] = set()
        self.cat = self.rng.choice(self._free())
        for _ in range(START_DIRT):
            self._spawn_dirt()
        self.cleaned = self.wall_bumps = self.cat_bumps = self.invalid = 0
        self.flat = False
        self.event = "start"
        self.t = 0            # steps taken (own count: the helper's is updated after step())
        self.total = 0.0      # sum of rewards (the score)
        return self._state()

    def _free(self) -> list[tuple[int, int]]:
        """Plain floor: no robot, charger, cat or dirt (where dirt may appear, the cat may go)."""
        busy = {self.robot, self.charger, getattr(self, "cat", None)} | self.dirt
        return [c for c in self.floor if c not in busy]

    def _spawn_dirt(self) -> None:
        free = self._free()
        if free and len(self.dirt) < MAX_DIRT:
            self.dirt.add(self.rng.choice(free))

    def step(self, action: str) -> tuple[str, float, bool]:
        if self.flat:  # the run is over; the state stays as it was
            self.event = "battery flat"
            return self._state(), 0.0, True
        act = parse_action(action)
        reward = 0.0
        if act is None:
            self.invalid += 1
            reward += R_INVALID
            self.event = "invalid action"
            dx, dy = 0, 0
        else:
            dx, dy = MOVES[act.upper()]
            self.event = "moved" if (dx, dy) != (0, 0) else "stayed"
        target = (self.robot[0] + dx, self.robot[1] + dy)
        if target in self.walls:
            self.wall_bumps += 1
            reward += R_WALL
            self.event = "bumped a wall"
        elif target == self.cat and target != self.robot:
            self.cat_bumps += 1
            reward += R_CAT
            self.event = "bumped the cat"
        else:
            self.robot = target
            if target in self.dirt:
                self.dirt.discard(target)
                self.cleaned += 1
                reward += R_DIRT
                self.event = "cleaned dirt"
        if self.robot == self.charger:
            self.battery = min(CAPACITY, self.battery + CHARGE)
            if self.event in ("moved", "stayed"):
                self.event = "charging"
        else:
            self.battery = max(0, self.battery - COST)
        if self.battery == 0:
            self.flat = True
            reward += R_FLAT
            self.event = "battery flat"
        # The cat wanders onto plain floor only (never onto the robot, charger or dirt).
        if self.rng.random() < CAT_MOVES:
            x, y = self.cat
            free = set(self._free())
            near = [c for c in ((x, y - 1), (x, y + 1), (x + 1, y), (x - 1, y)) if c in free]
            if near:
                self.cat = self.rng.choice(near)
        if self.rng.random() < DIRT_CHANCE:
            self._spawn_dirt()
        self.t += 1
        self.total += reward
        return self._state(), reward, self.flat

    def _state(self) -> str:
        rows = [list(row.replace("P", ".")) for row in LAYOUT]
        for x, y in self.dirt:
            rows[y][x] = "*"
        cx, cy = self.charger
        rows[cy][cx] = "P"
        rows[self.cat[1]][self.cat[0]] = "c"
        rows[self.robot[1]][self.robot[0]] = "R"
        lines = ["".join(r) for r in rows] + [
            f"battery: {self.battery}",
            f"capacity: {CAPACITY}",
            f"robot: {self.robot[0]},{self.robot[1]}",
            f"charger: {cx},{cy}",
            f"cat: {self.cat[0]},{self.cat[1]}",
            f"dirt: {len(self.dirt)}",
            f"cleaned: {self.cleaned}",
            f"step: {self.t}",
            f"event: {self.event}",
            "actions: " + " ".join(ACTIONS),
        ]
        return "\n".join(lines) + "\n"

    def score(self) -> str:
        total = int(self.total) if self.total.is_integer() else round(self.total, 6)
        return (f"{total}\ncleaned: {self.cleaned}\nsteps: {self.t}\nbattery: {self.battery}\n"
                f"wall_bumps: {self.wall_bumps}\ncat_bumps: {self.cat_bumps}\n"
                f"invalid_actions: {self.invalid}\nflat: {'yes' if self.flat else 'no'}\n")


if __name__ == "__main__":
    from wwm.program import serve_world

    serve_world(House)
