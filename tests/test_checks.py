"""The round tags each protocol declares (``Spec.rounds``, which crash faults are checked
against) are exactly the tags its parties send on netsim."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from mpc.agreement import AGREEMENT_TAGS

from mpc.app.runner import job_of, run_sim
from mpc.app.scenario import parse
from protocols.registry import REGISTRY, lookup

pytestmark = pytest.mark.timeout(120)

DN07 = {"triples": "dn07", "parties": 5, "threshold": 2}
CONFIGS = [
    ("sum", {}), ("sum", {"sharing": "additive"}), ("mean", {}),
    ("mul", {}), ("mul", DN07), ("mul", {"sharing": "additive"}),
    ("dot", {}), ("dot", DN07), ("dot", {"sharing": "additive"}),
    ("matvec", {}), ("matvec", {"sharing": "additive"}), ("mulchain", {}), ("mulchain", DN07),
    ("meanvar", {"sharing": "additive", "fractional_bits": 16, "options": {"int_bits": 4}}),
    ("meanvar", {"fractional_bits": 4, "options": {"int_bits": 4}, **DN07}),  # κ ≥ 40 dealer-free: int_bits + f ≤ 8
    ("secagg", {"options": {"variant": "secagg"}}), ("secagg", {"options": {"variant": "secagg+"}, "parties": 8}),
]


def _sent_tags(tmp_path, proto, kw):
    kw = dict(kw)
    n = kw.pop("parties", 3)
    holders = n if proto == "secagg" else 2  # the others compute without an input
    vals = [1.5, 2.0] if proto == "meanvar" else [1, 2]
    scn = parse({"protocol": proto, "parties": n, **kw, "inputs": {str(p): vals for p in range(1, holders + 1)}})
    trace = tmp_path / f"{proto}.jsonl"
    report = run_sim(scn, trace=str(trace))
    assert all(o.status == "ok" for o in report.outcomes.values()), report.reason
    sent = defaultdict(set)
    for line in trace.read_text().splitlines():
        d = json.loads(line)
        if d["inst"] and d["tag"] not in AGREEMENT_TAGS:  # not the node's own hello/bye/job/end steps
            sent[d["from"]].add(d["tag"].rsplit("/", 1)[-1])
    return scn, sent


def test_declared_rounds_match_the_tags_sent(tmp_path):
    seen_anywhere = defaultdict(set)
    for proto, kw in CONFIGS:
        scn, sent = _sent_tags(tmp_path, proto, kw)
        spec, job = lookup(proto), job_of(scn)
        for party, tags in sent.items():
            declared = spec.rounds(job, party)
            assert declared is not None
            assert tags == set(declared), (proto, kw, party)
            seen_anywhere[proto] |= tags
    # every shipped protocol is covered; a user program's rounds are its own (undeclared)
    assert set(seen_anywhere) == set(REGISTRY) - {"program"}
