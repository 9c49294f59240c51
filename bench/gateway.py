#!/usr/bin/env python3
"""Gateway benchmark: CGI latency and persistent steps per second, each against
a baseline measured in the same run.

CGI
    Median latency of a GetState through lighttpd and ``cgi-bin/wwm.py``
    (system ``/usr/bin/python3``, keep-alive connection, an existing run),
    against the median start-up of ``/usr/bin/python3 -c pass`` measured
    interleaved with it.  Target: ratio <= 2.5.

Persistent
    Steps per second of ``wwm run`` with the Python hello World and Mind behind
    ``wwm serve`` on loopback: two file-based Program 1s, HTTP both ways (a
    GetAction to the Mind and an ExecuteAction to the World per step), as
    reported by ``wwm run`` itself (steps / seconds; the run's StartRuns and
    EndRuns included).  Baseline: the openai/gym-http-api design, an
    in-process Python copy of the same World behind one Flask endpoint per
    step (``POST /v1/envs/<id>/step/``), served by the same HTTP server as
    ``wwm serve`` and stepped with the same HTTP client
    (``wwm.client.client.HTTPTransport``), the Mind's binary search computed
    in the client.  Targets: >= 1000 steps/s and >= 0.8x the baseline.

Prints a table, then one JSON line.  ``--quick`` for a short run.

The servers are started with the gateway suite's tools (tests/gateway/gwkit.py)
and the baseline's World is the hello reference of tests/lib_driver.py.

    python bench/gateway.py [--quick] [--steps N] [--repeat R] [--samples N]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
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
sys.path.insert(0, str(REPO / "tests" / "gateway"))
sys.path.insert(0, str(REPO / "tests"))
import gwkit  # noqa: E402  (imports pytest; its pytest.skip is caught below)
from gwkit import free_port, start_lighttpd, start_serve, stop_process, wait_ready  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
CGI_TARGET = 2.5
STEPS_TARGET = 1000.0
BASELINE_TARGET = 0.8


# -- helpers -------------------------------------------------------------------


def make_root(base: str) -> Path:
    """A ROOT with the Python template World and Mind (hello-python)."""
    root = Path(base) / "root"
    gwkit.copy_hello(root)
    return root


def python_env() -> dict:
    """gwkit's environment for a Python child; a WWM_POLL of the caller's is kept."""
    return gwkit.python_env(**{k: os.environ[k] for k in ("WWM_POLL",) if k in os.environ})


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def filesystem(path: str) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts), e.g. ``ext4``."""
    path, best, kind = os.path.realpath(path), "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")) \
                        and len(fields[1]) >= len(best):
                    best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# -- CGI -------------------------------------------------------------------------

def bench_cgi(base: str, root: Path, samples: int, runs_parent: str) -> dict:
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not os.path.exists(lighttpd):
        return {"skipped": "lighttpd is not installed"}
    if not os.path.exists(SYSTEM_PYTHON):
        return {"skipped": f"{SYSTEM_PYTHON} is missing"}
    runs = Path(runs_parent) / "runs-cgi"
    port = free_port()
    try:  # lighttpd.conf, htdocs/ and cgi-bin/wwm.py under srv-lighttpd/; waits until it answers
        proc = start_lighttpd(Path(base) / "srv-lighttpd", root, runs, port)
    except gwkit.pytest.skip.Exception as exc:
        return {"skipped": str(exc)}
    prefix = gwkit.CGI_PREFIX + "worlds/hello-python"
    conn = None
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def get(params: dict) -> tuple[int, bytes]:
            conn.request("GET", prefix + "?" + urllib.parse.urlencode(params))
            resp = conn.getresponse()
            return resp.status, resp.read()

        status, body = get({"query": "StartRun", "format": "text"})
        if status != 200:
            raise RuntimeError(f"StartRun: HTTP {status} {body[:200]!r}")
        run = body.decode().strip()
        status, body = get({"query": "GetState", "run": run, "format": "text"})
        if status != 200 or not body.startswith(b"low: 1"):
            raise RuntimeError(f"GetState: HTTP {status} {body[:200]!r}")
        state_params = {"query": "GetState", "run": run, "format": "text"}
        warm = 5
        lat, pas = [], []
        for i in range(samples + warm):
            t = time.perf_counter()
            status, body = get(state_params)
            dt = time.perf_counter() - t
            if status != 200:
                raise RuntimeError(f"GetState: HTTP {status} {body[:200]!r}")
            t = time.perf_counter()
            subprocess.run([SYSTEM_PYTHON, "-c", "pass"], check=True)
            dp = time.perf_counter() - t
            if i >= warm:
                lat.append(dt)
                pas.append(dp)
        get({"query": "EndRun", "run": run, "format": "text"})
    finally:
        if conn is not None:
            conn.close()
        stop_process(proc)
    med_lat, med_pass = statistics.median(lat), statistics.median(pas)
    return {
        "server": subprocess.run([lighttpd, "-v"], capture_output=True, text=True).stdout.split()[0],
        "samples": samples, "runs_fs": filesystem(runs_parent),
        "getstate_ms_median": ms(med_lat), "getstate_ms_p90": ms(sorted(lat)[int(0.9 * (len(lat) - 1))]),
        "python_pass_ms_median": ms(med_pass),
        "ratio": round(med_lat / med_pass, 2), "target": CGI_TARGET, "ok": med_lat / med_pass <= CGI_TARGET,
    }


# -- persistent --------------------------------------------------------------------

BASELINE_APP = r'''
"""gym-http-api style: an in-process World behind one Flask endpoint per step."""
import json, sys, uuid
from flask import Flask, Response, request

sys.path.insert(0, @TESTS@)
from lib_driver import RefWorld  # the hello game of the contract, in process


def step_world(world, action):
    """One step; (observation without its reward line, reward, done)."""
    head, _, obs = world.step(action).partition("\n")
    return obs, int(head.partition(":")[2]), False

app = Flask(__name__)
envs = {}

def reply(doc):
    doc.update(status="ok", code=200)
    return Response(json.dumps(doc), content_type="application/json")

@app.route("/v1/envs/", methods=["POST"])
def create():
    env_id = uuid.uuid4().hex[:8]
    envs[env_id] = RefWorld(request.form.get("seed", 1))
    return reply({"instance_id": env_id})

@app.route("/v1/envs/<env_id>/reset/", methods=["POST"])
def reset(env_id):
    return reply({"observation": envs[env_id].first_state()})

@app.route("/v1/envs/<env_id>/step/", methods=["POST"])
def step(env_id):
    obs, reward, done = step_world(envs[env_id], request.form["action"])
    return reply({"observation": obs, "reward": reward, "done": done, "info": {}})

@app.route("/v1/envs/<env_id>/close/", methods=["POST"])
def close(env_id):
    envs.pop(env_id, None)
    return reply({})

if __name__ == "__main__":
    port = int(sys.argv[1])
    try:  # the same HTTP server as `wwm serve`
        from wwm.gateway import wsgi
        if not hasattr(wsgi, "serve"):
            raise ImportError
        from waitress.server import create_server
        print("server: waitress", flush=True)
        create_server(app, host="127.0.0.1", port=port, threads=32, ident="wwm",
                      channel_timeout=120, connection_limit=1000).run()
    except ImportError:
        print("server: werkzeug (threaded)", flush=True)
        app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
'''


def serve_server_name() -> str:
    try:
        from wwm.gateway import wsgi

        return "waitress" if hasattr(wsgi, "serve") else "werkzeug (threaded)"
    except ImportError:
        return "?"


def run_wwm(port: int, steps: int) -> dict:
    """One `wwm run` of the hello World and Mind behind `wwm serve`."""
    base = f"http://127.0.0.1:{port}/wwm"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "wwm", "run", f"{base}/worlds/hello-python",
                          f"{base}/minds/hello-python", "--steps", str(steps), "--seed", "1", "--quiet"],
                         cwd=REPO, env=python_env(), capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"wwm run failed: {out.stderr[-2000:]}")
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    if doc["steps"] != steps:
        raise RuntimeError(f"wwm run stopped after {doc['steps']} of {steps} steps: {doc}")
    return {"steps": doc["steps"], "seconds": doc["seconds"], "wall": wall, "score": doc.get("score")}


def run_baseline(port: int, steps: int) -> dict:
    """gym-http-api style: create, reset, then one POST per step; the agent is in the client."""
    sys.path.insert(0, str(REPO))
    from wwm.client.client import HTTPTransport

    base = f"http://127.0.0.1:{port}/v1/envs/"
    started = time.perf_counter()
    env_id = HTTPTransport(base).call("create", seed="1")["instance_id"]
    obs = HTTPTransport(f"{base}{env_id}/reset/").call("reset")["observation"]
    step = HTTPTransport(f"{base}{env_id}/step/")
    hits = 0
    for _ in range(steps):
        fields = dict(line.split(":", 1) for line in obs.splitlines() if ":" in line)
        action = f"{(int(fields['low']) + int(fields['high'])) // 2}\n"
        doc = step.call("step", action=action)
        obs = doc["observation"]
        hits += doc["reward"] == 1
    HTTPTransport(f"{base}{env_id}/close/").call("close")
    seconds = time.perf_counter() - started
    step.close()
    return {"steps": steps, "seconds": seconds, "score": hits}


def bench_persistent(base: str, root: Path, steps: int, repeat: int, runs_parent: str) -> dict:
    runs = Path(runs_parent) / "runs-serve"
    port, bport = free_port(), free_port()
    # log in srv-serve/; waits until it answers
    serve = start_serve(Path(base) / "srv-serve", root, runs, port, env=python_env())
    app = os.path.join(base, "gym_http_baseline.py")
    with open(app, "w") as f:
        f.write(BASELINE_APP.replace("@TESTS@", repr(str(REPO / "tests"))))
    baseline = subprocess.Popen([sys.executable, app, str(bport)], cwd=REPO, env=python_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
    try:
        wait_ready(baseline, bport, "/v1/envs/", None)
        baseline_server = baseline.stdout.readline().strip().removeprefix("server: ")
        run_wwm(port, min(steps, 50))            # warm-up: imports, page cache, first processes
        run_baseline(bport, min(steps, 50))
        wwm_runs, base_runs = [], []
        for _ in range(repeat):                  # interleaved, so drift hits both
            wwm_runs.append(run_wwm(port, steps))
            base_runs.append(run_baseline(bport, steps))
    finally:
        stop_process(serve, signal.SIGINT)
        stop_process(baseline)
    if wwm_runs[0]["score"] != base_runs[0]["score"]:
        raise RuntimeError(f"the two Worlds disagree: wwm score {wwm_runs[0]['score']}, "
                           f"baseline hits {base_runs[0]['score']}")
    wwm_rate = statistics.median(r["steps"] / r["seconds"] for r in wwm_runs)
    base_rate = statistics.median(r["steps"] / r["seconds"] for r in base_runs)
    wall_rate = statistics.median(r["steps"] / r["wall"] for r in wwm_runs)
    return {
        "server": serve_server_name(), "baseline_server": baseline_server, "steps": steps, "repeat": repeat,
        "runs_fs": filesystem(runs_parent),
        "wwm_steps_per_s": round(wwm_rate, 1), "wwm_steps_per_s_with_cli_startup": round(wall_rate, 1),
        "wwm_http_calls_per_step": 2, "baseline_steps_per_s": round(base_rate, 1),
        "baseline_http_calls_per_step": 1,
        "ratio": round(wwm_rate / base_rate, 3),
        "targets": {"steps_per_s": STEPS_TARGET, "ratio": BASELINE_TARGET},
        "ok": wwm_rate >= STEPS_TARGET and wwm_rate / base_rate >= BASELINE_TARGET,
    }


# -- main ---------------------------------------------------------------------------


def table(rows: list[tuple[str, str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (fewer samples and steps)")
    ap.add_argument("--samples", type=int, help="CGI GetState samples [200; quick 30]")
    ap.add_argument("--steps", type=int, help="steps per wwm run [2000; quick 300]")
    ap.add_argument("--repeat", type=int, help="runs of each side, median taken [3; quick 1]")
    ap.add_argument("--runs-on", metavar="DIR", help="make the RUNS folders under DIR (e.g. /dev/shm for tmpfs) "
                    "[the system temp folder]")
    ap.add_argument("--skip-cgi", action="store_true")
    ap.add_argument("--skip-persistent", action="store_true")
    args = ap.parse_args(argv)
    samples = args.samples or (30 if args.quick else 200)
    steps = args.steps or (300 if args.quick else 2000)
    repeat = args.repeat or (1 if args.quick else 3)

    base = tempfile.mkdtemp(prefix="wwm-bench-")
    os.chmod(base, 0o755)
    runs_parent = tempfile.mkdtemp(prefix="wwm-bench-runs-", dir=args.runs_on) if args.runs_on else base
    result = {"bench": "gateway", "quick": args.quick, "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "load_before": load()}
    try:
        root = make_root(base)
        result["cgi"] = {"skipped": "--skip-cgi"} if args.skip_cgi else \
            bench_cgi(base, root, samples, runs_parent)
        result["persistent"] = {"skipped": "--skip-persistent"} if args.skip_persistent else \
            bench_persistent(base, root, steps, repeat, runs_parent)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if runs_parent != base:
            shutil.rmtree(runs_parent, ignore_errors=True)
    result["load_after"] = load()

    rows = [("measure", "value", "baseline (same run)", "ratio / target")]
    c, p = result["cgi"], result["persistent"]
    if "skipped" in c:
        rows.append(("CGI GetState latency", "skipped", c["skipped"], ""))
    else:
        rows.append((f"CGI GetState median ({c['server']}, n={c['samples']}, runs on {c['runs_fs']})",
                     f"{c['getstate_ms_median']} ms",
                     f"python3 -c pass {c['python_pass_ms_median']} ms",
                     f"{c['ratio']}x (target <= {CGI_TARGET}x) {'OK' if c['ok'] else 'MISSED'}"))
    if "skipped" in p:
        rows.append(("wwm run steps/s", "skipped", p["skipped"], ""))
    else:
        rows.append((f"wwm run steps/s (wwm serve: {p['server']}, {p['steps']} steps x{p['repeat']}, "
                     f"runs on {p['runs_fs']})",
                     f"{p['wwm_steps_per_s']}/s",
                     f"gym-http-api style {p['baseline_steps_per_s']}/s",
                     f"{p['ratio']}x (target >= {BASELINE_TARGET}x, >= {STEPS_TARGET:g}/s) "
                     f"{'OK' if p['ok'] else 'MISSED'}"))
        rows.append(("  same, with the CLI's start-up", f"{p['wwm_steps_per_s_with_cli_startup']}/s", "", ""))
    print(table(rows))
    print(f"(load average {result['load_before']} before, {result['load_after']} after, on {os.cpu_count()} CPUs)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
