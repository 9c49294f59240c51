#!/usr/bin/env python3
"""The same CartPole agent on two clients, for bench/gateway.py (one process per measurement).

    python cartpole_agents.py wwm URL STEPS           # wwm.connect(URL): start_run, get_state, execute_action
    PY cartpole_agents.py gym DIR URL STEPS           # gym-http-api's own client (DIR/gym_http_client.py)

Plays whole episodes (a new run or reset after each done) until at least STEPS
steps; prints one JSON line: steps, episodes, seconds (the timed loop only:
imports and connecting are not in it, episode starts and ends are).
"""
import json
import sys
import time


def policy(theta, theta_dot):
    """minds/cartpole-balance: push toward the pole's lean, looking a little ahead."""
    return 1 if theta + 0.5 * theta_dot > 0 else 0


def play_wwm(url, steps):
    import wwm

    server = wwm.connect(url)
    done_steps = episodes = 0
    started = time.perf_counter()
    while done_steps < steps:
        episodes += 1
        run = server.start_run(seed=episodes)
        state = run.get_state()
        while True:
            _, _, theta, theta_dot = (float(v) for v in state.rsplit("\n", 2)[-2].split())
            result = run.execute_action(str(policy(theta, theta_dot)))
            done_steps += 1
            if result.done:
                break
            state = result.state
        run.end()
    seconds = time.perf_counter() - started
    server.close()
    return done_steps, episodes, seconds


def play_gym(directory, url, steps):
    sys.path.insert(0, directory)
    from gym_http_client import Client

    client = Client(url)
    instance = client.env_create("CartPole-v1")
    done_steps = episodes = 0
    started = time.perf_counter()
    while done_steps < steps:
        episodes += 1
        obs = client.env_reset(instance)
        while True:
            obs, reward, done, info = client.env_step(instance, policy(obs[2], obs[3]))
            done_steps += 1
            if done:
                break
    seconds = time.perf_counter() - started
    client.env_close(instance)
    return done_steps, episodes, seconds


if __name__ == "__main__":
    if sys.argv[1] == "wwm":
        n, e, s = play_wwm(sys.argv[2], int(sys.argv[3]))
    else:
        n, e, s = play_gym(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    print(json.dumps({"steps": n, "episodes": e, "seconds": s}))
