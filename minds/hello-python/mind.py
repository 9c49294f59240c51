"""hello Mind in Python: answer the middle of the range the World gives (binary search)."""
import re

from wwm.program import serve_mind

INT = re.compile(r"[ \t\r\n\f\v]*([+-]?[0-9]+)[ \t\r\n\f\v]*")


def act(step):
    bounds = {"low": 1, "high": 100}  # the last valid "low:"/"high:" line wins
    for line in step.state.split("\n"):
        key, sep, value = line.partition(":")
        m = INT.fullmatch(value) if sep and key in bounds else None
        if m and abs(int(m.group(1))) < 10**9:
            bounds[key] = int(m.group(1))
    return f"{(bounds['low'] + bounds['high']) // 2}\n"


serve_mind(act)
