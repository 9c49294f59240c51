"""Seeded fuzzing of every front end: a few hundred requests each, valid and
hostile mixed (bench/fuzz.py runs 20,000 and watches memory). No 500, no
traceback, every XML and JSON body well-formed; the gw fixture then checks that
no Program 1 is left and nothing was written outside RUNS."""
from __future__ import annotations

import os

from fuzzkit import fuzz

N = int(os.environ.get("WWM_FUZZ_REQUESTS", "300"))


def test_fuzzed_requests_never_break_the_gateway(gw):
    stats = fuzz(gw.port, gw.prefix, N, seed=sum(map(ord, gw.name)))
    assert stats["requests"] >= N * 0.9, stats
    assert not stats["problems"], stats["problems"][:10]
    assert stats["by_status"].get(200, 0) > N * 0.05  # valid requests were in the mix and answered
