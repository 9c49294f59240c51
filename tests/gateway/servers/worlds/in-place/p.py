import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

import time


def in_place(action, game):
    time.sleep(0.3)  # the gateway is waiting by now
    with open(p1.path("state"), "wb") as f:  # wrong: no tmp + rename
        f.write(b"low: 1\n")
        f.flush()
        time.sleep(0.3)
        f.write(b"high: 100\n")
    p1.wait_stop()


p1.serve_hello(in_place)
