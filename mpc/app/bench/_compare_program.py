"""The secure-array program the ``compare`` bench suite runs (``protocol = "program"``).

``options.task``: ``lt`` (parties 1 and 2 input N-vectors; [x < y] is opened) or ``argmax``
(party 1 inputs an N-vector; the index of its maximum is opened). The program times its own
phases on the loop clock: inputs, preprocessing (the dealer's one round trip), the online rounds.
"""

import numpy as np


async def main(session, my_input):
    now = session.ctx.now
    task = session.options.get("task", "lt")
    inputs = await session.inputs(my_input)
    await session.run(*inputs.values())
    r0, b0 = session.rounds, session.stats()["bytes_sent"]
    z = inputs[1] < inputs[2] if task == "lt" else inputs[1].argmax()
    t = now()
    await session.prepare(z)
    t_pre = now()
    b1 = session.stats()["bytes_sent"]
    out = await z.reveal()
    t_end = now()
    session.meta.update({"offline_s": t_pre - t, "online_s": t_end - t_pre, "op_rounds": session.rounds - r0 - 1,
                         "online_bytes_sent": session.stats()["bytes_sent"] - b1,
                         "offline_request_bytes_sent": b1 - b0})
    return np.atleast_1d(out).astype(np.int64)


def reference(inputs, options):
    if options.get("task") == "lt":
        return (np.asarray(inputs[1]) < np.asarray(inputs[2])).astype(np.int64)
    return np.atleast_1d(np.argmax(np.asarray(inputs[1])))
