"""CartPole-v1 as a World, in pure Python (the classic dynamics of Barto, Sutton and
Anderson, 1983, with the constants, Euler step and ending rules of Gymnasium's CartPole-v1).

State: one line ``x x_dot theta theta_dot`` (floats, shortest round-trip form).
Action: ``0`` pushes the cart left, ``1`` right (surrounding whitespace allowed).
Reward 1 for every step, the last one included.  The run is done when the pole
leans more than 12 degrees, the cart leaves [-2.4, 2.4], or after 500 steps.
Any other action costs reward -1 and leaves the state as it was (the step counts).
"""
import math
import random

from wwm.program import World, serve_world

GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH = 9.8, 1.0, 0.1, 0.5
TOTAL_MASS, POLE_MASS_LENGTH = MASS_CART + MASS_POLE, MASS_POLE * HALF_LENGTH
FORCE, TAU = 10.0, 0.02
THETA_LIMIT, X_LIMIT, MAX_STEPS = 12 * 2 * math.pi / 360, 2.4, 500


def physics(s, action):
    """One Euler step of the cart and pole under a push left (0) or right (1)."""
    x, x_dot, theta, theta_dot = s
    force = FORCE if action == 1 else -FORCE
    cos, sin = math.cos(theta), math.sin(theta)
    temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS))
    x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
    return (x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc)


def fallen(s):
    return not (-X_LIMIT <= s[0] <= X_LIMIT and -THETA_LIMIT <= s[2] <= THETA_LIMIT)


class CartPole(World):
    def reset(self, seed):
        rng = random.Random(seed)
        self.s = tuple(rng.uniform(-0.05, 0.05) for _ in range(4))
        return self._state()

    def _state(self):
        return " ".join(repr(v) for v in self.s) + "\n"

    def step(self, action):
        action = action.strip()
        if action in ("0", "1"):
            self.s = physics(self.s, int(action))
            reward = 1
        else:
            reward = -1
        # self.steps counts the steps before this one (the helper adds it after)
        return self._state(), reward, fallen(self.s) or self.steps + 1 >= MAX_STEPS

    def score(self):
        return f"{self.total_reward:g}\nsteps: {self.steps}\n"


if __name__ == "__main__":
    serve_world(CartPole)
