import asyncio
import sys

import numpy as np

from mpc import Node
from protocols import secure_sum

BASE = 9100  # party i's base port is BASE + 100 * i
ADDRESSES = {i: f"tcp://127.0.0.1:{BASE + 100 * i}" for i in (1, 2, 3)}
# Port rule: party i listens for each peer j > i on its base port + j (the lower id listens,
# the higher id dials): party 1 opens 9202 and 9203, party 2 opens 9303, party 3 only dials.


async def party(i: int) -> None:
    async with Node(i, peers=ADDRESSES, session=b"payroll-2026-11", timeout=10) as node:
        total = await node.run(secure_sum, np.array([10 * i, -i]))
        print(f"party {i}: {total.tolist()}")  # the same opened sum at every party


async def main(ids: list[int]) -> None:
    await asyncio.gather(*(party(i) for i in ids))


if __name__ == "__main__":
    # python embed.py      -> all three parties in this process, in one event loop
    # python embed.py 2    -> party 2 only (start 1 and 3 elsewhere: one party per host)
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1, 2, 3]))
