#!/bin/bash
# usage: run.sh NAME args...   -> results/NAME.json, results/NAME.log (load average before/after, wall time)
cd /work/wt/bench
name=$1; shift
{ echo "# $(date -u +%FT%TZ) before: $(uptime)"; echo "# cmd: mpc bench $* --json results/$name.json"; } > results/$name.log
start=$(date +%s)
PYTHONPATH=$PWD /work/main/.venv/bin/python -m mpc.app.cli bench "$@" --json results/$name.json >> results/$name.log 2>&1
rc=$?
echo "# rc=$rc wall=$(( $(date +%s) - start ))s after: $(uptime)" >> results/$name.log
