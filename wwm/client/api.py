"""The WWM loop as functions: run Minds in a World, local or remote, in any mix."""
from __future__ import annotations

import json
import sys
import time
from typing import Callable, Sequence

from wwm.client.client import Server, connect
from wwm.protocol.annotations import strip as strip_annotations

__all__ = ["run_episode", "describe"]


def describe(target: str) -> dict:
    """Describe the server at a URL or local folder."""
    server = connect(target)
    try:
        return server.describe()
    finally:
        server.close()


def run_episode(world: str | Server, minds: Sequence[str | Server], *, steps: int = 100,
                seed: int | None = None, progress: Callable[[int, int, str], None] | None = None,
                transcript=None, params: dict | None = None) -> dict:
    """Run the WWM loop: the World's state goes to the Mind, its action to the World.

    With several Minds they take turns, one step each, in the order given
    (a society, which merges Minds into one, is a single Mind here).

    Args:
        world: URL or folder of the World (or a connected Server).
        minds: URLs or folders of the Minds.
        steps: the most steps to run; the World may end the run sooner (done).
        seed: passed to StartRun of the World and the Minds.
        progress: called as ``progress(step, steps, score)`` after each step.
        transcript: a writable text file; one JSON line per step is written to it.
        params: the World's run parameters (names its manifest declares in ``[params]``).

    Returns:
        ``{"world", "mind", "steps", "score", "done", "seconds"}``.
    """
    if not minds:
        raise ValueError("run_episode needs at least one Mind")
    world_srv = world if isinstance(world, Server) else connect(world)
    mind_srvs = [m if isinstance(m, Server) else connect(m) for m in minds]
    started = time.perf_counter()
    wrun, mruns, score, done, n = None, [], "", False, 0
    try:
        wrun = world_srv.start_run(seed, minds=" ".join(m.url for m in mind_srvs), params=params)
        for m in mind_srvs:
            mruns.append(m.start_run(seed))
        state = wrun.get_state()
        for n in range(1, steps + 1):
            mrun = mruns[(n - 1) % len(mruns)]
            action = mrun.get_action(state)
            # w: and q ACTION: lines (and XML w/q) are for societies; a World gets the bare action
            result = wrun.execute_action(strip_annotations(action))
            state, done, score = result.state, result.done, result.score
            if transcript is not None:
                transcript.write(json.dumps({"step": n, "action": action, "state": state,
                                             "score": score, "done": done}) + "\n")
            if progress:
                progress(n, steps, score)
            if done:
                break
        score = wrun.get_score()
    finally:
        for r in mruns + ([wrun] if wrun else []):
            try:
                r.end()
            except Exception:  # ending is best effort: the gateway reaps what is left
                pass
    return {
        "world": world_srv.url, "mind": [m.url for m in mind_srvs] if len(mind_srvs) > 1 else mind_srvs[0].url,
        "steps": n, "score": _number(score), "score_detail": score, "done": done,
        "seconds": round(time.perf_counter() - started, 4),
    }


def _number(score: str):
    """The numeric score: the first token of the score's first line."""
    first = (score or "").split()
    try:
        return float(first[0]) if first else None
    except ValueError:
        return None


def terminal_progress(stream=sys.stderr, every: float = 0.2) -> Callable[[int, int, str], None]:
    """A progress callback that redraws one line on a terminal (or logs sparsely)."""
    last = [0.0]
    tty = stream.isatty()

    def show(step: int, steps: int, score: str) -> None:
        now = time.monotonic()
        if now - last[0] < every and step != steps:
            return
        last[0] = now
        head = (score or "").splitlines()[0] if score else ""
        line = f"step {step}/{steps}  score {head}"
        stream.write(("\r" + line + "\x1b[K") if tty else line + "\n")
        if tty and step == steps:
            stream.write("\n")
        stream.flush()

    return show
