"""README's named-computation snippet, as written there: a dot product named per request and
carrying its public job descriptor, run by three parties over netsim."""

from __future__ import annotations

import numpy as np
import pytest

from harness import run_parties
from mpc import JobDescriptor, JobMismatch
from protocols import secure_dot

pytestmark = pytest.mark.timeout(30)
VECTORS = {1: np.array([1, -2, 3]), 2: np.array([4, 5, -6])}


def _job(threshold: int) -> JobDescriptor:
    return JobDescriptor(protocol="dot", parties=(1, 2, 3), input_parties=(1, 2), sharing="shamir",
                         threshold=threshold, shapes={1: (3,), 2: (3,)})


async def test_the_readme_job_snippet_opens_the_dot_product_at_every_party() -> None:
    async def body(node):  # the README's line, with node, my_vector and request_id in scope
        my_vector, request_id = VECTORS.get(node.party_id), 7
        return await node.run(secure_dot, my_vector, input_parties=(1, 2), threshold=1,
                              name=f"request-{request_id}", job=_job(1))

    res = await run_parties(3, body)
    want = int(VECTORS[1] @ VECTORS[2])
    assert all(int(r) == want for r in res.values()), res


async def test_a_party_with_another_threshold_is_refused_naming_the_field() -> None:
    async def body(node):
        job = _job(2 if node.party_id == 3 else 1)
        return await node.run(secure_dot, VECTORS.get(node.party_id), input_parties=(1, 2), threshold=1,
                              name="request-8", job=job)

    res = await run_parties(3, body)
    assert all(isinstance(r, JobMismatch) and "threshold" in str(r) for r in res.values()), res
