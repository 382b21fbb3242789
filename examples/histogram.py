"""A private histogram: how many values, over all parties, fall in each public bin.

Each value is compared with every bin edge at once (one comparison layer for the whole
(values × edges) matrix); a value's bin indicator is the difference of two neighbouring
"value ≥ edge" bits, summed locally. Only the counts are revealed.

    mpc run --sim examples/histogram.toml
"""

import numpy as np

EDGES = [0, 20, 40, 60, 80, 100]  # bins [0,20), [20,40), ..., [80,100)


async def main(session, my_input):
    from protocols.secarray import concatenate

    inputs = await session.inputs(my_input)
    values = concatenate([inputs[p] for p in sorted(inputs)])
    n, e = values.size, len(EDGES)
    grid = concatenate([values.reshape(n, 1)] * e, axis=1)  # (n, e): each value against each edge
    at_least = grid >= np.broadcast_to(np.asarray(EDGES), (n, e))
    in_bin = at_least[:, :-1] - at_least[:, 1:]
    return await in_bin.sum(axis=0).reveal()


def reference(inputs, options):
    values = np.concatenate([np.asarray(inputs[p]) for p in sorted(inputs)])
    counts, _ = np.histogram(values, bins=EDGES)
    inside = (values >= EDGES[0]) & (values < EDGES[-1])
    counts[-1] -= int(np.sum(values == EDGES[-1]))  # numpy's last bin is closed; ours is not
    assert counts.sum() == inside.sum()
    return counts
