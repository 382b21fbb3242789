"""``mpc node --config party.toml``: one party of a multi-host deployment.

```toml
party = 1
scenario = "scenarios/sum-3.toml"   # protocol, parameters and (this party's) inputs
session = "payroll-2026-11"         # any string all parties agree on; binds every message
tls_dir = "keys"                    # optional: from `mpc keygen` (ca.pem, party-<id>.pem)
transport = "nng"                   # optional: nng (default) | tcp (default: the scenario's)
[peers]                             # every node's base address; pair sockets use base port + peer id
1 = "tcp://10.0.0.1:9100"
2 = "tcp://10.0.0.2:9100"
3 = "tcp://10.0.0.3:9100"
```
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np

from mpc.errors import ConfigError
from mpc.app.runner import check, node_ids, run_party, summarize
from mpc.app.scenario import load
from mpc.transport.tcp import new_transport


def session_id(text: str) -> bytes:
    return hashlib.sha256(b"mpc-session\0" + text.encode()).digest()[:16]


def run_node(config_path: str, json_path: str | None = None) -> int:
    path = Path(config_path)
    try:
        cfg = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"node config not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for key in ("party", "scenario", "session", "peers"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing {key!r}")
    pid = cfg["party"]
    scn = load((path.parent / cfg["scenario"]) if not Path(cfg["scenario"]).is_absolute() else cfg["scenario"])
    try:
        peers = {int(k): str(v) for k, v in cfg["peers"].items()}
    except (AttributeError, ValueError):
        raise ConfigError(f"{path}: [peers] maps party ids to addresses") from None
    ids = node_ids(scn)
    if set(peers) != set(ids):
        raise ConfigError(f"{path}: [peers] must list exactly the parties {list(ids)}, got {sorted(peers)}")
    creds = None
    if cfg.get("tls_dir"):
        from mpc.identity import load_creds

        creds = load_creds(path.parent / cfg["tls_dir"], pid)
    transport = new_transport(str(cfg.get("transport", scn.transport)), pid, peers, tls=creds)

    def crash() -> None:
        raise SystemExit(75)

    from mpc.app.launch import run_event_loop

    outcome = run_event_loop(run_party(scn, pid, transport, session=session_id(str(cfg["session"])),
                                       on_crash=crash, parties=ids))
    if outcome.status == "ok" and outcome.result is not None and outcome.result.output is not None:
        print(f"party {pid}: {summarize(outcome.result.output)}")
    else:
        print(f"party {pid}: {outcome.status}" + (f": {outcome.error}: {outcome.message}" if outcome.error else ""))
    has_expect = scn.expect.output is not None or scn.expect.error is not None
    reason = check(scn, {pid: outcome}) if has_expect else (outcome.message or None if outcome.status != "ok" else None)
    if reason:
        print(f"  mismatch: {reason}")
    if json_path:
        out = outcome.result.output if outcome.result is not None else None
        Path(json_path).write_text(json.dumps({
            "party": pid, "ok": reason is None, "status": outcome.status, "error": outcome.error,
            "output": None if out is None else np.asarray(out).tolist(), "protocol_s": outcome.protocol_s,
            **dict(outcome.stats),
        }))
    return 0 if reason is None else 1


__all__ = ["run_node", "session_id"]
