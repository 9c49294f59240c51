"""``python3 -m wwm.society``: serve the society in ``$WWM_SERVER_DIR/society.xml`` as a Program 1.

A society server folder's manifest says ``kind = "society"`` and
``command = "python3 -m wwm.society"``; the gateway then starts this program
for each run (or once, with ``instances = "shared"``), exactly as it starts any
Mind.  A society file that cannot be used ends the run with a clear message
(the protocol's ``error`` file), never with a bare crash.
"""
from __future__ import annotations

import os
import sys

from wwm.protocol.files import write_atomic
from wwm.program import Mind, Step, join_reward, serve_mind
from wwm.society.soml import SocietyFileError, Spec, load
from wwm.society.society import Society


def make_mind(spec: Spec) -> type:
    """A :class:`wwm.program.Mind` subclass running ``spec``, one Society per run."""

    class SocietyMind(Mind):
        def __init__(self) -> None:
            self.society: Society | None = None

        def act(self, step: Step) -> str:
            if self.society is None:
                top = os.environ.get("WWM_RUN_DIR") or os.getcwd()
                shared = os.environ.get("WWM_INSTANCES") == "shared"
                workdir = os.path.join(top, step.run) if shared and step.run else top
                self.society = Society(spec, workdir, seed=os.environ.get("WWM_SEED"))
            return self.society.act(join_reward(step.state, step.reward))

        def end(self) -> None:
            if self.society is not None:
                self.society.close()

    return SocietyMind


def main() -> int:
    folder = os.environ.get("WWM_SERVER_DIR") or os.getcwd()
    try:
        spec = load(folder)
    except SocietyFileError as exc:
        message = f"society file {os.path.join(folder, 'society.xml')}: {exc}"
        print(message, file=sys.stderr, flush=True)
        run_dir = os.environ.get("WWM_RUN_DIR") or os.getcwd()
        if os.environ.get("WWM_INSTANCES") != "shared":
            write_atomic(os.path.join(run_dir, "error"), f"SocietyFileError: {message}\n")
        return 1
    serve_mind(make_mind(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
