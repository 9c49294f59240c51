"""hello Mind in Python: answer the middle of the range the World gives."""
from wwm.program import serve_mind


def act(step):
    fields = dict(line.split(":", 1) for line in step.state.splitlines() if ":" in line)
    try:
        low, high = int(fields["low"]), int(fields["high"])
    except (KeyError, ValueError):
        return "50\n"  # not a state we understand: a fair first guess
    return f"{(low + high) // 2}\n"


serve_mind(act)
