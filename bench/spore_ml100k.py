#!/usr/bin/env python3
"""SPORE on MovieLens 100k: the users split over N nodes, FedAvg and SPORE against one central model.

Every node holds some users (their whole histories) and trains the fungus model of ML-100k
(``HYPER["ml-100k"]``) on them; the protocol is bench/recsys.py's, reused from it: per user
(time order) the last item is the test item, the second-to-last the validation item, the rest
training; HR@10 over all 1,682 items, the user's own items left out.  A node's validation
score (what it adopts and migrates by) is NDCG@10 on its own users' validation items; the
test is computed once at the end: each user scored by the model of the node that holds them.

Splits of the users:

- ``iid``: shuffled (seeded), cut into N equal parts;
- ``taste`` (non-IID): every user's genre profile (the share of each genre in their training
  items, standardised over users) is projected on its first principal component, and the
  users, sorted by it, are cut into N equal slices (slice 0 and slice N-1 have the most
  different tastes).

Methods (bench/spore.py's rounds, same seeds): ``isolated``, ``fedavg`` (one global group),
``fixed`` (fixed random groups), ``spore``, and ``central``: the same model trained on every
user at once, for the same number of passes (each round: ``--epochs`` passes over all users,
as each node makes over its own, same batch size, optimiser and learning rate).  The central
model does not depend on the split, so it is trained once.  Usage (reduced scale):

    flock /tmp/wwm-heavy.lock nice -n 19 python3 bench/spore_ml100k.py --nodes 5 --rounds 8

Writes bench/out/spore-ml100k-N.json and a PNG of the validation curves per split.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from recsys import rank_metrics, split3  # noqa: E402
from spore import LearnerNode, jsonable, print_table, run, write_png  # noqa: E402
from wwm.fungus.learner import FungusLearner  # noqa: E402
from wwm.fungus.mind import HYPER  # noqa: E402


class MLNode(LearnerNode):
    """The users ``users`` of ML-100k on one node (bench/spore.py's node interface)."""

    domain = "ml-100k"

    def __init__(self, dom, data, users, args):
        train, valid, test = data
        self.learner = FungusLearner(dom.items, dom.features, domain="ml-100k", fingerprint=dom.fingerprint,
                                     seed=0, **HYPER["ml-100k"])  # every node starts from the same model
        self.fingerprint = dom.fingerprint
        self.seqs = [[dom.items[i - 1] for i in train[u]] for u in users]
        self.hist, self.valid = [train[u] for u in users], [valid[u] for u in users]
        self.test_hist, self.test = [train[u] + [valid[u]] for u in users], [test[u] for u in users]
        self.epochs, self.batch = args.epochs, args.batch

    def learn(self) -> None:
        self.learner.fit_sequences(self.seqs, epochs=self.epochs, batch_size=self.batch, final_lr=1.0)

    def _metrics(self, hists, targets) -> dict:
        return rank_metrics(self.learner.score_rows, hists, targets)

    def score(self) -> float:
        return self._metrics(self.hist, self.valid)["ndcg@10"]

    def hits(self) -> float:
        """Test hits (HR@10 times the node's users)."""
        return self._metrics(self.test_hist, self.test)["hr@10"] * len(self.test)



def split_users(how: str, n: int, dom, train, seed: int) -> list[np.ndarray]:
    users = np.arange(len(train))
    if how == "iid":
        return np.array_split(np.random.default_rng(seed).permutation(users), n)
    genres = dom.features[:, :-1]                       # the last column is the year
    prof = np.array([genres[np.array(h) - 1].mean(0) for h in train])
    prof = (prof - prof.mean(0)) / (prof.std(0) + 1e-9)
    axis = np.linalg.svd(prof, full_matrices=False)[2][0]
    return np.array_split(users[np.argsort(prof @ axis, kind="stable")], n)


def test_hr(nodes) -> tuple[float, list[float]]:
    """HR@10 over every user (each by their node's model), and per node."""
    hits = [node.hits() for node in nodes]
    return sum(hits) / sum(len(node.test) for node in nodes), [h / len(node.test) for h, node in zip(hits, nodes)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1, help="local passes over a node's users per round")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--splits", default="iid,taste")
    ap.add_argument("--iid-methods", default="fedavg", help="methods run on the IID split")
    ap.add_argument("--users", type=int, default=None, help="only the first N users")
    ap.add_argument("--threshold", type=float, default=0.002)
    ap.add_argument("--hysteresis", type=float, default=0.005)
    ap.add_argument("--cooldown", type=int, default=2)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from wwm.songs.mindkit import ml100k_domain
    from wwm.songs.replay import load_ml100k

    log = load_ml100k(limit_users=args.users)
    dom = ml100k_domain(log)
    data = split3(log, dom)
    everyone = np.arange(len(data[0]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    centre = MLNode(dom, data, everyone, args)      # the central model: every user, same passes
    central_curve = [centre.score()]
    for _ in range(args.rounds):
        centre.learn()
        central_curve.append(centre.score())
    c_hr, _ = test_hr([centre])
    print(f"ml-100k: {len(everyone)} users, {len(dom)} items; {args.rounds} rounds x {args.epochs} epoch(s); "
          f"central HR@10 {c_hr:.4f} ({time.time() - t0:.0f} s)")
    report = {"args": vars(args), "users": len(everyone), "central": {"hr@10": c_hr, "valid_curve": central_curve}}
    for how in args.splits.split(","):
        parts = split_users(how, args.nodes, dom, data[0], args.seed)
        make = lambda parts=parts: [MLNode(dom, data, p, args) for p in parts]   # noqa: E731
        methods = ("isolated", "fedavg", "fixed", "spore") if how == "taste" else args.iid_methods.split(",")
        results = []
        for m in methods:
            ts = time.time()
            res = run(m, make, args)
            hr, per_node = test_hr(res["nodes"])
            res.update(valid_final=res["final"], final=per_node, mean=hr, seconds=time.time() - ts)
            results.append(res)
            print(f"  {how} {m}: HR@10 {hr:.4f} ({res['seconds']:.0f} s)")
        central_nodes = make()
        for node in central_nodes:
            node.model.load_state_dict(centre.state())
        _, c_nodes = test_hr(central_nodes)
        results.append({"method": "central", "final": c_nodes, "mean": c_hr,
                        "curves": [central_curve] * args.nodes})
        print(f"{how} split, {args.nodes} nodes ({[len(p) for p in parts]} users): test HR@10, "
              f"mean = over every user")
        if "isolated" in methods:
            print_table(results)
        else:
            for res in results:
                print(f"{res['method']:10} {res['mean']:7.4f}  ({100 * (res['mean'] - c_hr) / c_hr:+.1f}% vs central)")
        report[how] = {"sizes": [len(p) for p in parts], "results": results}
        write_png(results, out / f"spore-ml100k-{args.nodes}-{how}.png",
                  title="MEAN NODE VALIDATION NDCG@10")
    (out / f"spore-ml100k-{args.nodes}.json").write_text(json.dumps(report, default=jsonable))
    print(f"total {time.time() - t0:.0f} s; wrote {out}/spore-ml100k-{args.nodes}*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
