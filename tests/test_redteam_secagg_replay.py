"""Red team: a malicious SecAgg server replays a client's signed advertisement from an earlier run.

Advertisements are signed over ``Params.round_id``. That id was derived from the public job and the
computation's instance name only, so two runs of the same scenario (each with a fresh session)
signed over the *same* round id: an advertisement (c_pk, s_pk, signature) recorded in run A
verified in run B. A server that learnt a dropped client's s_sk in run A (it reconstructs it to
remove that client's pairwise masks) could replay that client's old advertisement to the others
in run B and remove their pairwise masks with it. Fixed by binding the round id to the session.
"""

from __future__ import annotations

from typing import Any

import pytest

from mpc.app.runner import run_sim
from mpc.app.scenario import parse
from protocols.secagg import crypto
from protocols.secagg import client as secagg_client

pytestmark = pytest.mark.timeout(60)


def _scenario() -> Any:
    return parse({
        "name": "replay", "protocol": "secagg", "parties": 4, "seed": 3, "timeout_s": 10,
        "inputs": {"default": {"random": 8, "low": -100, "high": 100}},
        "options": {"variant": "secagg", "identities": "simulated"},
    })


def _record_run(monkeypatch: pytest.MonkeyPatch) -> dict[int, tuple[bytes, bytes, bytes]]:
    """Run the scenario once (fresh session); per client: (signed message, signature, round id)."""
    seen: dict[int, tuple[bytes, bytes, bytes]] = {}
    real_msg, real_sign = crypto.advertisement_message, crypto.sign
    last: dict[str, Any] = {}

    def msg(round_id: bytes, party: int, dim: int, c_pk: bytes, s_pk: bytes) -> bytes:
        out = real_msg(round_id, party, dim, c_pk, s_pk)
        last["m"] = (party, round_id, out)
        return out

    def sign(key: Any, message: bytes) -> bytes:
        sig = real_sign(key, message)
        if last.get("m") and last["m"][2] == message:
            party, round_id, _ = last["m"]
            seen[party] = (message, sig, round_id)
        return sig

    monkeypatch.setattr(crypto, "advertisement_message", msg)
    monkeypatch.setattr(crypto, "sign", sign)
    report = run_sim(_scenario())
    monkeypatch.setattr(crypto, "advertisement_message", real_msg)
    monkeypatch.setattr(crypto, "sign", real_sign)
    assert report.ok, report.reason
    return seen


def test_an_advertisement_signed_in_one_run_does_not_verify_in_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    run_a = _record_run(monkeypatch)
    run_b = _record_run(monkeypatch)
    assert set(run_a) == set(run_b) == {1, 2, 3, 4}
    victim = 1
    message_a, sig_a, round_a = run_a[victim]
    _, _, round_b = run_b[victim]
    # the server keeps run A's (message, signature); in run B the clients verify the advertisement
    # against run B's round id: the replay must fail
    from protocols.secagg.specs import simulated_credentials
    from protocols.spec import Job

    job = Job(parties=(1, 2, 3, 4), input_parties=(1, 2, 3, 4), options={"identities": "simulated"})
    vk = simulated_credentials(job, victim).identities[victim]
    assert crypto.verify(vk, sig_a, message_a)  # genuine in run A
    replayed_in_b = message_a.replace(round_a, round_b)  # same keys, run B's round id
    assert round_a != round_b, "both runs sign over the same round id: run A's advertisement replays into run B"
    assert not crypto.verify(vk, sig_a, replayed_in_b)
    assert secagg_client.advert_signed is not None
