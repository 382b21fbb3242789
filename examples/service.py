"""An MPC service: one long-lived node per party, computing on requests that arrive in any order.

Each party runs this service next to its own data. A client sends the same computation (an id
and an operation) to every party, each with that party's private vector; the parties' nodes
compute it together and each answers its client with the opened result. Requests are matched
across parties by their id (a *named computation*), so they may reach the parties in different
orders, and several may run at once.

HTTP: ``POST /compute`` with JSON ``{"id": "req-1", "op": "sum" | "dot", "values": [..]}`` answers
``{"id": "req-1", "result": ...}`` (or ``{"id", "error"}`` with status 400/500). It is served by
aiohttp when it is installed (``pip install 'mpc-runtime[examples]'``), else by a small HTTP/1.1
handler on asyncio streams (one request per connection).

    python examples/service.py --party 1 --base-ports 9100,9200,9300 --http 8001 &
    python examples/service.py --party 2 --base-ports 9100,9200,9300 --http 8002 &
    python examples/service.py --party 3 --base-ports 9100,9200,9300 --http 8003 &
    curl -d '{"id": "a", "op": "sum", "values": [1, 2]}' localhost:8001/compute   # and 8002, 8003

Port rule (static deployments): party i listens for peer j (j > i) on base port of i + j, so
party 1 with base 9100 opens 9102 and 9103; party 2 with base 9200 opens 9203.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc import Node
from mpc.errors import MpcError
from protocols import secure_sum

Handler = Callable[[dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


async def _dot(ctx: Any, x: Any, *, input_parties: tuple[int, ...]) -> Any:
    from protocols import secure_dot  # the public API's dot product (a scalar)

    return await secure_dot(ctx, x, input_parties=input_parties)


class MpcService:
    """Holds this party's node for as long as the service runs; computes one request per call."""

    def __init__(self, party: int, addresses: dict[int, str], session: str, timeout: float = 10.0) -> None:
        self.party = party
        self.parties = tuple(sorted(addresses))
        self.node = Node(party, peers=addresses, session=session, timeout=timeout)

    async def __aenter__(self) -> MpcService:
        await self.node.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.node.__aexit__(*exc)  # type: ignore[arg-type]

    async def compute(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rid, op, values = request.get("id"), request.get("op"), request.get("values")
        if not isinstance(rid, str) or op not in ("sum", "dot") or not isinstance(values, list):
            return 400, {"id": rid, "error": "need id (string), op (sum | dot) and values (list)"}
        x = np.asarray(values, dtype=np.int64)
        try:
            if op == "sum":
                out = await self.node.run(secure_sum, x, name=rid)
            else:
                out = await self.node.run(_dot, x, input_parties=self.parties, name=rid)
        except MpcError as exc:
            return 500, {"id": rid, "error": f"{type(exc).__name__}: {exc}"}
        return 200, {"id": rid, "result": np.asarray(out).tolist()}


# -- HTTP ---------------------------------------------------------------------------------------
async def serve_http(handler: Handler, host: str, port: int) -> Callable[[], Awaitable[None]]:
    """Serve ``POST /compute``; returns a coroutine function that stops the server."""
    try:
        from aiohttp import web
    except ImportError:
        return await _serve_streams(handler, host, port)

    async def compute(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        status, answer = await handler(body)
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_post("/compute", compute)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner.cleanup


async def _serve_streams(handler: Handler, host: str, port: int) -> Callable[[], Awaitable[None]]:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(60):
                request_line = (await reader.readline()).decode().split()
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = line.decode().partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(min(int(headers.get("content-length", "0")), 1 << 20))
            if request_line[:2] != ["POST", "/compute"]:
                status, answer = 404, {"error": "POST /compute"}
            else:
                try:
                    status, answer = await handler(json.loads(body))
                except ValueError:
                    status, answer = 400, {"error": "body is not JSON"}
            data = json.dumps(answer).encode()
            writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json"
                         f"\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, host, port)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return stop


async def post(port: int, body: dict[str, Any], host: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    """A minimal client for ``POST /compute`` (what curl would do)."""
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode()
    writer.write(f"POST /compute HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def addresses(bases: list[int], host: str = "127.0.0.1") -> dict[int, str]:
    return {p: f"tcp://{host}:{b}" for p, b in enumerate(bases, start=1)}


async def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--party", type=int, required=True)
    ap.add_argument("--base-ports", required=True, help="every party's base port, e.g. 9100,9200,9300")
    ap.add_argument("--http", type=int, required=True, help="this party's HTTP port")
    ap.add_argument("--session", default="example-service")
    args = ap.parse_args(argv)
    async with MpcService(args.party, addresses([int(b) for b in args.base_ports.split(",")]), args.session) as svc:
        stop = await serve_http(svc.compute, "127.0.0.1", args.http)
        print(f"party {args.party}: serving POST http://127.0.0.1:{args.http}/compute", flush=True)
        try:
            await asyncio.Event().wait()  # until interrupted
        finally:
            await stop()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
