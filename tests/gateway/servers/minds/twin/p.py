import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

while True:
    state = p1.take("state")
    fields = dict(line.split(":", 1) for line in state.splitlines() if ":" in line)
    p1.put("action", f"{(int(fields['low']) + int(fields['high'])) // 2}\n")
