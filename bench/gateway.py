#!/usr/bin/env python3
"""Gateway benchmark: every figure beside its baseline, measured interleaved in the same run.

CGI
    GetState through lighttpd (keep-alive connection, an existing run of the
    hello World) for the readable ``cgi-bin/wwm.py`` and for its compiled
    variant (``wwm.py --compile``, a zip of bytecode installed under the same
    name), against ``/usr/bin/python3 -c pass``: the three are sampled in turn,
    order rotating.  Target: <= 2.0x.  Then where the time goes: the CGI run
    directly (no web server), compiling the file, imports (``-X importtime``).

One hop
    CartPole-v1 behind ``wwm serve`` (worlds/cartpole), the agent in the Python
    client (bench/cartpole_agents.py: wwm.connect, start_run, get_state,
    execute_action), steps/s, against openai/gym-http-api as shipped: its Flask
    server (with bench/gym_http_api-gym026.patch for gym 0.26) and its own
    client, the same agent.  Target: >= 2.5x.

Two hops
    ``wwm run`` of worlds/cartpole and minds/cartpole-balance, both behind
    ``wwm serve``: steps/s as ``wwm run`` reports it.  Targets: >= 1000 steps/s
    and >= 1.5x gym-http-api (which has no remote Mind at all).

Medians with the spread (p10-p90 for CGI, min-max of the repeats for steps/s).
Prints a table, then one JSON line.  gym-http-api needs ``--gym-http-api DIR``
(a checkout) and ``--gym-python PY`` (with gym==0.26.2, numpy<2, flask,
requests, six); without them its rows say 'skipped' and why.

    python bench/gateway.py [--quick] [--tmpfs] [--samples N] [--steps N] [--repeat R]
                            [--gym-http-api DIR --gym-python PY] [--profile]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO / "tests" / "gateway"))
sys.path.insert(0, str(REPO / "tests"))
import gwkit  # noqa: E402  (imports pytest; its pytest.skip is caught below)
from gwkit import free_port, start_lighttpd, start_serve, stop_process, wait_ready  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
CGI_TARGET, ONE_HOP_TARGET, TWO_HOP_TARGET, TWO_HOP_RATE = 2.0, 2.5, 1.5, 1000.0
GYM_PATCH = BENCH / "gym_http_api-gym026.patch"
AGENTS = BENCH / "cartpole_agents.py"


# -- helpers -------------------------------------------------------------------


def make_root(base: str) -> Path:
    """A ROOT with the hello-python World and Mind (CGI) and CartPole (one and two hops)."""
    root = Path(base) / "root"
    gwkit.copy_hello(root)
    for kind, name in (("worlds", "cartpole"), ("minds", "cartpole-balance")):
        shutil.copytree(REPO / kind / name, root / kind / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, p10, p90)."""
    s = sorted(values)
    return statistics.median(s), s[int(0.1 * (len(s) - 1))], s[int(0.9 * (len(s) - 1))]


def filesystem(path: str) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts), e.g. ``ext4``."""
    path, best, kind = os.path.realpath(path), "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")) \
                    and len(fields[1]) >= len(best):
                best, kind = fields[1], fields[2]
    return kind


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# -- CGI -------------------------------------------------------------------------


class CGIClient:
    """GetState of one run through one lighttpd, on a keep-alive connection."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.prefix = gwkit.CGI_PREFIX + "worlds/hello-python"
        self.run = self.get(query="StartRun").decode().strip()
        self.state = "?" + urllib.parse.urlencode({"query": "GetState", "run": self.run, "format": "text"})
        if not self.get_state().startswith(b"low: 1"):
            raise RuntimeError("GetState: not the hello World's first state")

    def get(self, target: str | None = None, **params) -> bytes:
        self.conn.request("GET", self.prefix + (target or "?" + urllib.parse.urlencode(
            {"format": "text", **params})))
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status} {body[:200]!r}")
        return body

    def get_state(self) -> bytes:
        return self.get(self.state)

    def close(self) -> None:
        self.get(query="EndRun", run=self.run)
        self.conn.close()


def bench_cgi(base: str, root: Path, samples: int, runs_parent: str) -> dict:
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not os.path.exists(lighttpd):
        return {"skipped": "lighttpd is not installed"}
    if not os.path.exists(SYSTEM_PYTHON):
        return {"skipped": f"{SYSTEM_PYTHON} is missing"}
    procs, clients = [], {}
    try:
        for variant in ("readable", "compiled"):
            files = Path(base) / f"srv-lighttpd-{variant}"
            try:  # lighttpd.conf, htdocs/ and cgi-bin/wwm.py under files/; waits until it answers
                procs.append(start_lighttpd(files, root, Path(runs_parent) / f"runs-cgi-{variant}", free_port()))
            except gwkit.pytest.skip.Exception as exc:
                return {"skipped": str(exc)}
            if variant == "compiled":  # the zip of bytecode, under the same name (python runs a zip)
                subprocess.run([SYSTEM_PYTHON, str(REPO / "cgi-bin" / "wwm.py"), "--compile",
                                str(files / "cgi-bin" / "wwm.py")], check=True, capture_output=True)
            port = int(re.search(r"server.port = (\d+)", (files / "lighttpd.conf").read_text()).group(1))
            clients[variant] = CGIClient(port)

        def python_pass() -> None:
            subprocess.run([SYSTEM_PYTHON, "-c", "pass"], check=True)

        probes = {"readable": clients["readable"].get_state, "compiled": clients["compiled"].get_state,
                  "pass": python_pass}
        names, times = list(probes), {name: [] for name in probes}
        warm = 5
        for i in range(samples + warm):
            for name in names[i % 3:] + names[:i % 3]:  # rotate the order: drift and caches hit all three
                t = time.perf_counter()
                probes[name]()
                if i >= warm:
                    times[name].append(time.perf_counter() - t)
        for c in clients.values():
            c.close()
    finally:
        for proc in procs:
            stop_process(proc)
    med_pass = statistics.median(times["pass"])
    out = {"server": subprocess.run([lighttpd, "-v"], capture_output=True, text=True).stdout.split()[0],
           "samples": samples, "runs_fs": filesystem(runs_parent), "target": CGI_TARGET}
    for name, values in times.items():
        med, p10, p90 = spread(values)
        out[name] = {"median_ms": ms(med), "p10_ms": ms(p10), "p90_ms": ms(p90)}
        if name != "pass":
            out[name].update(ratio=round(med / med_pass, 2), ok=med / med_pass <= CGI_TARGET)
    return out


def cgi_breakdown(base: str, root: Path, samples: int, runs_parent: str) -> dict:
    """Where a CGI GetState's time goes, without a web server: the same request run
    directly (readable and compiled), compiling the file, and the imports."""
    cgi = REPO / "cgi-bin" / "wwm.py"
    compiled = Path(base) / "wwm-compiled.py"
    subprocess.run([SYSTEM_PYTHON, str(cgi), "--compile", str(compiled)], check=True, capture_output=True)
    runs = Path(runs_parent) / "runs-cgi-direct"
    env = {"PATH": "/usr/bin:/bin", "WWM_ROOT": str(root), "WWM_RUNS": str(runs), "WWM_PYTHONPATH": str(REPO),
           "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "PATH_INFO": "/worlds/hello-python",
           "SERVER_PROTOCOL": "HTTP/1.1", "WWM_ALLOW_ROOT": "1"}

    def cgi_run(script: Path, query: dict, *flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([SYSTEM_PYTHON, *flags, str(script)], capture_output=True, check=True,
                              env={**env, "QUERY_STRING": urllib.parse.urlencode({"format": "text", **query})})

    head_body = re.split(rb"\r?\n\r?\n", cgi_run(cgi, {"query": "StartRun"}).stdout, maxsplit=1)
    run = head_body[1].decode().strip()
    state = {"query": "GetState", "run": run}
    if b"low: 1" not in cgi_run(cgi, state).stdout:
        raise RuntimeError("direct CGI GetState failed")
    source = cgi.read_text()
    times = {"direct_readable": [], "direct_compiled": [], "pass": [], "compile_in_process": []}
    for _ in range(samples):
        for name, fn in (("direct_readable", lambda: cgi_run(cgi, state)),
                         ("direct_compiled", lambda: cgi_run(compiled, state)),
                         ("pass", lambda: subprocess.run([SYSTEM_PYTHON, "-c", "pass"], check=True)),
                         ("compile_in_process", lambda: compile(source, "wwm.py", "exec", dont_inherit=True))):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    # -X importtime: microseconds each module's own import took (self), the whole request once
    imports = {}
    for _ in range(5):
        err = cgi_run(compiled, state, "-X", "importtime").stderr.decode()
        for m in re.finditer(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", err):
            imports.setdefault(m.group(3).strip(), []).append(int(m.group(1)))
    self_us = {name: statistics.median(v) for name, v in imports.items()}
    pass_imports = {}
    for _ in range(5):
        err = subprocess.run([SYSTEM_PYTHON, "-X", "importtime", "-c", "pass"], capture_output=True,
                             text=True).stderr
        for m in re.finditer(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", err):
            pass_imports.setdefault(m.group(3).strip(), []).append(int(m.group(1)))
    pass_us = sum(statistics.median(v) for v in pass_imports.values())
    extra = {k: v for k, v in self_us.items() if k not in pass_imports}
    out = {name: ms(statistics.median(v)) for name, v in times.items()}
    out.update(
        imports_total_ms=round(sum(self_us.values()) / 1000, 2), imports_of_python_c_pass_ms=round(pass_us / 1000, 2),
        imports_beyond_python_c_pass_ms=round(sum(extra.values()) / 1000, 2),
        top_extra_imports_ms={k: round(v / 1000, 2) for k, v in sorted(extra.items(), key=lambda kv: -kv[1])[:8]})
    return out


# -- gym-http-api as shipped ------------------------------------------------------------


def gym_http_api_problem(directory: str | None, python: str | None) -> str | None:
    """Why gym-http-api cannot be measured, or None."""
    if not directory or not python:
        return "needs --gym-http-api DIR and --gym-python PY"
    if not os.path.isfile(os.path.join(directory, "gym_http_server.py")):
        return f"no gym_http_server.py in {directory}"
    check = subprocess.run([python, "-c", "import gym, flask, requests, six, numpy; print(gym.__version__)"],
                           capture_output=True, text=True)
    if check.returncode != 0 or check.stdout.strip() != "0.26.2":
        return f"{python} lacks gym==0.26.2 with flask, requests, six, numpy<2: {check.stderr.strip()[-200:]}"
    if not shutil.which("patch"):
        return "the patch command is missing"
    return None


def start_gym_http_api(base: str, directory: str, python: str, port: int) -> subprocess.Popen:
    """Their server on a copy patched for gym 0.26 (bench/gym_http_api-gym026.patch)."""
    copy = Path(base) / "gym-http-api"
    copy.mkdir()
    shutil.copy(os.path.join(directory, "gym_http_server.py"), copy)
    subprocess.run(["patch", "-s", "-p1", "-d", str(copy), "-i", str(GYM_PATCH)], check=True)
    log = copy / "server.log"
    proc = subprocess.Popen([python, "-W", "ignore", str(copy / "gym_http_server.py"), "-p", str(port)],
                            cwd=copy, stdin=subprocess.DEVNULL, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    wait_ready(proc, port, "/v1/envs/", log)
    return proc


# -- one and two hops --------------------------------------------------------------------


def agent(cmd: list[str], env: dict | None = None) -> dict:
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wwm_run(world: str, mind: str, steps: int, seed: int, env: dict) -> dict:
    """One `wwm run` (CartPole: it ends at done, at most 500 steps); steps/seconds as it reports."""
    started = time.perf_counter()
    doc = agent([sys.executable, "-m", "wwm", "run", world, mind, "--steps", str(steps), "--seed", str(seed),
                 "--quiet"], env)
    doc["wall"] = time.perf_counter() - started
    return doc


def rate(runs: list[dict], key: str = "seconds") -> dict:
    """Steps/s: the median over the repeats of each repeat's total, with min and max."""
    rates = [sum(r["steps"] for r in rep) / sum(r[key] for r in rep) for rep in runs]
    return {"median": round(statistics.median(rates), 1), "min": round(min(rates), 1),
            "max": round(max(rates), 1)}


def bench_hops(base: str, root: Path, steps: int, repeat: int, runs_parent: str,
               gym_dir: str | None, gym_python: str | None) -> dict:
    env = gwkit.python_env()
    port = free_port()
    serve = start_serve(Path(base) / "srv-serve", root, Path(runs_parent) / "runs-serve", port, env=env)
    world, mind = (f"http://127.0.0.1:{port}/wwm/{s}" for s in ("worlds/cartpole", "minds/cartpole-balance"))
    gym_skip = gym_http_api_problem(gym_dir, gym_python)
    gym = None
    try:
        if gym_skip is None:
            gport = free_port()
            gym = start_gym_http_api(base, gym_dir, gym_python, gport)
            gym_cmd = [gym_python, "-W", "ignore", str(AGENTS), "gym", gym_dir, f"http://127.0.0.1:{gport}"]
        one_cmd = [sys.executable, str(AGENTS), "wwm", world]
        # the same agent on the World's folder: the gateway in process, no HTTP (splits HTTP from file hand-off)
        local_cmd = [sys.executable, str(AGENTS), "wwm", str(root / "worlds" / "cartpole")]
        # warm-up: imports, page cache, first processes
        agent(one_cmd + ["200"], env)
        wwm_run(world, mind, 200, 1, env)
        if gym is not None:
            agent(gym_cmd + ["200"])
        one, two, local, base_runs = [], [], [], []
        for i in range(repeat):  # interleaved, so drift hits all three
            one.append([agent(one_cmd + [str(steps)], env)])
            local.append([agent(local_cmd + [str(steps)], env)])
            rep, done = [], 0
            while done < steps:  # whole runs (each ends at done) until `steps` steps
                rep.append(wwm_run(world, mind, 500, 100 * i + len(rep) + 1, env))
                done += rep[-1]["steps"]
            two.append(rep)
            if gym is not None:
                base_runs.append([agent(gym_cmd + [str(steps)])])
    finally:
        stop_process(serve, signal.SIGINT)
        if gym is not None:
            stop_process(gym)
    out = {"steps": steps, "repeat": repeat, "runs_fs": filesystem(runs_parent),
           "one_hop": {**rate(one), "episodes": sum(r[0]["episodes"] for r in one)},
           "local_no_http": rate(local),
           "two_hop": {**rate(two), "with_cli_startup": rate(two, "wall"),
                       "runs": sum(len(r) for r in two), "steps_per_run": round(
                           statistics.mean(x["steps"] for r in two for x in r), 1)}}
    if gym is None:
        out["gym_http_api"] = {"skipped": gym_skip}
        out["two_hop"]["ok"] = out["two_hop"]["median"] >= TWO_HOP_RATE
        return out
    out["gym_http_api"] = {**rate(base_runs), "episodes": sum(r[0]["episodes"] for r in base_runs)}
    g = out["gym_http_api"]["median"]
    out["one_hop"].update(ratio=round(out["one_hop"]["median"] / g, 2),
                          ok=out["one_hop"]["median"] / g >= ONE_HOP_TARGET)
    out["two_hop"].update(ratio=round(out["two_hop"]["median"] / g, 2),
                          ok=out["two_hop"]["median"] >= TWO_HOP_RATE and out["two_hop"]["median"] / g
                          >= TWO_HOP_TARGET)
    return out


def profile_two_hop(base: str, root: Path, steps: int, runs_parent: str) -> dict:
    """cProfile of the client side of `wwm run` (two hops): the top functions by own time."""
    import pstats

    env = gwkit.python_env()
    port = free_port()
    serve = start_serve(Path(base) / "srv-profile", root, Path(runs_parent) / "runs-profile", port, env=env)
    prof = Path(base) / "client.prof"
    try:
        url = f"http://127.0.0.1:{port}/wwm/"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "wwm", "run",
                        url + "worlds/cartpole", url + "minds/cartpole-balance", "--steps", str(steps), "--quiet"],
                       cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
        wall = time.perf_counter() - started
    finally:
        stop_process(serve, signal.SIGINT)
    stats = pstats.Stats(str(prof))
    n = min(steps, 500)
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]  # (cc, nc, tottime, cumtime, callers)
    waiting = sum(v[2] for (f, line, fn), v in stats.stats.items() if fn in (
        "<method 'recv_into' of '_socket.socket' objects>", "<built-in method select.select>"))
    return {"steps": n, "wall_s": round(wall, 2), "profiled_s": round(stats.total_tt, 3),
            "waiting_on_servers_s": round(waiting, 3),
            "top_self_us_per_step": {f"{Path(f).name}:{line}({fn})": round(v[2] / n * 1e6, 1)
                                     for (f, line, fn), v in rows}}


# -- main ---------------------------------------------------------------------------


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def report_rows(result: dict) -> list[tuple[str, ...]]:
    rows = [("measure", "median [spread]", "baseline, same run", "ratio (target)")]
    c = result["cgi"]
    if "skipped" in c:
        rows.append(("CGI GetState", "skipped", c["skipped"], ""))
    else:
        p = c["pass"]
        for name in ("readable", "compiled"):
            v = c[name]
            rows.append((f"CGI GetState, {name} wwm.py ({c['server']}, n={c['samples']}, {c['runs_fs']})",
                         f"{v['median_ms']} ms [{v['p10_ms']}-{v['p90_ms']}]",
                         f"python3 -c pass {p['median_ms']} ms [{p['p10_ms']}-{p['p90_ms']}]",
                         f"{v['ratio']}x (<= {CGI_TARGET}x) {verdict(v['ok'])}"))
    h = result.get("hops")
    if h is None or "skipped" in h:
        rows.append(("one and two hops", "skipped", (h or {}).get("skipped", ""), ""))
        return rows
    g = h["gym_http_api"]
    gtext = g.get("skipped") and f"gym-http-api skipped: {g['skipped']}" or \
        f"gym-http-api {g['median']}/s [{g['min']}-{g['max']}]"
    one, two = h["one_hop"], h["two_hop"]
    where = f"{h['steps']} steps x{h['repeat']}, {h['runs_fs']}"
    rows.append((f"one hop: CartPole behind wwm serve, client agent ({where})",
                 f"{one['median']}/s [{one['min']}-{one['max']}]", gtext,
                 f"{one['ratio']}x (>= {ONE_HOP_TARGET}x) {verdict(one['ok'])}" if "ratio" in one else ""))
    rows.append((f"two hops: wwm run, World and Mind behind wwm serve ({where})",
                 f"{two['median']}/s [{two['min']}-{two['max']}]", gtext,
                 (f"{two['ratio']}x (>= {TWO_HOP_TARGET}x), " if "ratio" in two else "")
                 + f">= {TWO_HOP_RATE:g}/s {verdict(two['ok'])}"))
    loc = h["local_no_http"]
    rows.append(("  one hop without HTTP: the World's folder, gateway in the client",
                 f"{loc['median']}/s [{loc['min']}-{loc['max']}]", "", ""))
    w = two["with_cli_startup"]
    rows.append(("  two hops with wwm run's own start-up", f"{w['median']}/s [{w['min']}-{w['max']}]", "", ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("WWM_ALLOW_ROOT", "1")  # throw-away gateways on 127.0.0.1, as root on a test box too
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (fewer samples and steps)")
    ap.add_argument("--samples", type=int, help="CGI samples of each kind [200; quick 30]")
    ap.add_argument("--steps", type=int, help="steps per repeat, each hop and the baseline [2000; quick 500]")
    ap.add_argument("--repeat", type=int, help="repeats of each, median taken [3; quick 1]")
    ap.add_argument("--tmpfs", action="store_true", help="runs folders on /dev/shm (tmpfs) [the system temp folder]")
    ap.add_argument("--gym-http-api", metavar="DIR", help="a checkout of openai/gym-http-api")
    ap.add_argument("--gym-python", metavar="PY", help="a Python with gym==0.26.2, numpy<2, flask, requests, six")
    ap.add_argument("--profile", action="store_true", help="also cProfile the client of a two-hop `wwm run`")
    ap.add_argument("--skip-cgi", action="store_true")
    ap.add_argument("--skip-hops", action="store_true")
    args = ap.parse_args(argv)
    samples = args.samples or (30 if args.quick else 200)
    steps = args.steps or (500 if args.quick else 2000)
    repeat = args.repeat or (1 if args.quick else 3)

    base = tempfile.mkdtemp(prefix="wwm-bench-")
    os.chmod(base, 0o755)
    runs_parent = tempfile.mkdtemp(prefix="wwm-bench-runs-", dir="/dev/shm") if args.tmpfs else base
    result = {"bench": "gateway", "argv": sys.argv[1:] if argv is None else argv, "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "load_before": load()}
    try:
        root = make_root(base)
        if args.skip_cgi:
            result["cgi"] = {"skipped": "--skip-cgi"}
        else:
            result["cgi"] = bench_cgi(base, root, samples, runs_parent)
            result["load_after_cgi"] = load()
            if "skipped" not in result["cgi"]:
                result["cgi_breakdown"] = cgi_breakdown(base, root, max(10, samples // 4), runs_parent)
        result["hops"] = {"skipped": "--skip-hops"} if args.skip_hops else \
            bench_hops(base, root, steps, repeat, runs_parent, args.gym_http_api, args.gym_python)
        if args.profile:
            result["profile_two_hop_client"] = profile_two_hop(base, root, 500, runs_parent)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if runs_parent != base:
            shutil.rmtree(runs_parent, ignore_errors=True)
    result["load_after"] = load()

    print(table(report_rows(result)))
    b = result.get("cgi_breakdown")
    if b:
        print(f"\nCGI without a web server (medians): readable {b['direct_readable']} ms, compiled "
              f"{b['direct_compiled']} ms, python3 -c pass {b['pass']} ms; compiling wwm.py "
              f"{b['compile_in_process']} ms; imports {b['imports_total_ms']} ms "
              f"({b['imports_of_python_c_pass_ms']} ms in python3 -c pass too, "
              f"{b['imports_beyond_python_c_pass_ms']} ms beyond: "
              + ", ".join(f"{k} {v}" for k, v in b["top_extra_imports_ms"].items()) + ")")
    prof = result.get("profile_two_hop_client")
    if prof:
        print(f"\ncProfile of the `wwm run` client: {prof['profiled_s']} s in all, {prof['waiting_on_servers_s']} s "
              f"of it waiting for the servers; own time per step (us), {prof['steps']} steps:")
        for k, v in prof["top_self_us_per_step"].items():
            print(f"  {v:8.1f}  {k}")
    print(f"\nload average (1, 5, 15 min) {result['load_before']} before, {result['load_after']} after, "
          f"on {os.cpu_count()} CPUs")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
