"""The millionaires' problem for any number of parties: who holds the largest value?

Each input party holds one integer (its wealth). The parties learn only the id of the richest
(the first one on ties), through a secure argmax: ceil(log2 n) comparison layers.

    mpc run --sim examples/millionaires.toml
"""

import numpy as np


async def main(session, my_input):
    inputs = await session.inputs(my_input)  # one shared array per input party
    owners = sorted(inputs)
    from protocols.secarray import concatenate

    wealth = concatenate([inputs[p] for p in owners])
    index = await wealth.argmax().reveal()
    return np.asarray([owners[int(index)]])


def reference(inputs, options):
    owners = sorted(inputs)
    values = [int(np.asarray(inputs[p]).reshape(-1)[0]) for p in owners]
    return np.asarray([owners[int(np.argmax(values))]])
