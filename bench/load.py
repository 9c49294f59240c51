#!/usr/bin/env python3
"""Load: N keep-alive clients play one World behind `wwm serve` for S seconds.

Each client loops StartRun, GetState, ExecuteAction until the World is done
(the hello game: a binary search, about 7 steps), EndRun, on its own
connection. Clients say who they are in X-Real-IP (as a reverse proxy would,
WWM_CLIENT_HEADER=X-Real-IP), so the per-client share does not lump them
together. Prints throughput, p50/p99 per query, errors by code; targets:
0 errors, 0 spurious 409s, p99 ExecuteAction within 10x its p50.

    python3 bench/load.py [--clients 50] [--seconds 60]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "gateway"), str(REPO / "tests")]
from gwkit import copy_hello, free_port, python_env, start_serve, stop_process  # noqa: E402


def client(port: int, ident: int, until: float, lat: dict, errors: dict, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"X-Real-IP": f"10.0.{ident // 250}.{ident % 250}"}

    def q(query, **params):
        t = time.perf_counter()
        conn.request("GET", "/wwm/worlds/hello-python?" + urllib.parse.urlencode(
            dict(params, query=query, format="json")), headers=headers)
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        with lock:
            lat.setdefault(query, []).append(time.perf_counter() - t)
            if resp.status != 200:
                errors[resp.status] = errors.get(resp.status, 0) + 1
        return resp.status, doc

    while time.monotonic() < until:
        status, doc = q("StartRun")
        if status != 200:
            time.sleep(0.5)
            continue
        run, low, high = doc["run"], 1, 100
        q("GetState", run=run)
        for _ in range(20):
            guess = (low + high) // 2
            status, doc = q("ExecuteAction", run=run, action=str(guess))
            if status != 200 or doc.get("done"):
                break
            state = dict(line.split(": ") for line in doc["state"].splitlines() if ": " in line)
            low, high = int(state.get("low", low)), int(state.get("high", high))
        q("EndRun", run=run)
    conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wwm-load-"))
    copy_hello(base / "root")
    port = free_port()
    env = python_env(WWM_CLIENT_HEADER="X-Real-IP", WWM_ALLOW_ROOT="1", WWM_MAX_RUNS=str(args.clients + 16))
    serve = start_serve(base / "srv", base / "root", base / "runs", port, env=env)
    lat, errors, lock = {}, {}, threading.Lock()
    until = time.monotonic() + args.seconds
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(port, i, until, lat, errors, lock)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    stop_process(serve)
    rows = {}
    for query, values in sorted(lat.items()):
        values.sort()
        rows[query] = {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 2),
                       "p99_ms": round(values[int(0.99 * (len(values) - 1))] * 1000, 2)}
        print(f"{query:14} n={len(values):7}  p50 {rows[query]['p50_ms']:8.2f} ms  p99 {rows[query]['p99_ms']:8.2f} ms")
    total = sum(len(v) for v in lat.values())
    ea = rows.get("ExecuteAction", {"p50_ms": 0, "p99_ms": 0})
    ratio = ea["p99_ms"] / ea["p50_ms"] if ea["p50_ms"] else float("inf")
    ok = not errors and ratio <= 10
    print(f"{args.clients} clients, {seconds:.0f} s: {total / seconds:.0f} queries/s, errors {errors or 0}, "
          f"p99/p50 ExecuteAction {ratio:.1f} (target <= 10) {'OK' if ok else 'MISSED'}; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(json.dumps({"bench": "load", "clients": args.clients, "seconds": round(seconds, 1),
                      "queries_per_s": round(total / seconds, 1), "errors": errors, "queries": rows,
                      "p99_over_p50_execute": round(ratio, 2), "ok": ok, "load": os.getloadavg()[0]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
