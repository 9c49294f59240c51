import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

import subprocess

import time

# The child leaves the process group (setsid), then says so by writing child.pid.
CHILD = ("import os, sys, time; os.setsid(); d = sys.argv[1]; "
         "open(d + '/child.pid.tmp', 'w').write(str(os.getpid())); "
         "os.rename(d + '/child.pid.tmp', d + '/child.pid'); time.sleep(600)")
subprocess.Popen([sys.executable, "-c", CHILD, p1.DIR], cwd="/")
while not os.path.exists(p1.path("child.pid")):
    time.sleep(0.005)
p1.serve_hello()
