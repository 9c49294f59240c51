import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

p1.serve_hello(lambda action, game: (p1.put("state", b"low: \xff\xfe\xfd\nhigh: 100\n"), p1.wait_stop()))
