#!/usr/bin/env python3
"""Fuzz every front end at length: N seeded requests each (valid and hostile
mixed, tests/gateway/fuzzkit.py), then check what the short suite checks plus
memory: 0 responses of 500, 0 tracebacks, every XML/JSON body well-formed,
gateway RSS before and after (serve, gunicorn: the server and its workers),
no Program 1 and no live run left once every run is ended, nothing written
outside RUNS.

    python3 bench/fuzz.py [--requests 20000] [--backends serve,gunicorn,lighttpd,apache]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "gateway"), str(REPO / "tests")]
from fuzzkit import fuzz  # noqa: E402
from gwkit import build_root, diff_snapshots, launch, shutdown, snapshot, wait_no_program1  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (gunicorn's workers), in MB."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return round(total / 1024, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--backends", default="serve,gunicorn,lighttpd,apache")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("WWM_ALLOW_ROOT", "1")  # a throw-away gateway on 127.0.0.1
    base = Path(tempfile.mkdtemp(prefix="wwm-fuzz-"))
    os.chmod(base, 0o755)
    build_root(base / "root")
    rows, ok = [], True
    for name in args.backends.split(","):
        backend = launch(name, base, base / "root")
        before = snapshot(base)
        rss0 = rss_mb(backend.proc.pid)
        started = time.monotonic()
        stats = fuzz(backend.port, backend.prefix, args.requests, args.seed,
                     progress=lambda i, s: print(f"  {name}: {i} requests, {len(s['problems'])} problems",
                                                 file=sys.stderr, flush=True))
        seconds = time.monotonic() - started
        rss1 = rss_mb(backend.proc.pid)
        left = wait_no_program1(backend.runs)
        outside = diff_snapshots(before, snapshot(base))
        shutdown(backend)
        row = {"backend": name, "requests": stats["requests"], "seconds": round(seconds, 1),
               "by_status": stats["by_status"], "problems": len(stats["problems"]), "first_problems":
               stats["problems"][:5], "rss_mb_before": rss0, "rss_mb_after": rss1,
               "program1_left": len(left), "written_outside_runs": len(outside)}
        ok &= not stats["problems"] and not left and not outside
        rows.append(row)
        print(f"{name:9} {stats['requests']:6} requests in {seconds:6.1f} s  problems {len(stats['problems'])}  "
              f"RSS {rss0} -> {rss1} MB  Program 1 left {len(left)}  outside RUNS {len(outside)}  "
              f"statuses {dict(sorted(stats['by_status'].items()))}")
    print(json.dumps({"bench": "fuzz", "ok": ok, "load": os.getloadavg()[0], "rows": rows}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
