#!/usr/bin/env python3
"""StartRun + EndRun latency with no ended runs kept, and with N ended runs kept
(their folders stay an hour for GetLog): the live-run registry makes StartRun
count only live runs, so it should not grow with N. The hourly sweep of ended
folders runs at most every WWM_REAP_EVERY seconds; its own cost is printed too.

    python3 bench/startrun.py [--ended 20000] [--samples 50]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "gateway"), str(REPO / "tests")]
from gwkit import copy_hello  # noqa: E402
from wwm.gateway.queries import Gateway  # noqa: E402
from wwm.gateway.runs import new_run_id  # noqa: E402
from wwm.protocol.manifest import find_server  # noqa: E402


def measure(gw: Gateway, samples: int) -> list[float]:
    server = find_server(gw.root, "worlds/hello-python")
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        run = gw.start_run(server).run
        times.append(time.perf_counter() - t)
        gw.end_run(server, run)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ended", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()
    os.environ["WWM_ALLOW_ROOT"] = "1"
    base = Path(tempfile.mkdtemp(prefix="wwm-startrun-"))
    copy_hello(base / "root")
    result = {}
    for label, ended in (("empty", 0), ("ended", args.ended)):
        runs = base / f"runs-{label}"
        home = runs / "worlds" / "hello-python"
        home.mkdir(parents=True)
        now = time.time()
        for _ in range(ended):  # what EndRun leaves: a folder with its log and final notes
            folder = home / new_run_id()
            folder.mkdir()
            (folder / "log").write_text("")
            (folder / ".wwm.json").write_text(json.dumps({"phase": "ended", "used": now, "pid": 0}))
        gw = Gateway(str(base / "root"), str(runs))
        times = measure(gw, args.samples)
        t = time.perf_counter()
        gw.reap(force=True)
        sweep = time.perf_counter() - t
        result[label] = {"ended_kept": ended, "startrun_ms_median": round(statistics.median(times) * 1000, 2),
                         "startrun_ms_max": round(max(times) * 1000, 2), "sweep_ms": round(sweep * 1000, 1)}
        print(f"{ended:6} ended runs kept: StartRun median {result[label]['startrun_ms_median']} ms, "
              f"max {result[label]['startrun_ms_max']} ms; one sweep {result[label]['sweep_ms']} ms")
    ratio = result["ended"]["startrun_ms_median"] / result["empty"]["startrun_ms_median"]
    print(json.dumps({"bench": "startrun", "ratio": round(ratio, 2), **result, "load": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
