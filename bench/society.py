"""Benchmark societies of Minds: where arbitration helps, and what the fan-out costs.

    python3 bench/society.py                  # about 5 minutes on 2 cores
    python3 bench/society.py --quick          # about 1 minute: fewer seeds and steps
    python3 bench/society.py --json out.json --svg out.svg

Three parts, every run real (Program 1 processes through the gateway core):

1. **classic World** (``worlds/house``, Humphrys' house robot): the specialists
   house-greedy (cleans, ignores the battery) and house-cautious (keeps the
   battery, cleans nothing), and house-random, each alone, against societies of
   greedy + cautious under every rule, and of all three.
2. **hello World** with Minds of different skill (tests/society/servers/member.py):
   a crowd of noisy bisectors (40% of their guesses anywhere in 1..100; no
   Q-values), and a mixed society (a sharp
   bisector, a clumsy one, a linear searcher, all reporting Q-values) whose
   W the society must learn (W-learning, Humphrys 1997).
3. **songs** (``worlds/songs`` with the song Minds under ``minds/``): rank fusion
   (Borda, RRF, vote) against each recommender alone; the Minds are copied so
   that the learning one (fungus) starts every run untrained; skipped while
   those folders are missing.
4. **latency**: a real ``wwm serve`` gateway on 127.0.0.1; the mean GetAction time
   of a society against that of its slowest member (target: at most 1.2 x), for
   members that take 20/50/100 ms and for members that take no time at all.

Annotations (``w:``, ``q ACTION:``) are stripped before a World sees an action,
as a society does, so annotated Minds can also play alone.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "society"))

from gateways import Gateway, add_society, make_root  # noqa: E402

from wwm.client import connect  # noqa: E402
from wwm.protocol.errors import WWMError
from wwm.protocol.annotations import strip  # noqa: E402

RULES = ("w-learning", "collective", "worst-unhappiness", "vote", "borda", "rrf")


# ------------------------------------------------------------------ playing


def play(world: str, mind: str, steps: int, seed: int, runs: str) -> dict:
    """One episode, annotations stripped before the World; score and GetAction times."""
    wsrv, msrv = connect(world, runs=runs), connect(mind, runs=runs)
    wrun = wsrv.start_run(seed)
    mrun = msrv.start_run(seed)
    times, n, score = [], 0, ""
    try:
        state = wrun.get_state()
        for n in range(1, steps + 1):
            t = time.perf_counter()
            action = mrun.get_action(state)
            times.append(time.perf_counter() - t)
            result = wrun.execute_action(strip(action))
            state = result.state
            if result.done:
                break
        score = wrun.get_score()
    finally:
        for r in (mrun, wrun):
            try:
                r.end()
            except Exception:
                pass
        for srv in (msrv, wsrv):  # stop shared-instance processes too: the next run starts afresh
            gateway = getattr(srv.transport, "gateway", None)
            if gateway is not None:
                gateway.shutdown()
    first = score.split()[0] if score.split() else "nan"
    return {"score": float(first), "steps": n, "detail": score,
            "ms": statistics.mean(times[1:] or times) * 1000 if times else None}


def society_xml(name: str, rule: str, hrefs: list[str], **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    members = "".join(f'<member href="{h}"/>' for h in hrefs)
    return f'<society name="{name}" rule="{rule}"{extra}>{members}</society>'


def compare(title: str, world: str, alone: dict[str, str], societies: dict[str, str], seeds: list[int],
            steps: int, runs: str, log, reset=None) -> dict:
    """Each Mind alone and each society, over the seeds; returns the table's rows.

    ``reset()`` is called before every run (to give learning Minds the same start).
    """
    rows, retried = [], []
    for label, folder in list(alone.items()) + list(societies.items()):
        t = time.perf_counter()
        scores, ms, played = [], [], []
        for seed in seeds:
            if reset is not None:
                reset()
            try:
                r = play(world, folder, steps, seed, runs)
            except WWMError as exc:  # reported in the output, never hidden: the run is played again
                log(f"  {label}: seed {seed}: run failed, played again: {exc}")
                retried.append(f"{label}, seed {seed}: {exc}")
                if reset is not None:
                    reset()
                r = play(world, folder, steps, seed, runs)
            scores.append(r["score"])
            played.append(r["steps"])
            if r["ms"] is not None:
                ms.append(r["ms"])
        rows.append({"mind": label, "society": label in societies, "scores": scores,
                     "mean": statistics.mean(scores), "steps": played,
                     "ms_per_step": round(statistics.mean(ms), 2) if ms else None})
        log(f"  {label:38s} mean {rows[-1]['mean']:8.2f}  {scores}  ({time.perf_counter() - t:.0f} s)")
    return {"title": title, "world": "/".join(Path(world).parts[-2:]),
            "seeds": seeds, "steps": steps, "rows": rows, "retried": retried}


# ------------------------------------------------------------------ the parts


def part_house(tmp: Path, seeds, steps, log) -> dict | None:
    world = REPO / "worlds" / "house"
    minds = {n: REPO / "minds" / f"house-{n}" for n in ("greedy", "cautious", "random")}
    if not world.is_dir() or not all(m.is_dir() for m in minds.values()):
        log("house World or its Minds missing: skipped")
        return None
    root = tmp / "house"
    societies = {}
    for rule in RULES:
        name = f"greedy+cautious-{rule}"
        add_society(root, name, society_xml(name, rule, [str(minds["greedy"]), str(minds["cautious"])]))
        societies[f"society greedy+cautious, {rule}"] = str(root / "minds" / name)
    for rule in ("w-learning", "collective"):
        name = f"all3-{rule}"
        add_society(root, name, society_xml(name, rule, [str(m) for m in minds.values()]))
        societies[f"society greedy+cautious+random, {rule}"] = str(root / "minds" / name)
    alone = {f"house-{n} alone": str(m) for n, m in minds.items()}
    log(f"classic World: worlds/house, seeds {seeds}, {steps} steps")
    return compare("house robot (classic World)", str(world), alone, societies, seeds, steps,
                   str(tmp / "runs-house"), log)


def part_hello(tmp: Path, seeds, steps, log) -> dict:
    root = make_root(tmp, {
        "noisy-1": "--skill noisy --p 0.4 --wild --salt 1",
        "noisy-2": "--skill noisy --p 0.4 --wild --salt 2",
        "noisy-3": "--skill noisy --p 0.4 --wild --salt 3",
        "sharp": "--skill bisect --q optimal",
        "clumsy": "--skill noisy --p 0.6 --salt 4 --q optimal",
        "linear": "--skill linear --q linear",
    }, name="hello")
    m = lambda n: str(root / "minds" / n)  # noqa: E731
    world = str(root / "worlds" / "hello-python")
    alone = {f"{n} alone": m(n) for n in ("noisy-1", "noisy-2", "noisy-3", "sharp", "clumsy", "linear")}
    societies = {}
    for rule in RULES:
        name = f"crowd-{rule}"
        add_society(root, name, society_xml(name, rule, [m("noisy-1"), m("noisy-2"), m("noisy-3")]))
        societies[f"society of 3 noisy, {rule}"] = m(name)
    for rule in RULES:
        # the linear searcher first: with equal W at the start it is obeyed, and W-learning must find out
        name = f"mixed-{rule}"
        add_society(root, name, society_xml(name, rule, [m("linear"), m("clumsy"), m("sharp")]))
        societies[f"society linear+clumsy+sharp, {rule}"] = m(name)
    name = "weak-collective"
    add_society(root, name, society_xml(name, "collective", [m("linear"), m("clumsy")]))
    societies["society linear+clumsy, collective"] = m(name)
    name = "weak-w"
    add_society(root, name, society_xml(name, "w-learning", [m("linear"), m("clumsy")]))
    societies["society linear+clumsy, w-learning"] = m(name)
    log(f"hello World (skills: tests/society/servers/member.py), seeds {seeds}, {steps} steps")
    return compare("guess the number (hello World)", world, alone, societies, seeds, steps,
                   str(tmp / "runs-hello"), log)


def part_songs(tmp: Path, seeds, steps, log) -> dict | None:
    world = REPO / "worlds" / "songs"
    names = [n for n in ("popularity", "itemknn", "random", "fungus") if (REPO / "minds" / n / "wwm.toml").is_file()]
    if not (world / "wwm.toml").is_file() or len(names) < 2:
        log("songs: worlds/songs or the song Minds (minds/popularity, itemknn, random, fungus) missing: skipped")
        return None
    root = tmp / "songs"
    # Copies of the song Minds, so that a learning Mind (fungus keeps a checkpoint in its
    # folder's var/) starts every run from the same, untrained state and the repository's
    # checkpoints are left alone.
    for n in names:
        shutil.copytree(REPO / "minds" / n, root / "minds" / n, ignore=shutil.ignore_patterns("var", "__pycache__"))
    hrefs = [str(root / "minds" / n) for n in names]

    def reset():
        for n in names:
            shutil.rmtree(root / "minds" / n / "var", ignore_errors=True)

    societies = {}
    for rule in ("borda", "rrf", "vote"):
        name = f"songs-{rule}"
        add_society(root, name, society_xml(name, rule, hrefs, deadline="5", actions="ranked"))
        societies[f"society {'+'.join(names)}, {rule}"] = str(root / "minds" / name)
    without_random = [h for h in hrefs if not h.endswith("/random")]
    if len(without_random) >= 2 and len(without_random) < len(hrefs):
        add_society(root, "songs-rrf-norandom", society_xml("songs-rrf-norandom", "rrf", without_random, deadline="5"))
        societies["society popularity+itemknn+fungus, rrf"] = str(root / "minds" / "songs-rrf-norandom")
    pair = [h for h in hrefs if h.endswith(("/itemknn", "/fungus"))]
    if len(pair) == 2:
        add_society(root, "songs-rrf-pair", society_xml("songs-rrf-pair", "rrf", pair, deadline="5"))
        societies["society itemknn+fungus, rrf"] = str(root / "minds" / "songs-rrf-pair")
    alone = {f"{n} alone": h for n, h in zip(names, hrefs)}
    log(f"songs World, Minds {names}, seeds {seeds}, {steps} steps")
    return compare("song requests (songs World; every run starts untrained)", str(world), alone, societies, seeds,
                   steps, str(tmp / "runs-songs"), log, reset)


def part_latency(tmp: Path, calls: int, log) -> dict:
    """Mean GetAction time over HTTP: each member alone, then the society of them."""
    root = make_root(tmp, {"lag20": "--skill bisect --delay 0.02", "lag50": "--skill bisect --delay 0.05",
                           "lag100": "--skill bisect --delay 0.1", "fast1": "--skill bisect",
                           "fast2": "--skill bisect --salt 2", "fast3": "--skill bisect --salt 3"},
                     name="latency")
    out = {"calls": calls, "groups": []}
    with Gateway(root, tmp / "runs-latency") as gw:
        groups = {"members of 20, 50 and 100 ms": ["lag20", "lag50", "lag100"],
                  "members of no delay": ["fast1", "fast2", "fast3"]}
        for label, names in groups.items():
            soc = "soc-" + names[0]
            add_society(root, soc, society_xml(soc, "vote", [gw.url("minds/" + n) for n in names], deadline="2"))
            times = {}
            for who in names + [soc]:
                run = connect(gw.url("minds/" + who)).start_run()
                run.get_action("low: 1\nhigh: 100\n")  # start-up, not measured
                samples = []
                for i in range(calls):
                    t = time.perf_counter()
                    run.get_action(f"reward: 0\nlow: 1\nhigh: {100 - i % 50}\n")
                    samples.append(time.perf_counter() - t)
                try:
                    run.end()
                except Exception as exc:  # ending is best effort; the gateway reaps what is left
                    log(f"  (EndRun of {who} failed: {exc})")
                times[who] = {"mean_ms": round(statistics.mean(samples) * 1000, 2),
                              "p95_ms": round(sorted(samples)[int(0.95 * (len(samples) - 1))] * 1000, 2)}
            slowest = max(names, key=lambda n: times[n]["mean_ms"])
            ratio = times[soc]["mean_ms"] / times[slowest]["mean_ms"]
            out["groups"].append({"group": label, "members": {n: times[n] for n in names},
                                  "society": times[soc], "slowest": slowest, "ratio": round(ratio, 3),
                                  "overhead_ms": round(times[soc]["mean_ms"] - times[slowest]["mean_ms"], 2)})
            log(f"  {label:30s} society {times[soc]['mean_ms']:7.2f} ms  slowest ({slowest}) "
                f"{times[slowest]['mean_ms']:7.2f} ms  ratio {ratio:.3f}")
    return out


# ------------------------------------------------------------------ reporting


def _num(x: float) -> str:
    return f"{x:.2f}" if abs(x) >= 1 or x == 0 else f"{x:.3f}"


def bars(rows: list[dict], width: int = 36) -> list[str]:
    lo = min(0.0, min(r["mean"] for r in rows))
    hi = max(r["mean"] for r in rows)
    span = (hi - lo) or 1.0
    out = []
    for r in rows:
        n = int(round((r["mean"] - lo) / span * width))
        out.append(f"{r['mind'][:48]:48s} {'#' * n:{width}s} {_num(r['mean']):>8s}")
    return out


def markdown(results: dict) -> str:
    lines = [f"# bench/society.py ({results['when']}, {results['machine']})", ""]
    for part in results["parts"]:
        lines += [f"## {part['title']}", "",
                  f"World `{part['world']}`, seeds {part['seeds']}, at most {part['steps']} steps; score = the "
                  "World's score (mean over seeds).", "",
                  "| Mind | mean score | per seed | steps played | ms per step |", "|---|---:|---|---|---:|"]
        best_alone = max(r["mean"] for r in part["rows"] if not r["society"])
        for r in part["rows"]:
            mark = " **(beats every member alone)**" if r["society"] and r["mean"] > best_alone else ""
            lines.append(f"| {r['mind']}{mark} | {_num(r['mean'])} | {', '.join(f'{s:g}' for s in r['scores'])} | "
                         f"{', '.join(map(str, r['steps']))} | {r['ms_per_step']} |")
        lines += ["", "```", *bars(part["rows"]), "```", ""]
        for note in part.get("retried", []):
            lines.append(f"- played again after a gateway error: {note}")
        if part.get("retried"):
            lines.append("")
    lat = results.get("latency")
    if lat:
        lines += ["## Latency of the fan-out (real gateway, HTTP)", "",
                  f"Mean GetAction time over {lat['calls']} calls (after a start-up call), each member alone and the "
                  "society of them (rule vote, deadline 2 s, so it waits for every member).", "",
                  "| members | slowest member alone | society | society / slowest | overhead |",
                  "|---|---:|---:|---:|---:|"]
        for g in lat["groups"]:
            lines.append(f"| {g['group']} | {g['members'][g['slowest']]['mean_ms']} ms ({g['slowest']}) | "
                         f"{g['society']['mean_ms']} ms | {g['ratio']:.3f} x | {g['overhead_ms']} ms |")
        lines.append("")
    return "\n".join(lines)


def svg(results: dict) -> str:
    """A bar chart per part: members alone in grey, societies in blue."""
    parts = results["parts"]
    bar_h, gap, left, width = 16, 4, 330, 360
    height = sum(40 + len(p["rows"]) * (bar_h + gap) for p in parts) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
           'font-family="sans-serif" font-size="12">']
    y = 10
    for p in parts:
        out.append(f'<text x="4" y="{y + 16}" font-weight="bold">{_esc(p["title"])}: mean score</text>')
        y += 28
        lo = min(0.0, min(r["mean"] for r in p["rows"]))
        hi = max(0.0, max(r["mean"] for r in p["rows"]))
        scale = width / ((hi - lo) or 1.0)
        zero = left + (-lo) * scale
        for r in p["rows"]:
            x0, x1 = sorted((zero, zero + r["mean"] * scale))
            colour = "#3b6fb6" if r["society"] else "#9a9a9a"
            out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{_esc(r["mind"][:48])}</text>')
            out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_h}" fill="{colour}"/>')
            out.append(f'<text x="{max(x1, zero) + 4:.1f}" y="{y + 12}">{_num(r["mean"])}</text>')
            y += bar_h + gap
        out.append(f'<line x1="{zero:.1f}" y1="{y - len(p["rows"]) * (bar_h + gap)}" x2="{zero:.1f}" y2="{y}" '
                   'stroke="black"/>')
        y += 12
    out.append("</svg>")
    return "\n".join(out)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main(argv=None) -> int:
    os.environ.setdefault("WWM_ALLOW_ROOT", "1")  # throw-away gateways on 127.0.0.1, as root on a test box too
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds, fewer steps, fewer latency calls")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default 3; quick 2)")
    ap.add_argument("--house-steps", type=int, default=None, help="steps per house run (default 500; quick 200)")
    ap.add_argument("--hello-steps", type=int, default=None, help="steps per hello run (default 300; quick 100)")
    ap.add_argument("--song-steps", type=int, default=None, help="steps per song run (default 200; quick 50)")
    ap.add_argument("--calls", type=int, default=None, help="GetAction calls per latency sample (default 60)")
    ap.add_argument("--only", choices=["house", "hello", "songs", "latency"], action="append",
                    help="run only these parts (repeatable)")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--svg", help="write the score figure here")
    ap.add_argument("--report", metavar="JSON", help="only print the report (and --svg) of an earlier --json")
    args = ap.parse_args(argv)
    if args.report:
        results = json.loads(Path(args.report).read_text())
        print(markdown(results))
        if args.svg:
            Path(args.svg).write_text(svg(results))
        return 0
    q = args.quick
    seeds = list(range(1, (args.seeds or (2 if q else 3)) + 1))
    only = set(args.only or ["house", "hello", "songs", "latency"])
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    results = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores", "parts": []}
    with tempfile.TemporaryDirectory(prefix="wwm-bench-society-") as tmp:
        tmp = Path(tmp)
        if "house" in only:
            part = part_house(tmp, seeds, args.house_steps or (200 if q else 500), log)
            if part:
                results["parts"].append(part)
        if "hello" in only:
            results["parts"].append(part_hello(tmp, seeds, args.hello_steps or (100 if q else 300), log))
        if "songs" in only:
            part = part_songs(tmp, seeds, args.song_steps or (50 if q else 200), log)
            if part:
                results["parts"].append(part)
        if "latency" in only:
            log("latency: a real gateway on 127.0.0.1")
            results["latency"] = part_latency(tmp, args.calls or (30 if q else 60), log)
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.svg and results["parts"]:
        Path(args.svg).write_text(svg(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
