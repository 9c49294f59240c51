#!/usr/bin/env python3
"""Memory of real SPORE nodes: start N ``wwm spore node`` processes on 127.0.0.1 (as ``wwm demo``
does, ``wwm.mycelium``), let them follow one another and run rounds, then read each process's
resident memory from /proc: VmRSS now, VmHWM its peak, Pss (shared pages, such as torch's
libraries, split among the processes that map them) and Private (pages only this node holds:
what one more node costs); children included, if any.

    flock /tmp/wwm-heavy.lock nice -n 19 python3 bench/spore_memory.py --nodes 4 --rounds 3

Prints one line per node and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wwm.demo import free_port  # noqa: E402
from wwm.mycelium import connect_all, spore_status, start_nodes, stop_nodes  # noqa: E402


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def memory_kib(pid: int) -> dict:
    """VmRSS, VmHWM, Pss and Private (KiB) summed over the process tree of ``pid``."""
    total = {"VmRSS": 0, "VmHWM": 0, "Pss": 0, "Private": 0, "processes": 0}
    for p in tree(pid):
        try:
            lines = (Path(f"/proc/{p}/status").read_text() + Path(f"/proc/{p}/smaps_rollup").read_text()).splitlines()
        except OSError:
            continue
        total["processes"] += 1
        for line in lines:
            key, _, value = line.partition(":")
            key = "Private" if key in ("Private_Clean", "Private_Dirty") else key
            if key in total:
                total[key] += int(value.split()[0])
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="wait until every node has run this many rounds")
    ap.add_argument("--round-seconds", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wwm-spore-memory-") as folder:
        nodes = start_nodes(args.nodes, folder, free_port, round_seconds=args.round_seconds)
        try:
            connect_all(nodes)
            deadline = time.monotonic() + args.timeout
            while min(spore_status(n).get("round", 0) for n in nodes) < args.rounds:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the nodes did not reach round {args.rounds} in {args.timeout:.0f} s")
                time.sleep(2)
            rows = []
            for n in nodes:
                st = spore_status(n)
                rows.append(dict(memory_kib(n.proc.pid), node=n.name, community=n.community,
                                 round=st.get("round"), group=st.get("group")))
                print(f"{n.name} ({n.community}): round {rows[-1]['round']}, "
                      f"{rows[-1]['processes']} process(es), RSS {rows[-1]['VmRSS'] / 1024:.0f} MiB, "
                      f"peak {rows[-1]['VmHWM'] / 1024:.0f} MiB, PSS {rows[-1]['Pss'] / 1024:.0f} MiB, "
                      f"private {rows[-1]['Private'] / 1024:.0f} MiB")
        finally:
            stop_nodes(nodes)
    mean = {k: sum(r[k] for r in rows) / len(rows) / 1024 for k in ("VmRSS", "Pss", "Private")}
    peak = max(r["VmHWM"] for r in rows) / 1024
    print(f"per node: mean RSS {mean['VmRSS']:.0f} MiB, PSS {mean['Pss']:.0f} MiB, private {mean['Private']:.0f} MiB; "
          f"max peak RSS {peak:.0f} MiB")
    print(json.dumps({"nodes": rows, "mean_mib": mean, "max_hwm_mib": peak, "cpu_count": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
