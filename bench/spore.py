#!/usr/bin/env python3
"""SPORE benchmark: do fungus nodes gain from learning together, and from choosing their group?

Each node serves one community of the song World (non-IID: metal, club, country, hiphop, mixed,
then named communities) and learns online from its own listeners' requests; its score is the
expected reward on its own held-out listeners (``wwm.spore.experience``), after every round.
Same seeds for every method:

- ``isolated``: every node alone;
- ``fedavg``: one global group, FedAvg by sample count, the aggregate always adopted;
- ``fixed``: fixed random groups (seeded partition, groups of 2-3), FedAvg, always adopted;
- ``spore``: nodes start alone, adopt aggregates only when their own validation does not drop,
  and move between groups by measured gain (threshold, hysteresis, cooldown, capacity);
- ``central``: the same model trained on the pooled experience of every node (an upper
  reference, not federated): after each round, the examples every node of the FedAvg run
  has learned from so far (the same samples), and as many minibatch steps of the same size,
  optimiser and learning rate as all the nodes made that round together.

Also: an IID split (every node serves ``mixed``) for FedAvg against central, and against
``central-wide`` (as many steps as one node, on N times its batch); poisoning (node 0
publishes x100 or random weights) under FedAvg, the robust rule in one global group, and SPORE;
the bytes of weights each node sends and receives per round.

The rounds run in one process with the same code the nodes run (``wwm.spore.aggregate``,
``migration``, ``experience``); the ActivityPub exchange itself is tested with real node
processes in tests/spore/test_spore_nodes.py.  Usage (reduced scale):

    flock /tmp/wwm-heavy.lock nice -n 19 python3 bench/spore.py --nodes 5 --rounds 8 --steps 100

Writes bench/out/spore.png (curves) and bench/out/spore.json, and prints a table.
"""
from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from wwm.fungus.learner import FungusLearner  # noqa: E402
from wwm.fungus.weights import model_metadata, weights_to_bytes  # noqa: E402
from wwm.songs.catalog import load_catalog  # noqa: E402
from wwm.spore.aggregate import adopt_if_better, aggregate, fedavg  # noqa: E402
from wwm.spore.experience import Experience  # noqa: E402
from wwm.spore.migration import Candidate, MigrationPolicy, decide  # noqa: E402

PRESETS = ["metal", "club", "country", "hiphop", "mixed"]
COLORS = {"isolated": (150, 150, 150), "fedavg": (31, 119, 180), "fixed": (255, 127, 14),
          "spore": (44, 160, 44), "central": (214, 39, 40)}


class LearnerNode:
    """What ``run`` needs of a node around its ``learner`` (a FungusLearner): ``model``, ``samples``,
    ``state`` and ``score_state``; a subclass adds ``learn`` and ``score`` (its held-out measure)."""

    @property
    def model(self):
        return self.learner.model

    @property
    def samples(self) -> int:
        return self.learner.samples

    def state(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def score_state(self, state) -> float:
        keep = self.state()
        self.model.load_state_dict(state)
        try:
            return self.score()
        finally:
            self.model.load_state_dict(keep)


class Node(LearnerNode):
    """One song node (bench/spore_ml100k.py has an ML-100k node)."""

    domain = "songs"

    def __init__(self, catalog, community: str, seed: int, args):
        # every node starts from the same seeded model (as fungus nodes do), and meets its own listeners
        self.learner = FungusLearner(list(catalog.ids), catalog.item_features(), fingerprint=catalog.fingerprint(),
                                     dim=args.dim, hidden=args.hidden, seed=0)
        self.fingerprint = catalog.fingerprint()
        self.exp = Experience(catalog, community, validation=args.validation, seed=seed)
        self.steps = args.steps
        self.community = community

    def learn(self) -> None:
        self.exp.learn(self.learner, self.steps)

    def score(self) -> float:
        return self.exp.score(self.learner)


def poison(state, how: str, seed: int):
    if how == "x100":
        return {k: 100.0 * v for k, v in state.items()}
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) * 10.0 for k, v in state.items()}


def song_nodes(catalog, communities, args):
    return lambda: [Node(catalog, c, args.seed + k, args) for k, c in enumerate(communities)]


def run(method: str, make_nodes, args, *, rule="fedavg", attack: str | None = None) -> dict:
    """One method (isolated, fedavg, fixed, spore) over ``args.rounds`` rounds of the nodes
    ``make_nodes()`` returns; returns per-node score curves and the figures."""
    nodes = make_nodes()
    n = len(nodes)
    fixed = list(range(n))
    random.Random(args.seed).shuffle(fixed)
    size = 3 if n % 3 != 1 else 2
    groups: dict[int, set[int]] = {}
    if method == "fedavg":
        groups = {0: set(range(n))}
    elif method == "fixed":
        groups = {g: set(fixed[i:i + size]) for g, i in enumerate(range(0, n, size))}
        if n >= 2 and len(groups[max(groups)]) == 1:  # no singleton left over
            groups[max(groups) - 1] |= groups.pop(max(groups))
    elif method == "spore":
        groups = {k: {k} for k in range(n)}
    where = {m: g for g, ms in groups.items() for m in ms}
    policy = MigrationPolicy(threshold=args.threshold, hysteresis=args.hysteresis, cooldown=args.cooldown,
                             capacity=args.capacity)
    last_move: dict[int, int] = {}
    left: dict[int, dict[str, int]] = {k: {} for k in range(n)}
    curves = [[node.score()] for node in nodes]
    moves, adoptions, refusals, bytes_out, bytes_in = [], 0, 0, [0] * n, [0] * n
    file_bytes = len(weights_to_bytes(nodes[0].state(),
                                      model_metadata(nodes[0].model, nodes[0].domain, nodes[0].fingerprint)))
    t0 = time.process_time()
    for r in range(1, args.rounds + 1):
        for node in nodes:
            node.learn()
        published = {k: nodes[k].state() for k in range(n)}
        if attack:
            published[0] = poison(published[0], attack, args.seed + r)
        samples = {k: nodes[k].samples for k in range(n)}
        group_models = {}
        for g, members in groups.items():
            if len(members) < 2:
                group_models[g] = published[next(iter(members))]
                continue
            ms = sorted(members)
            agg = aggregate(rule, [published[m] for m in ms], [samples[m] for m in ms])
            group_models[g] = agg
            for m in ms:
                bytes_out[m] += file_bytes
                bytes_in[m] += file_bytes * (len(ms) - 1)
                if attack and m == 0:
                    continue  # the attacker keeps its own model
                if method == "spore":
                    d = adopt_if_better(nodes[m].model, agg, nodes[m].score)
                    adoptions += d["adopted"]
                    refusals += not d["adopted"]
                else:
                    nodes[m].model.load_state_dict(agg)
        if method == "spore":
            for m in range(n):
                if attack and m == 0:
                    continue  # the attacker stays in its group
                current = where[m]
                cands = []
                for g, members in groups.items():
                    if g == current or not members:
                        continue
                    # what joining would give: the group's model merged with the node's, one vote per member
                    merged = fedavg([nodes[m].state(), group_models[g]], [1, len(members)])
                    cands.append(Candidate(str(g), nodes[m].score_state(merged), len(members)))
                    bytes_in[m] += file_bytes
                d = decide(policy, current=str(current), current_score=nodes[m].score(), candidates=cands,
                           round_no=r, last_move=last_move.get(m), left=left[m])
                if d["action"] == "move":
                    to = int(d["to"])
                    if len(groups[to]) >= policy.capacity:
                        continue
                    groups[current].discard(m)
                    groups[to].add(m)
                    where[m] = to
                    left[m][str(current)] = r
                    last_move[m] = r
                    moves.append({"round": r, "node": m, "from": current, "to": to, "gain": round(d["gain"], 4)})
            groups = {g: ms for g, ms in groups.items() if ms}  # empty groups dissolve
        for k in range(n):
            curves[k].append(nodes[k].score())
    cpu = time.process_time() - t0
    final = [c[-1] for c in curves]
    return {"method": method, "rule": rule, "attack": attack, "curves": curves, "final": final,
            "mean": float(np.mean(final)), "groups": [sorted(ms) for ms in groups.values()], "moves": moves,
            "adopted": adoptions, "kept_own": refusals, "file_bytes": file_bytes,
            "bytes_out_per_round": [b / args.rounds for b in bytes_out],
            "bytes_in_per_round": [b / args.rounds for b in bytes_in],
            "cpu_seconds": cpu, "cpu_per_node_round": cpu / (n * args.rounds), "nodes": nodes}


def central(fed: dict, catalog, communities, args, *, wide: bool = False) -> dict:
    """The batch-trained reference: one model learns from the pooled examples of the FedAvg run's
    nodes (``fed``).  After round r it has seen every example those nodes learned from in rounds
    1..r, and made as many minibatch steps (each node's batch size, optimiser and learning rate)
    as all the nodes together made in that round; it is scored on every node's held-out
    listeners.  ``wide``: as many steps as one node made, each on N times its batch (the same
    example-gradients; FedAvg's own sequential step count)."""
    scorers = [Node(catalog, c, args.seed + k, args) for k, c in enumerate(communities)]
    model = Node(catalog, communities[0], args.seed, args).learner
    rng = random.Random(args.seed)
    buffers = [list(node.learner.buffer) for node in fed["nodes"]]
    curves = [[s.exp.score(model)] for s in scorers]
    t0 = time.process_time()
    steps, size = (args.steps, model.batch * len(buffers)) if wide else (args.steps * len(buffers), model.batch)
    for r in range(1, args.rounds + 1):
        pooled = [ex for buf in buffers for ex in buf[:r * args.steps]]
        for _ in range(steps):
            model.step([pooled[rng.randrange(len(pooled))] for _ in range(size)])
        for k, s in enumerate(scorers):
            curves[k].append(s.exp.score(model))
    final = [c[-1] for c in curves]
    return {"method": "central-wide" if wide else "central", "curves": curves, "final": final,
            "mean": float(np.mean(final)), "examples": len(pooled), "cpu_seconds": time.process_time() - t0}


def iid_test(catalog, args) -> dict:
    """Every node serves ``mixed``: FedAvg against the central references (prints the figures)."""
    iid = ["mixed"] * args.nodes
    fed = run("fedavg", song_nodes(catalog, iid, args), args)
    res = {"fedavg": fed, "central": central(fed, catalog, iid, args),
           "central-wide": central(fed, catalog, iid, args, wide=True)}
    print(f"IID ({args.nodes} x mixed): fedavg {fed['mean']:.4f}, " + ", ".join(
        f"{m} {res[m]['mean']:.4f} (fedavg {100 * (fed['mean'] - res[m]['mean']) / res[m]['mean']:+.1f}%)"
        for m in ("central", "central-wide")))
    return res


def print_table(results: list[dict]) -> None:
    """Mean final score, the worst node against isolated, every node's score; SPORE's moves."""
    base = {res["method"]: res for res in results}
    iso = np.array(base["isolated"]["final"])
    print(f"{'method':10} {'mean':>7} {'worst vs isolated':>18} {'per node'}")
    for res in results:
        rel = (np.array(res["final"]) - iso) / iso
        print(f"{res['method']:10} {res['mean']:7.4f} {100 * rel.min():+17.1f}% "
              + " ".join(f"{v:.3f}" for v in res["final"]))
    sp = base["spore"]
    print(f"spore: groups at the end {sp['groups']}, moves {len(sp['moves'])}, "
          f"aggregates adopted {sp['adopted']}, kept own {sp['kept_own']}")


def jsonable(x):
    """json.dumps' default: numbers as floats, the nodes themselves left out."""
    return float(x) if isinstance(x, (np.floating, np.integer, torch.Tensor)) else None


def write_png(results: list[dict], path: Path, title: str = "MEAN NODE REWARD ON OWN HELD-OUT LISTENERS") -> None:
    from recsys import _line, _text

    W, H = 640, 440
    img = np.full((H, W, 3), 255, dtype=np.uint8)
    L, R, T, B = 70, W - 30, 64, H - 60
    means = {res["method"]: np.mean(np.array(res["curves"]), axis=0) for res in results}
    ymax = max(0.05, max(float(c.max()) for c in means.values()) * 1.1)
    n = max(len(c) for c in means.values())
    _line(img, L, B, R, B, (0, 0, 0))
    _line(img, L, T, L, B, (0, 0, 0))
    for t in range(6):
        yy = int(B - (B - T) * t / 5)
        _line(img, L - 4, yy, L, yy, (0, 0, 0))
        _text(img, 8, yy - 7, f"{ymax * t / 5:.2f}", (0, 0, 0))
    for t in range(n):
        xx = int(L + (R - L) * t / max(1, n - 1))
        _line(img, xx, B, xx, B + 4, (0, 0, 0))
        _text(img, xx - 5, B + 10, str(t), (0, 0, 0))
    for method, c in means.items():
        xs = L + (R - L) * np.arange(len(c)) / max(1, n - 1)
        ys = B - (B - T) * np.clip(c / ymax, 0, 1)
        for i in range(1, len(c)):
            _line(img, xs[i - 1], ys[i - 1], xs[i], ys[i], COLORS[method], width=3 if method == "spore" else 1)
    _text(img, L, 10, title, (0, 0, 0))
    lx = L
    for method in means:
        img[36:46, lx:lx + 15] = COLORS[method]
        _text(img, lx + 20, 35, method, (0, 0, 0))
        lx += 20 + 12 * len(method) + 20
    _text(img, (L + R) // 2 - 30, H - 24, "ROUND", (0, 0, 0))
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(H))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100, help="training requests per node per round")
    ap.add_argument("--validation", type=int, default=200, help="held-out requests per node")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--threshold", type=float, default=0.005)
    ap.add_argument("--hysteresis", type=float, default=0.01)
    ap.add_argument("--cooldown", type=int, default=2)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: iid,poison")
    ap.add_argument("--only-iid", action="store_true", help="only the IID test (writes spore-iid.json)")
    ap.add_argument("--out", default=str(REPO / "bench" / "out"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    catalog = load_catalog()
    communities = [PRESETS[k] if k < len(PRESETS) else f"community-{k}" for k in range(args.nodes)]
    skip = set(filter(None, args.skip.split(",")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.only_iid:
        (out / "spore-iid.json").write_text(json.dumps({"args": vars(args), "iid": iid_test(catalog, args)},
                                                       default=jsonable))
        return 0
    make = song_nodes(catalog, communities, args)
    results = [run(m, make, args) for m in ("isolated", "fedavg", "fixed", "spore")]
    results.append(central(results[1], catalog, communities, args))
    base = {res["method"]: res for res in results}
    print(f"non-IID, {args.nodes} nodes ({', '.join(communities)}), {args.rounds} rounds x {args.steps} requests")
    print_table(results)
    extra = {}
    if "iid" not in skip:
        extra["iid"] = iid_test(catalog, args)
    if "poison" not in skip:
        extra["poison"] = {}
        for label, method, rule in (("fedavg", "fedavg", "fedavg"), ("global-trimmed", "fedavg", "trimmed"),
                                    ("spore-trimmed", "spore", "trimmed")):
            clean = run(method, make, args, rule=rule) if rule != "fedavg" or method != "fedavg" else base["fedavg"]
            for attack in ("x100", "random"):
                res = run(method, make, args, rule=rule, attack=attack)
                honest = float(np.mean(res["final"][1:]))
                ref = float(np.mean(clean["final"][1:]))
                extra["poison"][f"{label}/{attack}"] = {"honest": honest, "clean": ref,
                                                        "change": (honest - ref) / ref, "groups": res["groups"],
                                                        "moves": res["moves"]}
                print(f"poison {label:15} {attack:6}: honest nodes {honest:.4f} vs {ref:.4f} without attack "
                      f"({100 * (honest - ref) / ref:+.1f}%), groups at the end {res['groups']}")
    sp = base["spore"]
    print(f"weights file {sp['file_bytes']} bytes; per node per round: spore out "
          f"{np.mean(sp['bytes_out_per_round']):.0f} B, in {np.mean(sp['bytes_in_per_round']):.0f} B; fedavg in "
          f"{np.mean(base['fedavg']['bytes_in_per_round']):.0f} B")
    print(f"CPU per node-round (spore, {args.steps} requests): {sp['cpu_per_node_round']:.2f} s -> one 2-core "
          f"machine runs about {int(2 * 60 / max(1e-9, sp['cpu_per_node_round']))} nodes at one round a minute")
    write_png(results, out / "spore.png")
    (out / "spore.json").write_text(json.dumps({"args": vars(args), "communities": communities,
                                                "results": results, **extra}, default=jsonable))
    print(f"wrote {out / 'spore.png'} and {out / 'spore.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
