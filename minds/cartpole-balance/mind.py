"""CartPole Mind: push toward the pole's lean, looking a little ahead (theta + theta_dot / 2)."""
from wwm.program import serve_mind


def act(step):
    try:
        _, _, theta, theta_dot = (float(v) for v in step.state.split())
    except ValueError:  # not a CartPole state: any valid action
        return "0\n"
    return "1\n" if theta + 0.5 * theta_dot > 0 else "0\n"


if __name__ == "__main__":
    serve_mind(act)
