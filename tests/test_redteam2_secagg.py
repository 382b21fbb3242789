"""Red team 2: SecAgg identities as a server would attack them: a "pki" run that could fall back
to no identities, and the test PKI (``identities = "simulated"``) used where it protects nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mpc.app.scenario import parse
from mpc.app.validate import validate
from mpc.errors import ConfigError
from protocols.secagg import crypto
from protocols.secagg.client import advert_signed, load_identities
from protocols.secagg.specs import run, simulated_credentials
from protocols.spec import Job

pytestmark = pytest.mark.timeout(30)


def _scenario(mode: str) -> Any:
    return parse({"name": "ids", "protocol": "secagg", "parties": 4, "seed": 1,
                  "inputs": {"default": {"random": 4}}, "options": {"variant": "secagg", "identities": mode}})


def test_the_test_pki_lets_anyone_sign_for_every_client():
    """Why a real run must not use it: the server derives client 2's signing key from the public
    job alone and signs a substitute advertisement (keys of its own) that client 1 accepts."""
    job = Job(parties=(1, 2, 3, 4), input_parties=(1, 2, 3, 4), options={"identities": "simulated"})
    stolen = simulated_credentials(job, 2).signing_key  # computed by the server: nothing secret in it
    known = load_identities(simulated_credentials(job, 1).identities)
    c_pk, s_pk, round_id = b"\x01" * 32, b"\x02" * 32, b"r" * 32
    vk = crypto.verifying_bytes(stolen)
    sig = crypto.sign(stolen, crypto.advertisement_message(round_id, 2, 4, c_pk, s_pk))
    assert advert_signed(known, round_id, 2, 4, (c_pk, s_pk, vk, sig), memo=False)


def test_a_real_run_with_the_test_pki_is_refused_before_it_starts():
    with pytest.raises(ConfigError, match="'simulated' derives every signing key from the public job"):
        validate(_scenario("simulated"), real=True, identities=True)
    validate(_scenario("simulated"), real=False)  # --sim: what it is for


def test_a_pki_run_never_falls_back_to_no_identities():
    """The registry's spec (not bound to keys) given a "pki" job refuses to run rather than run
    unsigned; validation refuses a real pki run without keys."""

    class Ctx:
        party_id, instance, session = 1, "secagg#1", b"s"

    job = Job(parties=(1, 2, 3, 4), input_parties=(1, 2, 3, 4), options={"variant": "secagg", "identities": "pki"})
    with pytest.raises(ConfigError, match="needs this party's keys"):
        asyncio.run(run(Ctx(), job, np.arange(4)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="long-term identities"):
        validate(_scenario("pki"), real=True, identities=False)
