"""hello World in Python: guess the number (docs/protocol.md, "The hello game")."""
import os
import re

from wwm.program import World, serve_world

INT = re.compile(r"[ \t\r\n\f\v]*([+-]?[0-9]+)[ \t\r\n\f\v]*")


def parse_int(text):
    """An integer with optional sign and ASCII whitespace, |n| < 10**9; else None."""
    m = INT.fullmatch(text)
    return int(m.group(1)) if m and abs(int(m.group(1))) < 10**9 else None


class Hello(World):
    def reset(self, seed):
        seed = parse_int(os.environ.get("WWM_SEED", "1"))
        self.x, self.hits = (1 if seed is None else seed) % 65537, 0
        self._new_secret()
        return self._state()

    def _new_secret(self):
        self.x = (self.x * 75 + 74) % 65537  # the same LCG in every language
        self.secret = self.x % 100 + 1
        self.low, self.high = 1, 100

    def _state(self):
        return f"low: {self.low}\nhigh: {self.high}\n"

    def step(self, action):
        guess = parse_int(action)
        if guess is None:
            return self._state(), -1, False
        if guess == self.secret:
            self.hits += 1
            self._new_secret()
            return self._state(), 1, False
        if guess < self.secret:
            self.low = guess + 1
        else:
            self.high = guess - 1
        return self._state(), 0, False

    def score(self):
        return f"{self.hits}\nsteps: {self.steps}\n"


serve_world(Hello)
