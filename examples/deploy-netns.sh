#!/usr/bin/env bash
# A 3-host deployment on one machine: network namespaces on a bridge, mutual TLS, `mpc node`.
#
#   sudo examples/deploy-netns.sh [WORKDIR]      (root and `ip netns` needed; exits 77 without them)
#
# Hosts 10.77.0.1..3 (namespaces <prefix>1..3); every party's base port is 9100, so party i
# listens for peer j > i on 10.77.0.i:(9100 + j): open TCP 9102-9103 on host 1 and 9103 on host 2
# in a firewall (host 3 only dials). Each host sees only its own input file and the public job,
# which names its input parties. The script checks that every party opened the same sum as the
# plaintext, prints it, and removes the namespaces and the bridge on exit.
set -euo pipefail

PY=${PYTHON:-python3}
PREFIX=${MPC_NETNS_PREFIX:-mpcn$$}   # short: interface names are at most 15 characters
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
    echo "deploy-netns: needs root and ip netns; skipped" >&2
    exit 77
fi

cleanup() {
    for i in 1 2 3; do ip netns del "${PREFIX}$i" 2>/dev/null || true; done
    ip link del "${PREFIX}b" 2>/dev/null || true
}
trap cleanup EXIT

ip link add "${PREFIX}b" type bridge
ip link set "${PREFIX}b" up
for i in 1 2 3; do
    ip netns add "${PREFIX}$i"
    ip link add "${PREFIX}v$i" type veth peer name eth0 netns "${PREFIX}$i"
    ip link set "${PREFIX}v$i" master "${PREFIX}b" up
    ip -n "${PREFIX}$i" addr add "10.77.0.$i/24" dev eth0
    ip -n "${PREFIX}$i" link set eth0 up
    ip -n "${PREFIX}$i" link set lo up
done

"$PY" -m mpc keygen --parties 3 --out "$WORK/keys" >/dev/null   # CA + party-<id>.pem (mode 0600)

cat > "$WORK/job.toml" <<JOB
name = "netns-sum"
protocol = "sum"
parties = 3
input_parties = [1, 2, 3]    # public: every host names the same set
JOB
echo '[5, -1, 1000000]' > "$WORK/in1.json"
echo '[7, 0, 2]'        > "$WORK/in2.json"
echo '[1, 1, -3]'       > "$WORK/in3.json"
for i in 1 2 3; do
    cat > "$WORK/party$i.toml" <<CFG
party = $i
session = "netns-demo"
tls_dir = "keys"
[peers]
1 = "tls+tcp://10.77.0.1:9100"
2 = "tls+tcp://10.77.0.2:9100"
3 = "tls+tcp://10.77.0.3:9100"
[[jobs]]
scenario = "job.toml"
input = "in$i.json"
CFG
done

pids=()
for i in 1 2 3; do
    ip netns exec "${PREFIX}$i" "$PY" -m mpc node --config "$WORK/party$i.toml" --json "$WORK/out$i.json" \
        > "$WORK/party$i.log" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
cat "$WORK"/party?.log
[ "$status" = 0 ] || { echo "deploy-netns: a party failed" >&2; exit 1; }

"$PY" - "$WORK" <<'CHECK'
import json, sys
work = sys.argv[1]
want = [5 + 7 + 1, -1 + 0 + 1, 1000000 + 2 - 3]
outs = [json.load(open(f"{work}/out{i}.json"))["output"] for i in (1, 2, 3)]
assert outs == [want] * 3, outs
print("deploy-netns: every host opened", want)
CHECK
