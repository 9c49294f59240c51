"""`bench/recsys.py --save-fungus DIR` writes the fungus weights it chose where the served fungus
Mind loads them, so the ML-100k World's test run of the served Mind (real processes, the file
protocol) scores what the bench reported for the same model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from wwm.gateway.queries import Gateway
from wwmtest import REPO


def test_the_served_fungus_mind_scores_what_the_bench_reported(ml100k_dir, tmp_path, runs_dir):
    mind = tmp_path / "fungus"
    shutil.copytree(REPO / "minds" / "fungus", mind,
                    ignore=shutil.ignore_patterns("var", "__pycache__"))
    env = dict(os.environ, WWM_DATA=str(ml100k_dir.parent), WWM_RUNS=str(runs_dir))
    # one epoch at one rate: the whole protocol (943 users, all items), in seconds
    bench = subprocess.run([sys.executable, "bench/recsys.py", "--skip-songs", "--seed-list", "0",
                            "--ml-minds", "fungus", "--epochs", "1", "--lrs", "0.002",
                            "--save-fungus", str(mind / "var"), "--threads", "2"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert bench.returncode == 0, bench.stderr
    reported = json.loads(bench.stdout.strip().splitlines()[-1])["ml100k"]["minds"]["fungus"]
    assert (mind / "var" / "ml-100k.safetensors").is_file()
    assert reported["hr@10"] > 0.1                      # one epoch learns well past popularity
    try:
        run = subprocess.run([sys.executable, "-m", "wwm", "run", "worlds/ml100k", str(mind),
                              "--steps", "1000", "--quiet"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        # the runs folder is a gateway's (WWM_RUNS): its shared fungus process outlives the
        # client until that gateway reaps it; end it as the gateway would at exit
        Gateway(str(runs_dir), str(runs_dir), web=False).shutdown()
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    detail = dict(line.split(": ") for line in out["score_detail"].splitlines()[1:])
    assert out["steps"] == 943 and detail["mode"] == "test" and detail["invalid"] == "0"
    assert abs(float(detail["hr@10"]) - reported["hr@10"]) < 1e-6
    assert abs(float(detail["ndcg@10"]) - reported["ndcg@10"]) < 1e-5
