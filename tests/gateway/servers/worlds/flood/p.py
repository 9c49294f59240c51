import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

def flood(action, game):
    line = "flood: " + "x" * 1000 + "\n"
    for _ in range(200):
        sys.stdout.write(line)
    sys.stdout.flush()
    p1.wait_stop()


p1.serve_hello(flood)
