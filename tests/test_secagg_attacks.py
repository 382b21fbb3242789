"""Attacks on secure aggregation written from the attacker's side: a malicious server (with
colluding clients where stated) tries to recover one honest client's input. Each attack runs with
the settings most favourable to the attacker that a scenario can choose, and the attacker's own
recovery code decides whether it won. A control run shows the same code does recover the input
where the defence is absent (no identities, or a threshold the configuration now refuses), so
the tests cannot pass by an attack that never worked.

On main before these defences (cbafd73), both attacks won with identities configured: c_pk/s_pk
were unsigned (the key swap), and any threshold in 1..holders was accepted (the split view).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpc.errors import ConfigError, ProtocolError
from mpc.rng import Csprng
from protocols.secagg import Kind, Params, SecAggServer, commit, crypto, masks
from protocols.secagg.inprocess import RoundTrace, run_round
from protocols.secagg.params import min_threshold, neighbourhoods

pytestmark = pytest.mark.timeout(60)
VICTIM = 1


def _inputs(clients: tuple[int, ...], dim: int = 32) -> dict[int, np.ndarray]:
    gen = np.random.default_rng(9)
    return {u: gen.integers(-10**6, 10**6, dim) for u in clients}


def _pki(clients: tuple[int, ...]) -> tuple[dict[int, Any], dict[int, Any]]:
    keys = {u: Ed25519PrivateKey.generate() for u in clients}
    return keys, {u: k.public_key() for u, k in keys.items()}


def _unmask(trace: RoundTrace, sk: bytes, b: bytes, peers: list[int]) -> np.ndarray | None:
    """The victim's input from its masked input and both of its secrets."""
    ys = [m["y"] for m in trace.sent[VICTIM] if m["kind"] == "masked_input"]
    if not ys:
        return None
    y = ys[0].copy()
    masks.add_mask(y, b, -1)
    sid = trace.clients[VICTIM].sid  # a hash of the key list the server itself handed out
    key = crypto.x25519_private(sk)
    for v in peers:
        seed = crypto.agree(key, trace.clients[VICTIM].keys[v][1], sid, crypto.INFO_MASK)
        masks.add_mask(y, seed, -masks.pairwise_sign(VICTIM, v))
    return masks.decode_sum(y, None)


# -- the key swap -----------------------------------------------------------------------------
class KeySwap:
    """Shows the victim the server's own c_pk/s_pk for every peer (keeping each peer's signature
    when it cannot forge one; re-signing with its own key when clients have no identities), then
    decrypts the victim's shares of b and s^SK and unmasks its input."""

    def __init__(self, params: Params, resign: bool) -> None:
        rng = Csprng()
        self.params, self.resign = params, resign
        self.fake = {v: (crypto.x25519_keypair(rng), crypto.x25519_keypair(rng)) for v in params.clients}
        self.signer = Ed25519PrivateKey.generate()
        self.sid = b""
        self.victim_c_pk = b""
        self.server = SecAggServer(params)  # the honest machine the attacker runs for everyone else

    def tamper(self, kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if u != VICTIM:
            return payload
        if kind is Kind.KEYS:
            p = {**payload, "c_pk": list(payload["c_pk"]), "s_pk": list(payload["s_pk"]),
                 "vk": list(payload["vk"]), "sig": list(payload["sig"])}
            for k, v in enumerate(p["ids"]):
                if v == VICTIM:
                    continue
                (_, c_pk), (_, s_pk) = self.fake[v]
                p["c_pk"][k], p["s_pk"][k] = c_pk, s_pk
                if self.resign:
                    p["vk"][k] = crypto.key_bytes(self.signer)
                    p["sig"][k] = crypto.sign(self.signer, crypto.advertisement_message(
                        self.params.round_id, v, p["dim"], c_pk, s_pk))
            self.victim_c_pk = payload["c_pk"][payload["ids"].index(VICTIM)]
            # a commitment to the victim's view: the victim's neighbourhood swapped, everyone else real
            # (the attacker knows every advertisement; absent clients keep absent leaves)
            leaves = {v: commit.leaf(v, p["dim"], (p["c_pk"][k], p["s_pk"][k], p["vk"][k], p["sig"][k]))
                      for k, v in enumerate(p["ids"])}
            for v in self.params.clients:
                a = self.server.keys.get(v)
                leaves.setdefault(v, commit.leaf(v, p["dim"], (a.c_pk, a.s_pk, a.vk, a.sig) if a else None))
            levels = commit.build([leaves[v] for v in self.params.clients])
            p["root"] = commit.root(levels)
            if len(p["proofs"]):
                p["proofs"] = commit.proofs(levels, [self.params.slot_of[v] for v in (*p["ids"], *p["absent"])])
            self.sid = crypto.session_id(self.params.round_id, p["root"], p["dim"])
            return p
        if kind is Kind.SHARES:  # the peers' real ciphertexts would not decrypt: forge them
            zeros = np.zeros(crypto.LIMBS, dtype=np.uint64)
            cts = []
            for v in payload["ids"]:
                key = crypto.agree(self.fake[v][0][0], self.victim_c_pk, self.sid, crypto.INFO_ENC)
                cts.append(crypto.encrypt_shares(key, self.sid, v, VICTIM, zeros, zeros))
            return {**payload, "cts": cts}
        return payload

    def recover(self, trace: RoundTrace) -> np.ndarray | None:
        shares = [m for m in trace.sent[VICTIM] if m["kind"] == "share_keys"]
        if not shares:
            return None  # the victim sent nothing derived from its secrets
        c_pk = trace.clients[VICTIM].c_pk
        pts, sk_sh, b_sh = [], [], []
        for v, ct in zip(shares[0]["ids"], shares[0]["cts"], strict=True):
            key = crypto.agree(self.fake[v][0][0], c_pk, self.sid, crypto.INFO_ENC)
            sk, b = crypto.decrypt_shares(key, self.sid, VICTIM, v, ct)
            pts.append(v)
            sk_sh.append(sk)
            b_sh.append(b)
        t = self.params.threshold
        sk = crypto.reconstruct_secret(pts[:t], np.stack(sk_sh[:t]))
        b = crypto.reconstruct_secret(pts[:t], np.stack(b_sh[:t]))
        return _unmask(trace, sk, b, sorted(trace.clients[VICTIM].u2 - {VICTIM}))


@pytest.mark.parametrize("variant", ["secagg", "secagg+"])
def test_key_swap_is_caught_before_the_victim_shares(variant: str) -> None:
    clients = tuple(range(1, 9))
    params = Params.make(clients, {"variant": variant, "degree": 4})
    keys, pki = _pki(clients)
    inputs = _inputs(clients)
    attacker = KeySwap(params, resign=False)  # identities: it cannot sign for the peers
    trace = run_round(params, inputs, tamper=attacker.tamper, server=attacker.server, signing_keys=keys,
                      identities=pki)
    err = trace.client_errors.get(VICTIM)
    assert isinstance(err, ProtocolError) and "not signed by their identities" in str(err)
    assert [m["kind"] for m in trace.sent[VICTIM]] == ["join", "advertise"]
    assert attacker.recover(trace) is None


def test_without_identities_the_key_swap_wins() -> None:
    """The control (and what README says is not defended without identities): the same attacker,
    free to sign the swapped keys itself, recovers the victim's input exactly."""
    clients = tuple(range(1, 9))
    params = Params.make(clients, {})
    inputs = _inputs(clients)
    attacker = KeySwap(params, resign=True)
    trace = run_round(params, inputs, tamper=attacker.tamper, server=attacker.server)
    got = attacker.recover(trace)
    assert got is not None and np.array_equal(got, inputs[VICTIM])


# -- the split view ---------------------------------------------------------------------------
def _without_victim(params: Params, bits: bytes) -> bytes:
    u3 = [v for v in commit.members(bits, params.clients) if v != VICTIM]
    return commit.bitmap(u3, params.slot_of, len(params.clients))


class TrustingServer(SecAggServer):
    """Collects every consistency signature, whatever survivor set it covers."""

    def _signature_ok(self, u: int, sig: bytes, message: bytes) -> bool:
        return True


def split_view(params: Params, keys: dict[int, Any], pki: dict[int, Any], inputs: dict[int, np.ndarray],
               alive_group: set[int], colluders: set[int]) -> np.ndarray | None:
    """Tell ``alive_group`` "the victim survived" (they reveal shares of b) and everyone else "the
    victim dropped" (they reveal shares of s^SK); colluders hand over both. Each group gets only
    its own signatures, so every honest client sees a consistent story."""
    seen: dict[str, Any] = {}

    def tamper(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is Kind.KEYS:  # the server knows the session id: a hash of what it hands out
            seen["sid"] = crypto.session_id(params.round_id, payload["root"], payload["dim"])
        if kind is Kind.SURVIVORS:
            seen["u3"] = payload["bits"]
            if u not in alive_group:
                return {**payload, "bits": _without_victim(params, payload["bits"])}
        if kind is Kind.UNMASK_REQUEST:
            group = alive_group if u in alive_group else set(params.clients) - alive_group
            u3 = seen["u3"] if u in alive_group else _without_victim(params, seen["u3"])
            message = crypto.consistency_message(seen["sid"], u3)
            keep = [(v, crypto.sign(keys[v], message) if v in colluders else g)  # colluders sign both stories
                    for v, g in zip(payload["ids"], payload["sigs"], strict=True) if v in group | colluders]
            return {**payload, "ids": [v for v, _ in keep], "sigs": [g for _, g in keep]}
        return payload

    trace = run_round(params, inputs, tamper=tamper, server=TrustingServer(params), signing_keys=keys, identities=pki)
    got: dict[str, dict[int, np.ndarray]] = {"b": {}, "sk": {}}
    for u in params.clients:
        for m in trace.sent[u]:
            if m["kind"] == "unmask":
                for name in ("b", "sk"):
                    for k, v in enumerate(m[f"{name}_ids"]):
                        if v == VICTIM:
                            got[name][u] = m[name][k]
    for u in colluders:  # colluding clients give the server everything they hold
        if VICTIM in trace.clients[u]._held:
            sk_share, b_share = trace.clients[u]._held[VICTIM]
            got["sk"][u], got["b"][u] = sk_share, b_share
    t = params.threshold
    if len(got["b"]) < t or len(got["sk"]) < t:
        return None
    secrets = {}
    for name in ("b", "sk"):
        pts = sorted(got[name])[:t]
        secrets[name] = crypto.reconstruct_secret(pts, np.stack([got[name][p] for p in pts]))
    return _unmask(trace, secrets["sk"], secrets["b"], sorted(trace.clients[VICTIM].u2 - {VICTIM}))


def _weakened(params: Params, threshold: int) -> Params:
    """A Params with a threshold the configuration refuses (what main accepted)."""
    object.__setattr__(params, "threshold", threshold)
    return params


@pytest.mark.parametrize("colluding", [0, 2])
def test_split_view_never_yields_both_secrets(colluding: int) -> None:
    clients = tuple(range(1, 11))
    gamma = colluding / len(clients)
    params = Params.make(clients, {"corrupt_fraction": gamma})  # the lowest threshold accepted
    assert params.corrupt == colluding and params.threshold == min_threshold(10, colluding)
    keys, pki = _pki(clients)
    inputs = _inputs(clients)
    colluders = set(clients[-colluding:]) if colluding else set()
    for a in range(1, 10):  # every split of the holders into "survived" and "dropped"
        alive = set(clients[:a]) | {VICTIM}
        assert split_view(params, keys, pki, inputs, alive, colluders) is None, a


@pytest.mark.parametrize(("colluding", "threshold", "split"), [(0, 4, 5), (2, 6, 4)])
def test_split_view_wins_below_the_bound(colluding: int, threshold: int, split: int) -> None:
    """The control: the same attacker against a threshold below the bound (4 of 10 is a top-level
    t = 3, which main accepted; 6 of 10 is not enough with 2 colluders) recovers the input exactly."""
    clients = tuple(range(1, 11))
    with pytest.raises(ConfigError, match="2t > holders"):
        Params.make(clients, {"corrupt_fraction": colluding / 10}, degree_threshold=threshold - 1)
    params = _weakened(Params.make(clients, {"corrupt_fraction": 0.0}), threshold)
    keys, pki = _pki(clients)
    inputs = _inputs(clients)
    colluders = set(clients[-colluding:]) if colluding else set()
    got = split_view(params, keys, pki, inputs, set(clients[:split]), colluders)
    assert got is not None and np.array_equal(got, inputs[VICTIM])


@pytest.mark.parametrize(("n", "options"), [
    (10, {"threshold": 5}),  # exactly half the holders
    (10, {"threshold": 1}),  # degree 0: the shares are the secret
    (10, {"threshold": 6, "corrupt_fraction": 0.2}),  # 2 colluders need 2t > 12
    (1000, {"variant": "secagg+", "degree": 20, "threshold": 11, "corrupt_fraction": 1 / 3}),  # issue's example
])
def test_weak_thresholds_are_refused(n: int, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        Params.make(tuple(range(1, n + 1)), options)


# -- steering the SecAgg+ graph -----------------------------------------------------------------
def test_dropping_clients_does_not_re_roll_the_graph() -> None:
    """The server "drops" different clients at join/advertise hoping for a graph that puts the
    victim next to its colluders; the victim's neighbourhood is the same in every attempt."""
    clients = tuple(range(1, 41))
    params = Params.make(clients, {"variant": "secagg+", "degree": 8, "corrupt_fraction": 0.0})
    inputs = _inputs(clients, dim=4)
    seen = set()
    for attempt in range(6):
        drops = {2 + attempt: "join", 20 + attempt: "advertise"}
        trace = run_round(params, inputs, drop_after=drops)
        assert trace.server_error is None
        seen.add(trace.clients[VICTIM].neighbours)
        assert trace.server.graph[VICTIM] == trace.clients[VICTIM].neighbours
    assert seen == {neighbourhoods(params, only=VICTIM)[VICTIM]}
    other = Params.make(clients, {"variant": "secagg+", "degree": 8, "corrupt_fraction": 0.0, "graph_seed": "ab" * 32})
    assert neighbourhoods(other, only=VICTIM) != neighbourhoods(params, only=VICTIM)


# -- range ----------------------------------------------------------------------------------------
def test_int64_min_has_no_headroom() -> None:
    with pytest.raises(ConfigError):
        masks.encode_input(np.array([np.iinfo(np.int64).min, 0], dtype=np.int64), 3, None)


# -- identities from `mpc keygen` ------------------------------------------------------------------
def test_keygen_identities_drive_a_round_and_stop_the_key_swap(tmp_path: Any) -> None:
    """The app layer's wiring: each client's signing key from mpc.identity.load_identity and every
    client's certified verification key from mpc.identity.signing_keys."""
    from mpc import identity

    clients = tuple(range(1, 7))
    identity.generate(tmp_path, clients)
    keys = {u: identity.load_identity(tmp_path, u).signing_key for u in clients}
    pki = identity.signing_keys(tmp_path, clients)
    params = Params.make(clients, {})
    inputs = _inputs(clients)
    trace = run_round(params, inputs, signing_keys=keys, identities=pki, drop_after={4: "share_keys"})
    used = trace.server.used()
    assert trace.server_error is None and used == (1, 2, 3, 5, 6)
    assert np.array_equal(trace.output, np.sum([inputs[u] for u in used], axis=0))
    attacker = KeySwap(params, resign=True)  # signs with a key of its own: not a certified one
    trace = run_round(params, inputs, tamper=attacker.tamper, server=attacker.server, signing_keys=keys,
                      identities=pki)
    assert isinstance(trace.client_errors.get(VICTIM), ProtocolError)
    assert attacker.recover(trace) is None


def test_a_client_whose_key_is_not_its_identity_is_refused() -> None:
    clients = (1, 2, 3)
    keys, pki = _pki(clients)
    with pytest.raises(ConfigError, match="does not match"):
        run_round(Params.make(clients, {}), _inputs(clients), signing_keys={1: keys[2], 2: keys[2], 3: keys[3]},
                  identities=pki)
