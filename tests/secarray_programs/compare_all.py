"""Test program: every input party's vector; outputs [sum, max, argmax, count of x1 < x2] per position."""

import numpy as np


async def main(session, my_input):
    from protocols.secarray import stack

    inputs = await session.inputs(my_input)
    m = stack([inputs[p] for p in sorted(inputs)])  # (parties, length)
    total, top, who = m.sum(axis=0), m.max(axis=0), m.argmax(axis=0)
    less = (m[0] < m[1]).sum()
    t, mx, w, c = await session.reveal(total, top, who, less)
    return np.concatenate([t, mx, w, [c]])


def reference(inputs, options):
    m = np.stack([np.asarray(inputs[p]) for p in sorted(inputs)])
    return np.concatenate([m.sum(0), m.max(0), m.argmax(0), [int(np.sum(m[0] < m[1]))]])
