"""Every configuration error is found before any party starts: exit 2, one line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpc.app import cli, launch
from mpc.app.scenario import load
from mpc.app.validate import validate
from mpc.errors import ConfigError

pytestmark = pytest.mark.timeout(60)

INPUTS = "[inputs]\n1 = [1]\n2 = [2]\n"
BAD = {
    "secagg-threshold": ('protocol = "secagg"\nparties = 5\n[inputs]\ndefault = { random = 3, low = 0, high = 9 }\n'
                         '[options]\nthreshold = 9\n', "threshold 9 is unsafe"),
    "dn07-t2-of-3": ('protocol = "mul"\nparties = 3\nthreshold = 2\ntriples = "dn07"\n' + INPUTS,
                     "needs parties >= 2t + 1 (parties = 3, t = 2)"),
    "unknown-triples": ('protocol = "mul"\nparties = 3\ntriples = "magic"\n' + INPUTS, "unknown triples 'magic'"),
    "nan": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [nan]\n2 = [1.0]\n', "nan is not a finite number"),
    "inf": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [-inf]\n2 = [1.0]\n', "-inf is not a finite number"),
    "1e300": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [1e300]\n2 = [1.0]\n', "1e+300 out of range"),
    "2^60": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [1152921504606846976]\n2 = [1]\n',
             "integer 1152921504606846976 out of range (|v| < 2^60)"),
    "-2^60": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [-1152921504606846976]\n2 = [1]\n', "out of range"),
    "generator-2^60": ('protocol = "sum"\nparties = 3\n[inputs]\ndefault = { random = 4, low = 0, high = '
                       '1152921504606846977 }\n', "low/high out of range"),
    "sum-headroom": ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [1152921504606846975]\n'
                     '2 = [1152921504606846975]\n3 = [5]\n', "the sum of 3 inputs can reach 2.31e+18"),
    "dot-headroom": ('protocol = "dot"\nparties = 3\n[inputs]\n1 = [1073741824, 1]\n2 = [1073741824, 1]\n',
                     "the dot product of 2 inputs can reach"),
    "fixed-headroom": ('protocol = "sum"\nparties = 3\nfractional_bits = 40\n[inputs]\n1 = [600000.0]\n'
                       '2 = [600000.0]\n', "the sum of 2 inputs"),
    "unknown-option": ('protocol = "sum"\nparties = 3\n' + INPUTS + '[options]\nfoo = 1\n',
                       "unknown [options] keys ['foo'] for protocol 'sum'"),
    "secagg-unknown-option": ('protocol = "secagg"\nparties = 3\n[inputs]\ndefault = { random = 3 }\n'
                              '[options]\nvarient = "secagg+"\n', "unknown [options] keys ['varient']"),
    "secagg-pki-without-keys": ('protocol = "secagg"\nparties = 4\n[inputs]\ndefault = { random = 3 }\n'
                                '[options]\nidentities = "pki"\n', "uses long-term identities (options.identities = "
                                "'pki'): run it with --tls"),
    "secagg-simulated-identities-in-a-real-run": ('protocol = "secagg"\nparties = 4\n[inputs]\ndefault = { random = 3 }'
                                                  '\n[options]\nidentities = "simulated"\n',
                                                  "options.identities = 'simulated' derives every signing key"),
    "secagg-unknown-identities": ('protocol = "secagg"\nparties = 4\n[inputs]\ndefault = { random = 3 }\n'
                                  '[options]\nidentities = "x509"\n', "options.identities must be one of"),
    "crash-tag-typo": ('protocol = "sum"\nparties = 3\n' + INPUTS + '[[faults]]\nparty = 2\ncrash = "after:shar"\n',
                       "crash = 'after:shar' never fires: party 2 sends no round 'shar'"),
    "crash-tag-not-this-party": ('protocol = "sum"\nparties = 3\n' + INPUTS +
                                 '[[faults]]\nparty = 3\ncrash = "after:share"\n', "party 3 sends no round 'share'"),
    "crash-tag-other-source": ('protocol = "mul"\nparties = 5\nthreshold = 2\ntriples = "dn07"\n' + INPUTS +
                               '[[faults]]\nparty = 1\ncrash = "after:need"\n', "sends no round 'need'"),
    "one-party": ('protocol = "sum"\nparties = 1\n[inputs]\n1 = [1]\n', "parties = 1: a secure computation needs"),
    "no-input": ('protocol = "sum"\nparties = 3\n', "needs at least 1 input party"),
    "input-parties-mismatch": ('protocol = "sum"\nparties = 3\ninput_parties = [1]\n' + INPUTS,
                               "inputs given for [2], which input_parties = [1] does not name"),
    "slow-in-real": ('protocol = "sum"\nparties = 3\n' + INPUTS + '[[faults]]\nparty = 2\nslow = 2.0\n',
                     "'slow' faults exist only in --sim runs"),
    "sends-without-after": ('protocol = "sum"\nparties = 3\n' + INPUTS +
                            '[[faults]]\nparty = 2\ncrash = "at_ms:5"\nsends = 1\n', "sends = <k >= 1> goes with"),
}


def _file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


@pytest.fixture
def no_party_starts(monkeypatch):
    async def refuse(*a, **k):
        raise AssertionError("a party process was started")

    monkeypatch.setattr(launch, "_spawn", refuse)


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_user_error_exits_2_before_any_party_starts(case, tmp_path, capsys, no_party_starts):
    text, needle = BAD[case]
    rc = cli.main(["run", str(_file(tmp_path, text))])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mpc: error: ")


@pytest.mark.parametrize("args,needle", [
    (["run", "--sim", "--tls", "sum-3"], "--tls applies to real runs only"),
    (["run", "--sim", "--fork-server", "sum-3"], "--fork-server applies to real runs only"),
    (["run", "--trace", "t.jsonl", "sum-3"], "--trace needs --sim"),
    (["run", "scenarios/"], "is a directory"),
    (["run", "sum-3", "--json", "/nonexistent-dir/r.json"], "directory /nonexistent-dir does not exist"),
    (["run", "sum-3", "--json", "."], "is a directory"),
    (["run", "no-such-scenario"], "no shipped scenario of that name"),
    (["run", "missing.toml"], "scenario file not found"),
])
def test_flag_and_path_errors_exit_2_before_running(args, needle, capsys, no_party_starts, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    rc = cli.main(args)
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err, err


def test_sim_only_faults_are_refused_in_real_mode_only(tmp_path):
    scn = load(_file(tmp_path, 'protocol = "sum"\nparties = 3\n' + INPUTS + '[[faults]]\nparty = 2\nsilent = "at_ms:1"\n'))
    assert validate(scn, real=False) == []
    with pytest.raises(ConfigError, match="'silent' faults exist only in --sim runs"):
        validate(scn, real=True)
    freeze = load(_file(tmp_path, 'protocol = "sum"\nparties = 3\n' + INPUTS +
                        '[[faults]]\nparty = 1\nfreeze = "after:share"\nsends = 1\n'))
    assert validate(freeze, real=True) == []
    with pytest.raises(ConfigError, match="exist only in real runs"):
        validate(freeze, real=False)


def test_network_in_a_real_run_is_explained(tmp_path, capsys, monkeypatch):
    scn = load(_file(tmp_path, 'protocol = "sum"\nparties = 3\n' + INPUTS + '[network]\nlatency_ms = 5\n'))
    assert validate(scn, real=True) == ["note: [network] shapes only --sim runs; a real run uses the actual network"]
    assert validate(scn, real=False) == []


def test_every_shipped_scenario_passes_the_checks():
    root = Path(__file__).resolve().parent.parent / "scenarios"
    for path in sorted(root.glob("*.toml")):
        validate(load(path), real=False)
        if load(path).options.get("identities") == "simulated":  # a test PKI: --sim only
            with pytest.raises(ConfigError, match="'simulated' derives every signing key"):
                validate(load(path), real=True)
            continue
        validate(load(path), real=True)


def test_input_parties_are_a_public_parameter(tmp_path):
    scn = load(_file(tmp_path, 'protocol = "sum"\nparties = 3\ninput_parties = [1, 2]\n[inputs]\n1 = [4]\n'))
    assert scn.input_parties == (1, 2)  # named, not inferred from the one vector this file holds
    implicit = load(_file(tmp_path, 'protocol = "sum"\nparties = 3\n' + INPUTS))
    assert implicit.input_parties == (1, 2)
