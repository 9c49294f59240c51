import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

def give_up(action, game):
    p1.put("error", "cannot go on: the model file is missing\n")
    p1.wait_stop()


p1.serve_hello(give_up)
