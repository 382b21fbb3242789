#!/bin/bash
# usage: run.sh NAME args...   -> docs/bench-results/NAME.json, docs/bench-results/NAME.log (load average before/after, wall time)
cd "$(dirname "$0")/../.."  # the repository root
name=$1; shift
{ echo "# $(date -u +%FT%TZ) before: $(uptime)"; echo "# cmd: mpc bench $* --json docs/bench-results/$name.json"; } > docs/bench-results/$name.log
start=$(date +%s)
python -m mpc.app.cli bench "$@" --json docs/bench-results/$name.json >> docs/bench-results/$name.log 2>&1
rc=$?
echo "# rc=$rc wall=$(( $(date +%s) - start ))s after: $(uptime)" >> docs/bench-results/$name.log
