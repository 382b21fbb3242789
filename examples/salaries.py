"""Median and top-k of salaries held by several parties (nobody sees another's list).

Every input party holds a vector of salaries. The parties sort all of them with a sorting
network on shared values and reveal only the median and the k largest (options.k, default 3).

    mpc run --sim examples/salaries.toml
"""

import numpy as np


async def main(session, my_input):
    from protocols.secarray import concatenate

    k = 3
    inputs = await session.inputs(my_input)
    everyone = concatenate([inputs[p] for p in sorted(inputs)])
    ranked = everyone.sort()
    n = everyone.size
    lo, hi = (n - 1) // 2, n // 2
    median2 = ranked[lo] + ranked[hi]  # the median's double: stays an integer
    top = ranked[n - k :]
    m2, best = await session.reveal(median2, top)
    return np.concatenate([[m2 / 2], best[::-1]])


def reference(inputs, options):
    data = np.sort(np.concatenate([np.asarray(inputs[p]) for p in sorted(inputs)]))
    return np.concatenate([[np.median(data)], data[::-1][:3]])
