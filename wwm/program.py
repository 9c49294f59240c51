"""Write a Program 1 (a Mind or a World) in Python in a few lines.

A Mind::

    from wwm.program import serve_mind

    def act(step):                      # step.state: the World's state (text or XML)
        return "left"                   # the action, as text (or one XML element)

    serve_mind(act)

A World subclasses :class:`World` and calls ``serve_world(MyWorld)``.

The helpers speak the file protocol of docs/protocol.md for you: they wait for
``state`` (or ``action``) with inotify, consume it, write the answer atomically
(``NAME.tmp`` then rename), carry the reward inside the state, keep ``score``
and ``done`` current, and leave when ``stop`` appears or SIGTERM arrives.  When
the gateway starts the program with ``WWM_INSTANCES=shared`` one process serves
every run, each in its own sub-directory, with one Mind or World object per run.

Standard library only, like the gateway.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Union

from wwm.protocol.envelope import RUN_RE
from wwm.protocol.files import Inotify, Watch, consume, new_inotify, write_atomic
from wwm.protocol.rewards import format_number, join_reward, split_reward

__all__ = ["FIRST", "MID", "Step", "Mind", "World", "serve_mind", "serve_world",
           "split_reward", "join_reward", "format_number"]

FIRST = "first"  # the first state of a run: no reward yet
MID = "mid"      # every later state: carries the reward for the previous action
MAX_MESSAGE = 1 << 20


@dataclass(frozen=True)
class Step:
    """One state as a Mind sees it.

    Attributes:
        kind: FIRST for a run's first state, else MID.
        state: the World's state with the reward line (or element) removed.
        reward: the reward for the previous action, or None.
        run: the run id (useful to a shared Mind serving many runs).
    """

    kind: str
    state: str
    reward: float | None
    run: str = ""


class Mind:
    """Base class for a Mind with memory across steps (one object per run).

    Subclasses implement :meth:`act`; :meth:`end` is called when the run ends.
    A plain function ``act(step) -> str`` works with serve_mind too.
    """

    def act(self, step: Step) -> str:  # every subclass must implement
        """Return the action (text, or one XML element) for ``step``."""
        raise NotImplementedError

    def end(self) -> None:
        """The run is over; release what the run held."""


class World:
    """Base class for a World (one object per run).

    Subclasses implement :meth:`reset` and :meth:`step`; :meth:`score` defaults
    to the sum of rewards so far.
    """

    def __init__(self) -> None:
        self.total_reward = 0.0
        self.steps = 0

    def reset(self, seed: int) -> str:  # every subclass must implement
        """Start the run; return its first state."""
        raise NotImplementedError

    def step(self, action: str) -> tuple[str, float, bool]:  # every subclass must implement
        """Apply ``action``; return ``(new_state, reward, done)``."""
        raise NotImplementedError

    def score(self) -> str | float:
        """The run's score so far: a number, optionally followed by ``key: value`` lines."""
        return self.total_reward

    def end(self) -> None:
        """The run is over; release what the run held."""


# -- the loop ------------------------------------------------------------------


class _Stopped(Exception):
    """SIGTERM arrived."""


def _on_sigterm(signum, frame):
    raise _Stopped()


class _MindRun:
    """The Mind side of one run directory."""

    inbox = "state"
    failed = False

    def __init__(self, directory: str, run: str, make):
        self.dir, self.run, self.first = directory, run, True
        self.mind = make()
        self.act = self.mind.act if isinstance(self.mind, Mind) else self.mind

    def begin(self) -> None:
        pass

    def handle(self, payload: str) -> None:
        state, reward = split_reward(payload)
        step = Step(FIRST if self.first else MID, state, reward, self.run)
        self.first = False
        action = self.act(step)
        if not isinstance(action, str):
            raise TypeError(f"a Mind must return its action as str, not {type(action).__name__}")
        write_atomic(os.path.join(self.dir, "action"), action)

    def end(self) -> None:
        if isinstance(self.mind, Mind):
            self.mind.end()


class _WorldRun:
    """The World side of one run directory."""

    inbox = "action"
    failed = False

    def __init__(self, directory: str, run: str, make):
        self.dir, self.run = directory, run
        self.world: World = make()

    def begin(self) -> None:
        try:
            seed = int(os.environ.get("WWM_SEED", "1"))
        except ValueError:
            seed = 1
        state = self.world.reset(seed)
        self._publish(state, None, False)

    def handle(self, payload: str) -> None:
        state, reward, done = self.world.step(payload)
        self.world.steps += 1
        self.world.total_reward += float(reward)
        self._publish(state, reward, done)

    def _publish(self, state: str, reward: float | None, done: bool) -> None:
        # score and done first, state last: when the gateway sees the state,
        # the rest is already current.
        score = self.world.score()
        write_atomic(os.path.join(self.dir, "score"),
                     format_number(score) + "\n" if isinstance(score, (int, float)) else str(score))
        if done:
            write_atomic(os.path.join(self.dir, "done"), "")
        write_atomic(os.path.join(self.dir, "state"), join_reward(state, reward))

    def end(self) -> None:
        self.world.end()


def _serve(kind, make) -> None:
    """Serve one run (per-run instances) or every run (shared) until stopped."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    top = os.environ.get("WWM_RUN_DIR") or os.getcwd()
    shared = os.environ.get("WWM_INSTANCES") == "shared"
    # Shared: new run folders appear by mkdir (IN_CREATE); messages by rename.
    inotify = new_inotify()
    if inotify is not None:
        Watch(inotify, top, Inotify.IN_MOVED_TO | (Inotify.IN_CREATE if shared else 0))
    runs: dict[str, object] = {}
    if not shared:
        runs[""] = kind(top, os.environ.get("WWM_RUN_ID", ""), make)
    try:
        if not shared:
            _guard(runs[""], runs[""].begin, shared)
        while not os.path.exists(os.path.join(top, "stop")):
            if shared:
                _discover(top, runs, kind, make, inotify)
            busy = False
            for key, r in list(runs.items()):
                if key and os.path.exists(os.path.join(r.dir, "stop")):
                    _close(runs.pop(key))
                    continue
                busy |= _step(r, shared)
            if busy:
                continue
            if inotify is not None:
                ready, _, _ = select.select([inotify], [], [], 0.5)
                inotify.pump()
            else:
                time.sleep(0.002)
                ready = False
            if not ready and not os.path.isdir(top):
                break  # the run directory was removed: nobody will ever ask again
    except _Stopped:
        pass
    finally:
        for r in runs.values():
            _close(r)
        if inotify is not None:
            inotify.close()


def _discover(top: str, runs: dict, kind, make, inotify) -> None:
    """Start serving run sub-directories that appeared (shared instances)."""
    for name in os.listdir(top):
        if name in runs or not RUN_RE.match(name):
            continue
        path = os.path.join(top, name)
        if not os.path.isdir(path) or os.path.exists(os.path.join(path, "stop")):
            continue
        r = kind(path, name, make)
        if inotify is not None:
            r.watch = Watch(inotify, path)
        runs[name] = r  # kept even when it fails, so it is not started again
        _guard(r, r.begin, shared=True)


def _step(r, shared: bool) -> bool:
    """Answer the run's waiting message, if any; True when one was handled."""
    if r.failed:
        return False
    raw = consume(os.path.join(r.dir, r.inbox), MAX_MESSAGE)
    if raw is None:
        return False
    _guard(r, lambda: r.handle(raw.decode("utf-8", "replace")), shared)
    return True


def _guard(r, fn, shared: bool) -> bool:
    """Run ``fn``; on an exception log it, tell the gateway (``error``), and
    end this run: the whole program when it serves one run, else that run only."""
    try:
        fn()
        return True
    except _Stopped:
        raise
    except Exception as exc:
        traceback.print_exc()
        write_atomic(os.path.join(r.dir, "error"), f"{type(exc).__name__}: {exc}\n")
        if not shared:
            sys.exit(1)
        r.failed = True
        return False


def _close(r) -> None:
    if getattr(r, "watch", None) is not None:
        r.watch.close()
    try:
        r.end()
    except Exception:
        traceback.print_exc()


MindLike = Union[Callable[[Step], str], type]


def serve_mind(mind: MindLike) -> None:
    """Serve a Mind: a function ``act(step) -> str`` or a :class:`Mind` subclass.

    A subclass is instantiated once per run; a function is shared by all runs.
    Returns when the gateway asks the program to stop.
    """
    make = mind if isinstance(mind, type) else (lambda: mind)
    _serve(_MindRun, make)


def serve_world(world: type) -> None:
    """Serve a :class:`World` subclass, one instance per run, until stopped."""
    _serve(_WorldRun, world)
