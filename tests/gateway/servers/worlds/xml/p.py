import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

n = 0
p1.put("score", "0\n")
p1.put("state", "<state><n>0</n></state>")
while True:
    action = p1.take("action")
    reward = 1 if action.strip() in ("up", "<action>up</action>") else 0
    n += reward
    p1.put("score", f"{n}\n")
    p1.put("state", f"<state><reward>{reward}</reward><n>{n}</n></state>")
