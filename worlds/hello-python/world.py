"""hello World in Python: guess the number (see docs/protocol.md, "the hello game")."""
from wwm.program import World, serve_world


class Hello(World):
    def reset(self, seed):
        self.x, self.hits = seed, 0
        self._new_secret()
        return self._state()

    def _new_secret(self):
        self.x = (self.x * 75 + 74) % 65537
        self.secret = self.x % 100 + 1
        self.low, self.high = 1, 100

    def _state(self):
        return f"low: {self.low}\nhigh: {self.high}\n"

    def step(self, action):
        try:
            guess = int(action.strip())
        except ValueError:
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
