"""SecAgg with real long-term identities (``identities = "pki"``), wired through the application
layer: ``mpc run --tls`` (fresh keys per run), ``mpc node`` with a ``tls_dir`` from ``mpc keygen``,
and ``--sim`` (fresh keys too). The cryptographic checks themselves (signed advertisements, the
key-swap attack) are in tests/test_secagg_attacks.py; here: that every path hands each party the
certified keys, and that a run that cannot is refused before it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deploy_harness import env, run_nodes
from mpc import identity
from mpc.app.runner import bound_spec, run_sim
from mpc.app.scenario import load, parse
from mpc.app.validate import validate
from mpc.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "secagg-plus-8-pki.toml"
pytestmark = pytest.mark.timeout(180)


def _exact_sum_over_used(report) -> None:  # type: ignore[no-untyped-def]
    assert report.ok, report.reason
    server = report.outcomes[0].result
    used = list(server.meta["used"])
    scn = load(SCENARIO)
    want = np.sum([np.asarray(scn.inputs[u]) for u in used], axis=0)
    assert 3 not in used and len(used) == 7
    assert np.array_equal(server.output, want)


def test_sim_makes_fresh_identities_and_sums_exactly() -> None:
    _exact_sum_over_used(run_sim(load(SCENARIO)))


def test_real_run_with_tls_uses_the_run_keys() -> None:
    from mpc.app.launch import run_real

    _exact_sum_over_used(run_real(load(SCENARIO), tls=True))


def test_a_real_run_without_keys_is_refused_before_any_party_starts() -> None:
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(SCENARIO)], capture_output=True, text=True,
                          env=env(), timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "uses long-term identities (options.identities = 'pki'): run it with --tls" in proc.stderr
    with pytest.raises(ConfigError, match="long-term identities"):
        validate(load(SCENARIO), real=True, identities=False)


def test_an_unknown_identity_mode_is_a_config_error(tmp_path: Path) -> None:
    scn = parse({"protocol": "secagg", "parties": 4, "inputs": {"default": {"random": 3}},
                 "options": {"identities": "x509"}})
    with pytest.raises(ConfigError, match=r"options.identities must be one of \['none', 'simulated', 'pki'\]"):
        validate(scn, real=False)


def test_the_bound_spec_holds_the_certified_keys(tmp_path: Path) -> None:
    scn = load(SCENARIO)
    ids = (0, *range(1, 9))
    identity.generate(tmp_path, ids)
    spec = bound_spec(scn, 2, tmp_path)
    creds = spec.run.keywords["credentials"]  # type: ignore[attr-defined]
    assert creds.identities == identity.signing_keys(tmp_path, range(1, 9))
    assert creds.signing_key.public_key().public_bytes_raw() == creds.identities[2]
    assert bound_spec(scn, 0, tmp_path).run.keywords["credentials"].signing_key is None  # type: ignore[attr-defined]


def test_a_party_holding_a_foreign_certificate_for_a_peer_refuses_to_start(tmp_path: Path) -> None:
    """An attacker who slips its own certificate for client 5 (issued by another CA) into a party's
    key directory: the party refuses the job instead of trusting the key."""
    ids = (0, *range(1, 9))
    identity.generate(tmp_path / "real", ids)
    identity.generate(tmp_path / "evil", [5])
    for suffix in (".sig.crt",):
        (tmp_path / "real" / f"party-5{suffix}").write_bytes((tmp_path / "evil" / f"party-5{suffix}").read_bytes())
    with pytest.raises(ConfigError, match="party-5 is not issued by this CA"):
        bound_spec(load(SCENARIO), 1, tmp_path / "real")


def test_a_certificate_naming_another_party_is_refused(tmp_path: Path) -> None:
    ids = (0, *range(1, 9))
    identity.generate(tmp_path, ids)
    (tmp_path / "party-6.sig.crt").write_bytes((tmp_path / "party-7.sig.crt").read_bytes())  # 7's key as 6's
    with pytest.raises(ConfigError, match="party-6 names"):
        bound_spec(load(SCENARIO), 1, tmp_path)


def test_mpc_node_hosts_with_keygen_identities_run_a_signed_round(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "mpc", "keygen", "--parties", "0,1,2,3,4", "--out", str(tmp_path / "keys")],
                   check=True, env=env(), timeout=60, capture_output=True)
    x = {u: np.array([10 * u, -u, 7]) for u in range(1, 5)}
    for u, v in x.items():
        (tmp_path / f"in{u}.json").write_text(json.dumps(v.tolist()))
    (tmp_path / "agg.toml").write_text('name = "agg"\nprotocol = "secagg"\nparties = 4\ninput_parties = [1, 2, 3, 4]\n'
                                       'timeout_s = 30\n[options]\nidentities = "pki"\nthreshold = 3\n')

    def configs(bases: dict[int, int]) -> dict[int, Path]:
        peers = "\n".join(f'{p} = "tls+tcp://127.0.0.1:{b}"' for p, b in bases.items())
        out = {}
        for p in bases:
            job = f'[[jobs]]\nscenario = "agg.toml"\n' + (f'input = "in{p}.json"\n' if p else "")
            out[p] = tmp_path / f"party{p}.toml"
            out[p].write_text(f'party = {p}\nsession = "fl-round-1"\ntls_dir = "keys"\n[peers]\n{peers}\n{job}')
        return out

    results = run_nodes([0, 1, 2, 3, 4], configs)
    for p, r in results.items():
        assert r.returncode == 0, "\n".join(f"{q}: {s.stdout} {s.stderr[-1500:]}" for q, s in results.items())
    for p in range(5):  # the server and every client (result_to_clients) hold the exact sum
        job = json.loads((tmp_path / f"party{p}.json").read_text())  # one job: one report object
        assert job["status"] == "ok" and job["output"] == (x[1] + x[2] + x[3] + x[4]).tolist()
