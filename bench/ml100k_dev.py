#!/usr/bin/env python3
"""What a change to fungus would gain on ML-100k, measured without the test item.

bench/recsys.py reports the validation NDCG@10 of the best epoch, a maximum over noisy
evaluations, so comparing variants by it favours the noisiest.  This bench moves the protocol
one item back: per user, train on s[:-3], choose everything (epoch, blend weights) on s[-3],
and report s[-2] (the official validation item) once.  The official test item s[-1] is never
read.  For each seed it compares, in the same run:

* ``best``: the epoch with the best s[-3] NDCG@10 (what bench/recsys.py does);
* ``swa``: the weights averaged over epochs ``--swa-from`` and later;
* each of them plus EASE (bench/seqmodels.py), ``log P(i) + beta * z(EASE_i)`` (z: scores
  standardised per user), lambda, recency and beta chosen on s[-3];
* and, over the seeds, the ensemble (mean log-probability) of the ``best`` models, alone and
  with EASE.

Ends with one JSON line.  Usage:

    python3 bench/ml100k_dev.py                          # 3 seeds, ~5 min on 2 cores
    python3 bench/ml100k_dev.py --seeds 1 --epochs 3     # a smoke run
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.recsys import rank_metrics, say, split3, train_fungus  # noqa: E402
from bench.seqmodels import EASE  # noqa: E402


def dev_split(train: list[list[int]], valid: list[int]):
    """From the official (train s[:-2], valid s[-2]): (choose-on histories s[:-3], their
    targets s[-3], report-on histories s[:-2], their targets s[-2])."""
    return [h[:-1] for h in train], [h[-1] for h in train], train, valid


def train_averaged(dom, hist, target, seed, args):
    """bench/recsys.py's fungus training on ``hist`` (rows), its epoch chosen on ``target``,
    with a running mean of the weights from epoch --swa-from on: (learner, the chosen epoch's
    weights, the averaged weights or None, the curve of NDCG@10 on ``target``)."""
    avg = {"state": None, "n": 0}

    def average(learner, epoch):
        if epoch >= args.swa_from:
            sd = learner.model.state_dict()
            avg["n"] += 1
            if avg["state"] is None:
                avg["state"] = {k: x.detach().clone() for k, x in sd.items()}
            else:
                for k, x in sd.items():
                    avg["state"][k] += (x - avg["state"][k]) / avg["n"]

    lrn, _, curve = train_fungus(dom, hist, target, seed, args.lr, args, each_epoch=average)
    return (lrn, copy.deepcopy(lrn.model.state_dict()), avg["state"],
            [float(c["valid_ndcg@10"]) for c in curve])


def log_probs(learner, states):
    """Scoring function: the mean log-probability of the models with these weights."""
    def fn(hists):
        out = 0
        for st in states:
            learner.model.load_state_dict(st)
            out = out + torch.log_softmax(learner.score_rows(hists), 1)
        return out / len(states)
    return fn


def with_ease(model_fn, choose, report, n, grid):
    """Blend ``model_fn`` with EASE, (lambda, recency, beta) chosen on ``choose`` (hist,
    targets); returns (chosen, metrics on choose, metrics on report).  EASE is fitted to each
    side's own histories (what is known before its targets)."""
    best = None
    for lam, rec in itertools.product(grid["lambda"], grid["recency"]):
        z = zscored(EASE(n, lam, rec).fit(choose[0]))
        for beta in grid["beta"]:
            v = rank_metrics(lambda hs: model_fn(hs) + beta * z(hs), *choose)
            if best is None or v["ndcg@10"] > best[1]["ndcg@10"]:
                best = ({"lambda": lam, "recency": rec, "beta": beta}, v)
    c = best[0]
    z = zscored(EASE(n, c["lambda"], c["recency"]).fit(report[0]))
    return c, best[1], rank_metrics(lambda hs: model_fn(hs) + c["beta"] * z(hs), *report)


def zscored(ease):
    def fn(hists):
        s = ease.scores(hists)
        return (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True).clamp_min(1e-9)
    return fn


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--swa-from", type=int, default=4, help="average the weights from this epoch")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--users", type=int, default=None, help="only the first N users")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=None, help="data cache root (default $WWM_DATA or ~/.cache/wwm)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from wwm.data import ensure
    from wwm.songs.mindkit import ml100k_domain
    from wwm.songs.replay import load_ml100k
    root = ensure("ml-100k", progress=say) if args.data is None else \
        ensure("ml-100k", args.data, progress=say)
    log = load_ml100k(root, limit_users=args.users)
    dom = ml100k_domain(log, root)
    train, valid, _test = split3(log, dom)          # the test item is dropped here, unread
    h3, t3, h2, t2 = dev_split(train, valid)
    choose, report = (h3, t3), (h2, t2)
    n = len(dom)
    grid = {"lambda": (20, 50, 100, 300), "recency": (0.0, 0.02, 0.1), "beta": (0.1, 0.2, 0.3, 0.4)}
    say(f"ml-100k dev protocol: {len(train)} users, {n} items; train s[:-3], choose on s[-3], "
        f"report s[-2] (the test item is not read)")
    t0 = time.time()
    rows: dict[str, list] = {}
    bests, learner = [], None

    def add(name, chosen_on, reported, chosen=None):
        rows.setdefault(name, []).append({"choose_ndcg@10": chosen_on["ndcg@10"],
                                          "hr@10": reported["hr@10"],
                                          "ndcg@10": reported["ndcg@10"], "chosen": chosen})
        say(f"  {name:24} s[-3] NDCG@10 {chosen_on['ndcg@10']:.4f} | s[-2] HR@10 "
            f"{reported['hr@10']:.4f} NDCG@10 {reported['ndcg@10']:.4f}"
            + (f"  {chosen}" if chosen else ""))

    for seed in range(args.seeds):
        ts = time.time()
        learner, best, avg, curve = train_averaged(dom, h3, t3, seed, args)
        say(f"seed {seed}: {len(curve)} epochs in {time.time() - ts:.0f}s, s[-3] NDCG@10 {curve}")
        bests.append(best)
        with torch.no_grad():
            for name, st in (("best", best), ("swa", avg)):
                if st is None:
                    continue
                fn = log_probs(learner, [st])
                add(name, rank_metrics(fn, *choose), rank_metrics(fn, *report))
                c, v3, v2 = with_ease(fn, choose, report, n, grid)
                add(name + "+ease", v3, v2, c)
    if args.seeds > 1:
        with torch.no_grad():
            fn = log_probs(learner, bests)
            add(f"ensemble of {args.seeds}", rank_metrics(fn, *choose), rank_metrics(fn, *report))
            c, v3, v2 = with_ease(fn, choose, report, n, grid)
            add(f"ensemble of {args.seeds}+ease", v3, v2, c)
    base = rows["best"]
    print("-" * 92)
    print(f"{'ML-100k dev (s[-2])':24} {'HR@10':>16} {'NDCG@10':>16}   NDCG@10 vs best epoch")
    summary = {}
    for name, rs in rows.items():
        hr = np.array([r["hr@10"] for r in rs])
        nd = np.array([r["ndcg@10"] for r in rs])
        ref = np.array([r["ndcg@10"] for r in base])
        gain = nd.mean() / ref.mean() - 1
        summary[name] = {"hr@10": float(hr.mean()), "hr@10_std": float(hr.std()),
                         "ndcg@10": float(nd.mean()), "ndcg@10_std": float(nd.std()),
                         "ndcg_gain": float(gain), "runs": rs}
        print(f"{name:24} {hr.mean():.4f} ± {hr.std():.4f}  {nd.mean():.4f} ± {nd.std():.4f}"
              f"   {gain:+.1%}")
    print("-" * 92)
    print(f"total {time.time() - t0:.1f} s")
    print(json.dumps({"bench": "ml100k_dev", "users": len(train), "seeds": args.seeds,
                      "lr": args.lr, "epochs": args.epochs, "patience": args.patience,
                      "swa_from": args.swa_from, "grid": grid, "minds": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
