"""State -> action round-trip latency through the run-directory files, per helper language.

The gateway's side is played by tests/lib_driver.py with the gateway core's
primitives (atomic write of `state`, inotify wait for `action`, read and delete). Baseline: one line through a plain
OS pipe to a second process (`cat`) and back. Each contestant is one function
`name(n) -> list of seconds`; add more to CONTESTANTS.

    python3 bench/lib_roundtrip.py --n 2000 [--only sh-mind,c-mind]

Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from lib_driver import Program, ref_mind  # noqa: E402

WARMUP = 20
STATES = [f"low: {lo}\nhigh: 100\n" for lo in range(1, 51)]


def pipe_roundtrip(n: int) -> list[float]:
    """Baseline: write a state-sized line to `cat` through a pipe, read it back."""
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    w, r = proc.stdin.fileno(), proc.stdout.fileno()
    out = []
    try:
        for i in range(WARMUP + n):
            msg = STATES[i % len(STATES)].encode()
            t0 = time.perf_counter()
            os.write(w, msg)
            got = b""
            while len(got) < len(msg):
                got += os.read(r, 65536)
            t1 = time.perf_counter()
            assert got == msg
            if i >= WARMUP:
                out.append(t1 - t0)
    finally:
        proc.stdin.close()
        proc.wait()
    return out


def file_roundtrip(folder: Path, n: int) -> list[float]:
    """Write `state`, wait for `action`, read and delete it; back to back."""
    out = []
    with tempfile.TemporaryDirectory() as tmp, Program(folder, Path(tmp) / "run") as mind:
        for i in range(WARMUP + n):
            state = STATES[i % len(STATES)]
            t0 = time.perf_counter()
            mind.put("state", state)
            action = mind.take("action", timeout=10)
            t1 = time.perf_counter()
            assert action == ref_mind(state), (state, action)
            if i >= WARMUP:
                out.append(t1 - t0)
    return out


def python_mind(n: int) -> list[float]:
    """The Python helper (wwm.program.serve_mind), target: median under 200 us."""
    return file_roundtrip(ROOT / "minds" / "hello-python", n)


def sh_mind(n: int) -> list[float]:
    return file_roundtrip(ROOT / "minds" / "hello-sh", n)


def c_mind(n: int) -> list[float]:
    return file_roundtrip(ROOT / "minds" / "hello-c", n)


def perl_mind(n: int) -> list[float]:
    return file_roundtrip(ROOT / "minds" / "hello-perl", n)


def js_mind(n: int) -> list[float]:
    return file_roundtrip(ROOT / "minds" / "hello-js", n)


CONTESTANTS = {
    "pipe": pipe_roundtrip,
    "python-mind": python_mind,
    "sh-mind": sh_mind,
    "c-mind": c_mind,
    "perl-mind": perl_mind,
    "js-mind": js_mind,
}


def summary(samples: list[float]) -> dict:
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # nearest rank  # noqa: E731
    return {"n": len(s), "median_us": round(pick(0.5) * 1e6, 1), "p99_us": round(pick(0.99) * 1e6, 1),
            "min_us": round(s[0] * 1e6, 1), "max_us": round(s[-1] * 1e6, 1)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="round trips per contestant (after 20 warm-up)")
    ap.add_argument("--only", default="", help="comma-separated contestants (default: all): " + ",".join(CONTESTANTS))
    args = ap.parse_args(argv)
    names = [x for x in args.only.split(",") if x] or list(CONTESTANTS)
    results = {}
    print(f"{'contestant':<12} {'n':>6} {'median us':>10} {'p99 us':>10} {'min us':>10} {'max us':>10}")
    for name in names:
        r = results[name] = summary(CONTESTANTS[name](args.n))
        print(f"{name:<12} {r['n']:>6} {r['median_us']:>10} {r['p99_us']:>10} {r['min_us']:>10} {r['max_us']:>10}",
              flush=True)
    print(json.dumps({"bench": "lib_roundtrip", "n": args.n, "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
