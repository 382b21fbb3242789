"""A party's view: openings of x − a, y − b are uniform; no share ever reaches a log."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from harness import Wire, outputs, scenario, sim

from mpc.field import GF61
from mpc.sharing import lagrange_at_zero

pytestmark = pytest.mark.timeout(90)

CHI2_15_P1E4 = 42.6  # chi-square quantile, 15 degrees of freedom, p = 10^-4


def chi_square_top4(values: np.ndarray, bits: int) -> float:
    """Chi-square statistic of the top 4 bits of ``bits``-bit values against uniform."""
    counts = np.bincount((values >> np.uint64(bits - 4)).astype(np.int64), minlength=16)
    expected = values.size / 16
    return float(((counts - expected) ** 2 / expected).sum())


def _opened(wire: Wire, sharing: str) -> np.ndarray:
    """Reconstruct the opened (2, n) array of the first online round from the shares on the wire."""
    shares = {src: np.asarray(p) for src, p in wire.payloads("on/r1/open").items()}
    if sharing == "additive":
        return np.sum(np.stack(list(shares.values())), axis=0, dtype=np.uint64)
    pts = tuple(sorted(shares))[:2]
    lam = lagrange_at_zero(pts)
    return GF61.add(GF61.scale(shares[pts[0]], lam[0]), GF61.scale(shares[pts[1]], lam[1]))


@pytest.mark.parametrize(("sharing", "bits"), [("additive", 64), ("shamir", 61)])
def test_openings_of_masked_inputs_are_uniform(sharing: str, bits: int) -> None:
    # structured, constant inputs: any leak of x or y would pile up in one bin
    x, y = np.full(2000, 5), np.full(2000, -3)
    samples = []
    for run in range(5):
        wire = Wire()
        kw = {"sharing": sharing} | ({"threshold": 1} if sharing == "shamir" else {})
        rep = sim(scenario("mul", 3, {1: x, 2: y}, seed=run, **kw), observers=[wire])
        assert rep.ok, rep.reason
        np.testing.assert_array_equal(outputs(rep)[3], x * y)
        samples.append(_opened(wire, sharing))
    opened = np.concatenate(samples, axis=1)
    assert chi_square_top4(opened[0], bits) < CHI2_15_P1E4  # x − a
    assert chi_square_top4(opened[1], bits) < CHI2_15_P1E4  # y − b
    # the test has teeth: unmasked inputs fail it
    enc = np.full(opened.shape[1], 5, dtype=np.uint64)
    assert chi_square_top4(enc, bits) > 1000


@pytest.mark.parametrize(("sharing", "triples", "parties", "t"), [("additive", "dealer", 3, None),
                                                                  ("shamir", "dn07", 5, 2)])
def test_no_share_is_logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], sharing: str,
                            triples: str, parties: int, t: int | None) -> None:
    caplog.set_level(logging.DEBUG)
    wire = Wire()
    rng = np.random.default_rng(1)
    ins = {1: rng.integers(-1000, 1000, 300), 2: rng.integers(-1000, 1000, 300), 3: rng.integers(-1000, 1000, 300)}
    kw = {"sharing": sharing, "triples": triples} | ({"threshold": t} if t is not None else {})
    # a crash makes the runtime log (connection lost, rejected messages) on the survivors' side
    faults = [{"party": parties, "crash": "after:open"}] if sharing == "shamir" else []
    rep = sim(scenario("mul", parties, ins, faults=faults, **kw), observers=[wire])
    assert rep.ok, rep.reason
    secret_strings: set[str] = set()
    for _src, _dst, _tag, payload in wire.messages:
        arrays = payload.values() if isinstance(payload, dict) else [payload]
        for arr in arrays:
            if isinstance(arr, np.ndarray) and arr.dtype == np.uint64:
                for v in arr.reshape(-1)[:2000].tolist():
                    if v >= 10**6:
                        secret_strings.update({str(v), f"{v:x}", str(np.int64(np.uint64(v)))})
    assert len(secret_strings) > 1000
    text = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().out
    assert caplog.records  # something was logged at DEBUG, so the check looks at real output
    tokens = set(re.findall(r"-?[0-9a-f]{6,}", text))
    assert not tokens & secret_strings
