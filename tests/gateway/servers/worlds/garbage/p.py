import os
import sys

sys.dont_write_bytecode = True  # write nothing outside the run directory
sys.path.insert(0, os.path.join(os.environ["WWM_SERVER_DIR"], "..", ".."))
import p1  # noqa: E402

GARBAGE = {
    "nul": b"low: 1\x00\nhigh: 100\n",
    "xml": b"<state><low>1</low><high>100</state>",
    "xxe": b'<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><state>&e;</state>',
    "laughs": b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><state>&c;&c;&c;</state>',
    "big": b"low: 1\nhigh: 100\n" + b"x" * 70000 + b"\n",
}


def misbehave(action, game):
    kind = action.strip()
    if kind in GARBAGE:
        p1.put("state", GARBAGE[kind])
        p1.wait_stop()


p1.serve_hello(misbehave)
