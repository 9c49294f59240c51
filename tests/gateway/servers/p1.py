"""A tiny file-protocol library for the test Program 1s (standard library only).

Deliberately independent of ``wwm.program``: these programs misbehave on
purpose, and a bug in the helper must not hide a bug in the gateway.
"""
import os
import sys
import time

DIR = os.environ.get("WWM_RUN_DIR") or os.getcwd()


def path(name):
    return os.path.join(DIR, name)


def put(name, data):
    """Write ``name`` atomically (tmp + rename), as the protocol asks."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path(name + ".tmp"), "wb") as f:
        f.write(data)
    os.rename(path(name + ".tmp"), path(name))


def take(name, honour_stop=True):
    """Wait for ``name``, read it, delete it; exit 0 when ``stop`` appears."""
    while True:
        if honour_stop and os.path.exists(path("stop")):
            sys.exit(0)
        try:
            with open(path(name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            time.sleep(0.003)
            continue
        os.unlink(path(name))
        return data.decode("utf-8", "replace")


def wait_stop():
    """Idle until the gateway writes ``stop``."""
    while not os.path.exists(path("stop")):
        time.sleep(0.01)
    sys.exit(0)


class Hello:
    """The hello game of the contract (guess the number), for the fixtures."""

    def __init__(self, seed=None):
        self.x = int(os.environ.get("WWM_SEED", "1")) if seed is None else seed
        self.hits = self.steps = 0
        self.new_secret()

    def new_secret(self):
        self.x = (self.x * 75 + 74) % 65537
        self.secret = self.x % 100 + 1
        self.low, self.high = 1, 100

    def state(self, reward=None):
        head = "" if reward is None else f"reward: {reward}\n"
        return f"{head}low: {self.low}\nhigh: {self.high}\n"

    def step(self, action):
        self.steps += 1
        try:
            guess = int(action.strip())
        except ValueError:
            return self.state(-1)
        if guess == self.secret:
            self.hits += 1
            self.new_secret()
            return self.state(1)
        if guess < self.secret:
            self.low = guess + 1
        else:
            self.high = guess - 1
        return self.state(0)

    def score(self):
        return f"{self.hits}\nsteps: {self.steps}\n"


def serve_hello(on_action=None, honour_stop=True):
    """Serve the hello World; ``on_action(action, game)`` may misbehave first."""
    game = Hello()
    put("score", game.score())
    put("state", game.state())
    while True:
        action = take("action", honour_stop)
        if on_action is not None:
            on_action(action, game)
        state = game.step(action)
        put("score", game.score())
        put("state", state)
