#!/usr/bin/env python3
"""Recommender benchmark: fungus against random, popularity, item-kNN and, on ML-100k, the
sequential state of the art (SASRec, GRU4Rec, recency-weighted item-kNN) and EASE, all items
ranked.

1. ML-100k, validated leave-one-out by time: per user the last item is the test item, the
   second-to-last the validation item, the rest training. Every hyper-parameter (grids:
   --lrs, --dropouts; kNN window and decay; EASE's lambda and recency) and the epoch of every
   neural model are chosen on validation NDCG@10 only, on a fixed schedule (--epochs for
   fungus, --seq-epochs for SASRec/GRU4Rec; no time budget), which stops early after
   --patience validations without a better validation NDCG@10; the test is then computed once
   per seed with the chosen model (history = everything before the test item, the user's own
   items left out).
   --seeds N: mean ± std (--seed-list 2: one seed, so that seeds can run as separate commands).
2. The song World, per community: every Mind starts fresh (no checkpoint) and plays the same
   runs, on listener seeds (--song-seeds) other than those the songs hyper-parameters were
   chosen on (1, 2), learning online; mean reward ± std over the seeds, HR@10, NDCG@10, and the
   mean reward over the last fifth. One learning-curve PNG per community (--plot-dir).

Ends with one JSON line.  --device cpu (default), cuda or auto.  Usage:

    python3 bench/recsys.py                                   # full scale (long on 2 cores)
    python3 bench/recsys.py --quick                           # a smoke run (seconds)
    python3 bench/recsys.py --skip-songs --users 300 --seeds 1 --epochs 10 --seq-epochs 60
    python3 bench/recsys.py --skip-ml100k --communities mixed,metal --steps 200

The ML-100k data are fetched at set-up (``wwm data fetch ml-100k``) if missing.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

MINDS = ("random", "popularity", "itemknn", "fungus")
COLORS = {"random": (150, 150, 150), "popularity": (31, 119, 180), "itemknn": (255, 127, 14),
          "fungus": (44, 160, 44)}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- ML-100k
ML_MINDS = ("random", "popularity", "itemknn", "itemknn-recency", "ease", "gru4rec", "sasrec",
            "fungus")


def split3(log, dom) -> tuple[list[list[int]], list[int], list[int]]:
    """Per user (time order, >= 3 items): training rows s[:-2], validation item s[-2], test item
    s[-1] (rows are 1-based item rows of the domain)."""
    train, valid, test = [], [], []
    for u in sorted(log.sequences, key=lambda u: int(u) if u.isdigit() else u):
        rows = [dom.index[x] + 1 for x in log.sequences[u]]
        if len(rows) >= 3:
            train.append(rows[:-2])
            valid.append(rows[-2])
            test.append(rows[-1])
    return train, valid, test


def rank_metrics(score_fn, hists: list[list[int]], targets: list[int], device="cpu",
                 batch: int = 256) -> dict:
    """HR@10 and NDCG@10 over all items, the user's own items (the history) left out."""
    import torch
    hr = nd = 0.0
    for b in range(0, len(hists), batch):
        hs, ts = hists[b:b + batch], targets[b:b + batch]
        s = score_fn(hs).to(device).float().clone()
        for r, h in enumerate(hs):
            s[r, [i - 1 for i in h]] = float("-inf")
        top = torch.topk(s, 10, dim=1).indices.cpu().numpy() + 1
        for r, t in enumerate(ts):
            pos = np.where(top[r] == t)[0]
            if len(pos):
                hr += 1
                nd += 1.0 / np.log2(pos[0] + 2)
    n = max(1, len(hists))
    return {"hr@10": hr / n, "ndcg@10": nd / n}


def _train_neural(make, train, valid, args, seed, device, lr):
    """Fixed schedule: args.seq_epochs epochs (validated every args.eval_every); the epoch with
    the best validation NDCG@10 is kept
    (its weights), and only then is the test computed, once, by the caller."""
    import copy

    import torch
    torch.manual_seed(seed)
    model = make().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    best, state, curve, stale = None, None, [], 0
    for ep in range(args.seq_epochs):
        loss = model.fit_epoch(train, opt, args.batch, gen)
        if (ep + 1) % args.eval_every and ep + 1 != args.seq_epochs:
            continue
        v = rank_metrics(model.scores, train, valid, device)
        curve.append({"epoch": ep + 1, "loss": round(loss, 4), "valid_ndcg@10": round(v["ndcg@10"], 4)})
        if best is None or v["ndcg@10"] > best["ndcg@10"]:
            best, state, stale = dict(v, epoch=ep + 1), copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if args.patience and stale >= args.patience:    # early stopping on validation
                break
    model.load_state_dict(state)
    return model, best, curve


def train_fungus(dom, hist, target, seed, lr, args, device="cpu", each_epoch=None):
    """One fungus model on the histories ``hist`` (rows) on the fixed schedule (``args.epochs``,
    stopped after ``args.patience`` epochs without a better NDCG@10 on ``target``), the epoch
    chosen on ``target``.  ``each_epoch(learner, epoch)`` runs after every epoch (e.g. to
    average weights).  Returns (the learner holding the chosen epoch's weights, that epoch's
    metrics with ``epoch``, the per-epoch records)."""
    import copy

    from wwm.fungus.learner import FungusLearner
    from wwm.fungus.mind import HYPER
    lrn = FungusLearner(dom.items, dom.features, domain="ml-100k", fingerprint=dom.fingerprint,
                        seed=seed, device=device, **dict(HYPER["ml-100k"], lr=lr))
    keep = {"v": None, "state": None, "stale": 0, "epoch": 0}

    def ev(learner):
        v = rank_metrics(learner.score_rows, hist, target, device)
        keep["epoch"] += 1
        if each_epoch is not None:
            each_epoch(learner, keep["epoch"])
        if keep["v"] is None or v["ndcg@10"] > keep["v"]["ndcg@10"]:
            keep.update(v=v, state=copy.deepcopy(learner.model.state_dict()), stale=0)
        else:
            keep["stale"] += 1
        return {"valid_ndcg@10": round(v["ndcg@10"], 4),
                "stop": bool(args.patience) and keep["stale"] >= args.patience}

    seqs = [[dom.items[i - 1] for i in h] for h in hist]
    curve = lrn.fit_sequences(seqs, epochs=args.epochs, batch_size=512, evaluate=ev, final_lr=1.0)
    keep["v"]["epoch"] = max(curve, key=lambda c: c["valid_ndcg@10"])["epoch"]
    lrn.model.load_state_dict(keep["state"])
    return lrn, keep["v"], curve


def bench_ml100k(args) -> dict:
    """Validated protocol: every hyper-parameter and the epoch are chosen on the validation item
    (each user's second-to-last), the test item (the last) is scored once per seed with the
    chosen model, histories = everything before the scored item."""
    import torch

    from bench.seqmodels import EASE, GRU4Rec, RecencyKNN, SASRec
    from wwm.data import ensure
    from wwm.songs.mindkit import ml100k_domain
    from wwm.songs.replay import load_ml100k

    device = args.device
    t0 = time.time()
    root = ensure("ml-100k", progress=say) if args.data is None else \
        ensure("ml-100k", args.data, progress=say)
    log = load_ml100k(root, limit_users=args.users)
    dom = ml100k_domain(log, root)
    n = len(dom)
    train, valid, test = split3(log, dom)
    test_hist = [h + [v] for h, v in zip(train, valid)]
    say(f"ml-100k: {len(train)} users, {n} items, {sum(map(len, train))} training interactions, "
        f"device {device}")
    minds = [m for m in ML_MINDS if m in args.ml_minds]
    runs: dict[str, list[dict]] = {m: [] for m in minds}
    saved = None                 # fungus: (validation, learner, seed) of the seed to --save-fungus
    for seed in args.seed_list:
        for name in minds:
            ts = time.time()
            chosen: dict = {}
            if name == "random":
                g = torch.Generator().manual_seed(seed)
                fn = lambda hs: torch.rand(len(hs), n, generator=g)      # noqa: E731
            elif name == "popularity":
                c = torch.zeros(n)
                for h in train:
                    c[[i - 1 for i in h]] += 1
                fn = lambda hs, c=c: c.expand(len(hs), n)                # noqa: E731
            elif name in ("itemknn", "itemknn-recency", "ease"):
                # no training epochs: the grid point with the best validation NDCG@10
                grid = {"itemknn": [{"m": 1, "w": 1.0}],
                        "itemknn-recency": [{"m": m, "w": w} for m in (2, 3, 5, 10)
                                            for w in (0.3, 0.5, 0.8)],
                        "ease": [{"lam": lam, "recency": r} for lam in (50, 200, 500, 1000, 2000)
                                 for r in (0.0, 0.03, 0.1, 0.3)]}[name]
                make = EASE if name == "ease" else RecencyKNN
                best = None
                for params in grid:
                    model = make(n, **params).fit(train)
                    v = rank_metrics(model.scores, train, valid)
                    if best is None or v["ndcg@10"] > best[0]["ndcg@10"]:
                        best = (v, model, params)
                chosen = dict(best[2], valid=best[0])
                fn = best[1].scores
            elif name in ("gru4rec", "sasrec"):
                best = None
                for lr in args.lrs:
                    for drop in args.dropouts:
                        make = (lambda d=drop: SASRec(n, args.dim, args.max_len, dropout=d)) \
                            if name == "sasrec" else \
                            (lambda d=drop: GRU4Rec(n, args.dim, args.max_len, dropout=d))
                        model, v, curve = _train_neural(make, train, valid, args, seed, device, lr)
                        say(f"  {name} seed {seed} lr {lr} dropout {drop}: best validation "
                            f"NDCG@10 {v['ndcg@10']:.4f} at epoch {v['epoch']}")
                        if best is None or v["ndcg@10"] > best[0]["ndcg@10"]:
                            best = (v, model, {"lr": lr, "dropout": drop}, curve)
                chosen = dict(best[2], valid=best[0], curve=best[3])
                fn = best[1].scores
            else:                                    # fungus
                best = None
                for lr in args.lrs:
                    lrn, v, curve = train_fungus(dom, train, valid, seed, lr, args, device)
                    say(f"  fungus seed {seed} lr {lr}: best validation NDCG@10 "
                        f"{v['ndcg@10']:.4f} at epoch {v['epoch']}")
                    if best is None or v["ndcg@10"] > best[0]["ndcg@10"]:
                        best = (v, lrn, {"lr": lr}, curve)
                chosen = dict(best[2], valid=best[0],
                              curve=[{k: v for k, v in c.items() if k != "seconds"}
                                     for c in best[3]])
                fn = best[1].score_rows
                if saved is None or best[0]["ndcg@10"] > saved[0]["ndcg@10"]:
                    saved = (best[0], best[1], seed)
            with torch.no_grad():
                res = rank_metrics(fn, test_hist, test, device)          # the test, once
            res.update(seed=seed, seconds=round(time.time() - ts, 1), chosen=chosen)
            runs[name].append(res)
            say(f"ml-100k seed {seed} {name:16} test HR@10 {res['hr@10']:.4f} "
                f"NDCG@10 {res['ndcg@10']:.4f}  ({res['seconds']}s)")
    if args.save_fungus and saved is not None:
        # the seed with the best validation NDCG@10, where the served fungus Mind loads it
        path = Path(args.save_fungus) / "ml-100k.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        sha = saved[1].save(path)
        say(f"fungus (seed {saved[2]}, validation NDCG@10 {saved[0]['ndcg@10']:.4f}) saved to "
            f"{path} (sha256 {sha[:16]}…)")
    summary = {}
    for name, rs in runs.items():
        hr = np.array([r["hr@10"] for r in rs])
        nd = np.array([r["ndcg@10"] for r in rs])
        summary[name] = {"hr@10": float(hr.mean()), "hr@10_std": float(hr.std()),
                         "ndcg@10": float(nd.mean()), "ndcg@10_std": float(nd.std()),
                         "seconds": float(np.mean([r["seconds"] for r in rs])), "runs": rs}
    return {"users": len(train), "items": n, "seeds": args.seed_list, "epochs": args.epochs,
            "patience": args.patience,
            "device": device, "seconds": round(time.time() - t0, 1), "minds": summary}


# ----------------------------------------------------------------------------- songs
def bench_songs(args, community: str) -> dict:
    """Every Mind plays the same runs (held-out listener seeds ``--song-seeds``, fresh Minds, no
    checkpoint) and learns online from the World's feedback; mean ± std over the seeds."""
    import torch

    from wwm.fungus.mind import FungusMind
    from wwm.songs.baselines import make_baseline
    from wwm.songs.mindkit import RecommenderMind, get_domain
    from wwm.songs.world import SongWorld

    dom = get_domain("songs")
    torch.set_num_threads(1)      # one request at a time: small tensors, threads only cost
    out: dict[str, dict] = {}
    curves: dict[str, list[float]] = {}
    for name in MINDS:
        runs = []
        for seed in args.song_seeds:
            ts = time.time()
            torch.manual_seed(seed)
            if name == "fungus":
                mind = FungusMind(private=True, seed=seed, device=args.device)
            else:
                rec = make_baseline(name, dom, seed=seed)
                mind = RecommenderMind(factory=lambda d, rec=rec: rec)
            world = SongWorld(community, steps=args.steps)
            s, r, done = world.reset(seed), None, False
            rewards = []
            while not done:
                s, r, done = world.step(mind.act_text(s, r))
                rewards.append(r)
            summ = world.summary()
            tail = max(1, args.steps // 5)
            summ["final_reward"] = float(np.mean(rewards[-tail:]))
            summ["seconds"] = round(time.time() - ts, 1)
            runs.append(summ)
            curves.setdefault(name, []).append(rewards)
            say(f"  songs/{community} {name:10} seed {seed}: mean reward "
                f"{summ['mean_reward']:.3f}  ({summ['seconds']}s)")
        agg = {k: float(np.mean([r[k] for r in runs]))
               for k in ("mean_reward", "hr@10", "ndcg@10", "final_reward", "seconds")}
        agg["mean_reward_std"] = float(np.std([r["mean_reward"] for r in runs]))
        agg["runs"] = runs
        out[name] = agg
    mean_curves = {m: np.mean(np.array(c), axis=0).tolist() for m, c in curves.items()}
    base = [out[m]["mean_reward"] for m in MINDS if m != "fungus"]
    return {"community": community, "steps": args.steps, "seeds": args.song_seeds,
            "fungus_above_every_baseline": out["fungus"]["mean_reward"] > max(base),
            "minds": out, "_curves": mean_curves}


# ----------------------------------------------------------------------------- plot
def rolling(x, w):
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return x
    w = max(1, min(w, len(x)))
    c = np.cumsum(np.insert(x, 0, 0.0))
    out = np.empty(len(x))
    for i in range(len(x)):
        lo = max(0, i + 1 - w)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def plot(song_runs: list[dict], folder: Path, window: int) -> list[str]:
    """One PNG per community: songs-<community>.png, the rolling mean reward of every Mind
    (mean over the seeds)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        plt = None
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for run in song_runs:
        path = folder / f"songs-{run['community']}.png"
        if plt is not None:
            fig, ax = plt.subplots(figsize=(6, 4))
            for m in MINDS:
                ax.plot(rolling(run["_curves"][m], window), label=m,
                        color=tuple(c / 255 for c in COLORS[m]), lw=2 if m == "fungus" else 1.2)
            ax.set_title(f"song World, {run['community']}, mean of seeds "
                         f"{','.join(map(str, run['seeds']))}")
            ax.set_xlabel("step")
            ax.set_ylabel(f"reward (rolling mean, {window} steps)")
            ax.legend()
            fig.tight_layout()
            fig.savefig(path, dpi=90)
            plt.close(fig)
        else:
            write_png_plot([run], path, window)
        paths.append(str(path))
    return paths


# a 5x7 bitmap font for the few labels of the built-in plotter (no matplotlib needed)
_FONT = {
    "0": "01110100011001110101110011000101110", "1": "00100011000010000100001000010001110",
    "2": "01110100010000100010001000100011111", "3": "11111000100010000010000011000101110",
    "4": "00010001100101010010111110001000010", "5": "11111100001111000001000011000101110",
    "6": "00110010001000011110100011000101110", "7": "11111000010001000100010000100001000",
    "8": "01110100011000101110100011000101110", "9": "01110100011000101111000010001001100",
    ".": "00000000000000000000000000110001100", "-": "00000000000000011111000000000000000",
    ":": "00000011000110000000011000110000000", " ": "0" * 35,
    "(": "00010001000100001000010000010000010", ")": "01000001000001000010000100010001000",
    ",": "00000000000000000000011000010001000", "/": "00000000010001000100010001000000000",
    "@": "01110100011011110101101111000001110",
}
_LETTERS = {
    "A": "01110100011000111111100011000110001", "B": "11110100011000111110100011000111110",
    "C": "01110100011000010000100001000101110", "D": "11100100101000110001100011001011100",
    "E": "11111100001000011110100001000011111", "F": "11111100001000011110100001000010000",
    "G": "01110100011000010111100011000101111", "H": "10001100011000111111100011000110001",
    "I": "01110001000010000100001000010001110", "J": "00111000100001000010000101001001100",
    "K": "10001100101010011000101001001010001", "L": "10000100001000010000100001000011111",
    "M": "10001110111010110101100011000110001", "N": "10001100011100110101100111000110001",
    "O": "01110100011000110001100011000101110", "P": "11110100011000111110100001000010000",
    "Q": "01110100011000110001101011001001101", "R": "11110100011000111110101001001010001",
    "S": "01111100001000001110000010000111110", "T": "11111001000010000100001000010000100",
    "U": "10001100011000110001100011000101110", "V": "10001100011000110001100010101000100",
    "W": "10001100011000110101101011010101010", "X": "10001100010101000100010101000110001",
    "Y": "10001100011000101010001000010000100", "Z": "11111000010001000100010001000011111",
}
_FONT.update(_LETTERS)


def _text(img, x, y, s, color, scale=2):
    for ch in s.upper():
        g = _FONT.get(ch, _FONT[" "])
        for r in range(7):
            for c in range(5):
                if g[r * 5 + c] == "1":
                    img[y + r * scale:y + (r + 1) * scale, x + c * scale:x + (c + 1) * scale] = color
        x += 6 * scale


def _line(img, x0, y0, x1, y1, color, width=1):
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    h, w = img.shape[:2]
    for dx in range(-(width // 2), width // 2 + 1):
        for dy in range(-(width // 2), width // 2 + 1):
            xx, yy = xs + dx, ys + dy
            ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            img[yy[ok], xx[ok]] = color


def write_png_plot(song_runs, path: Path, window: int) -> None:
    W, H = 640, 440
    img = np.full((H, W * len(song_runs), 3), 255, dtype=np.uint8)
    for k, run in enumerate(song_runs):
        ox = k * W
        L, R, T, B = ox + 70, ox + W - 40, 64, H - 60
        curves = {m: rolling(run["_curves"][m], window) for m in MINDS}
        ymax = max(0.05, max(float(c.max()) for c in curves.values()) * 1.1)
        n = max(len(c) for c in curves.values())
        _line(img, L, B, R, B, (0, 0, 0))
        _line(img, L, T, L, B, (0, 0, 0))
        for t in range(6):
            yv = ymax * t / 5
            yy = int(B - (B - T) * t / 5)
            _line(img, L - 4, yy, L, yy, (0, 0, 0))
            _text(img, ox + 8, yy - 7, f"{yv:.2f}", (0, 0, 0))
        for t in range(5):
            xx = int(L + (R - L) * t / 4)
            _line(img, xx, B, xx, B + 4, (0, 0, 0))
            _text(img, xx - 18, B + 10, str(int(n * t / 4)), (0, 0, 0))
        for m in MINDS:
            c = curves[m]
            xs = L + (R - L) * np.arange(len(c)) / max(1, n - 1)
            ys = B - (B - T) * np.clip(c / ymax, 0, 1)
            step = max(1, len(c) // 600)
            for i in range(step, len(c), step):
                _line(img, xs[i - step], ys[i - step], xs[i], ys[i], COLORS[m],
                      width=3 if m == "fungus" else 1)
        _text(img, L, 10, f"SONGS/{run['community']} REWARD (ROLLING {window})", (0, 0, 0))
        lx = L
        for m in MINDS:                                  # legend: one row above the plot
            img[36:46, lx:lx + 15] = COLORS[m]
            _text(img, lx + 20, 35, m, (0, 0, 0))
            lx += 20 + 12 * len(m) + 24
        _text(img, (L + R) // 2 - 24, H - 24, "STEP", (0, 0, 0))
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(img.shape[0]))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + \
            struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", img.shape[1],
                                                             img.shape[0], 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--communities", default="mixed,metal")
    ap.add_argument("--steps", type=int, default=3000, help="song World steps per Mind")
    ap.add_argument("--epochs", type=int, default=30,
                    help="ML-100k: fixed number of epochs of every neural model (the best epoch "
                    "on validation is kept)")
    ap.add_argument("--seq-epochs", type=int, default=200,
                    help="ML-100k: fixed epochs of SASRec/GRU4Rec (one pass over the users each)")
    ap.add_argument("--eval-every", type=int, default=10,
                    help="SASRec/GRU4Rec: validate every N epochs")
    ap.add_argument("--ml-minds", default=",".join(ML_MINDS), help="ML-100k Minds to run")
    ap.add_argument("--seeds", type=int, default=3, help="ML-100k: seeds 0..N-1 (mean ± std)")
    ap.add_argument("--seed-list", default=None,
                    help="ML-100k: these seeds instead (e.g. 2, to run seeds as separate commands)")
    ap.add_argument("--patience", type=int, default=3,
                    help="ML-100k: stop a neural model after this many validations without a "
                    "better validation NDCG@10 (0: run the whole schedule)")
    ap.add_argument("--lrs", default="0.001,0.003", help="ML-100k: learning rates tried (validation)")
    ap.add_argument("--dropouts", default="0.2,0.5", help="SASRec/GRU4Rec dropouts tried")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=100, help="SASRec/GRU4Rec sequence length")
    ap.add_argument("--batch", type=int, default=128, help="SASRec/GRU4Rec batch (sequences)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto")
    ap.add_argument("--users", type=int, default=None, help="ML-100k: only the first N users")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=None, help="data cache root (default $WWM_DATA or ~/.cache/wwm)")
    ap.add_argument("--song-seeds", default="11,12,13",
                    help="song World run seeds (held out: the songs hyper-parameters were "
                    "chosen on seeds 1 and 2)")
    ap.add_argument("--plot-dir", default=str(REPO / "runs" / "bench"),
                    help="folder for songs-<community>.png")
    ap.add_argument("--window", type=int, default=300, help="rolling window of the plot")
    ap.add_argument("--save-fungus", default=None, metavar="DIR",
                    help="write the chosen fungus weights (the seed best on validation) to "
                    "DIR/ml-100k.safetensors: DIR = minds/fungus/var is where the served fungus "
                    "Mind loads them")
    ap.add_argument("--skip-ml100k", action="store_true")
    ap.add_argument("--skip-songs", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = ap.parse_args(argv)
    args.lrs = [float(x) for x in args.lrs.split(",")]
    args.ml_minds = [x.strip() for x in args.ml_minds.split(",")]
    args.song_seeds = [int(x) for x in args.song_seeds.split(",")]
    args.dropouts = [float(x) for x in args.dropouts.split(",")]
    args.seed_list = [int(x) for x in args.seed_list.split(",")] if args.seed_list else \
        list(range(args.seeds))
    if args.device == "auto":
        import torch
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.quick:
        args.steps, args.epochs, args.users = min(args.steps, 200), min(args.epochs, 2), 100
        args.seed_list, args.lrs, args.dropouts = [0], args.lrs[:1], args.dropouts[:1]
        args.seq_epochs, args.eval_every = 4, 2
        args.communities = args.communities.split(",")[0]
        args.song_seeds = args.song_seeds[:1]
        args.window = 50
    import torch
    torch.set_num_threads(max(1, args.threads))
    t0 = time.time()
    report: dict = {"bench": "recsys", "seed": args.seed, "threads": args.threads}
    if not args.skip_ml100k:
        torch.set_num_threads(max(1, args.threads))
        report["ml100k"] = bench_ml100k(args)
    songs = []
    if not args.skip_songs:
        for c in [x.strip() for x in args.communities.split(",") if x.strip()]:
            songs.append(bench_songs(args, c))
        if songs:
            report["plots"] = plot(songs, Path(args.plot_dir), args.window)
    report["songs"] = [{k: v for k, v in r.items() if k != "_curves"} for r in songs]
    report["seconds"] = round(time.time() - t0, 1)

    # the table
    print()
    print("-" * 76)
    if "ml100k" in report:
        ml = report["ml100k"]
        for m in ml["minds"]:
            r = ml["minds"][m]
            print(f"{'ml-100k test, %d seeds' % len(ml['seeds']):24} {m:16} "
                  f"HR@10 {r['hr@10']:.4f} ± {r['hr@10_std']:.4f}  "
                  f"NDCG@10 {r['ndcg@10']:.4f} ± {r['ndcg@10_std']:.4f}  {r['seconds']:7.1f}s")
    if report["songs"]:
        print(f"{'songs':24} {'mind':11} {'HR@10':>7} {'NDCG@10':>8} {'reward':>7} "
              f"{'final':>7} {'sec':>6}")
    for run in report["songs"]:
        for m in MINDS:
            r = run["minds"][m]
            print(f"{'songs/' + run['community']:24} {m:11} {r['hr@10']:7.4f} "
                  f"{r['ndcg@10']:8.4f} {r['mean_reward']:7.4f}±{r['mean_reward_std']:.3f} "
                  f"{r['final_reward']:7.4f} {r['seconds']:6.1f}")
    print("-" * 76)
    if "ml100k" in report:
        mm = report["ml100k"]["minds"]
        rest = [m for m in mm if m != "fungus"]
        if "fungus" in mm and rest:
            top = max(rest, key=lambda m: mm[m]["hr@10"])
            print(f"ml-100k: fungus HR@10 {mm['fungus']['hr@10']:.4f} vs the best baseline "
                  f"({top}) {mm[top]['hr@10']:.4f}")
    for run in report["songs"]:
        print(f"songs/{run['community']} ({run['steps']} steps, seeds {run['seeds']}): fungus' "
              f"mean reward {'above' if run['fungus_above_every_baseline'] else 'NOT above'} "
              f"every baseline's")
    if songs:
        print(f"plots: {' '.join(report['plots'])}")
    print(f"total {report['seconds']} s")
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
