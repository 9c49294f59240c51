import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

import time

p1.take("state")
time.sleep(0.3)
with open(p1.path("action"), "wb") as f:  # wrong: no tmp + rename
    f.write(b"5")
    f.flush()
    time.sleep(0.3)
    f.write(b"0\n")
p1.wait_stop()
