import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

def count(action, game):
    if game.steps >= 2:  # this is the third action
        game.steps += 1
        p1.put("score", game.score())
        p1.put("done", "")
        p1.put("state", game.state(0))
        p1.wait_stop()


p1.serve_hello(count)
