import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

import subprocess

CHILD = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", CHILD])
p1.put("child.pid", str(child.pid))


def maybe_crash(action, game):
    if action.strip() == "crash":
        print("spawner: crashing, my child stays behind", file=sys.stderr)
        os._exit(1)


p1.serve_hello(maybe_crash)
