#!/usr/bin/env bash
# How culex scales with worker threads, against Mosquitto and the platform floor, on one machine:
# the device-pattern fan-in scenarios and the connections scenario at each worker count, each run
# in its own results folder, then one table (native-bench/scale-table.ts).
#   native-bench/scale.sh [WORKER COUNTS…]          default: 1 2 4 8 14 (counts above the cores are skipped)
# Environment: ROUNDS (3), GEN_PROCS (generator processes per run: about one per 4 cores, at least 1),
#   SCENARIOS (fan-in-qos0,fan-in-qos1,conns), CONNS (idle connections for conns: 15000).
# The generator runs on the same machine: on a machine with many cores give it several processes
# (GEN_PROCS), each its own fan-in group from its own loopback source addresses.
set -euo pipefail
node=node_modules/.bin/node   # the pinned Node 24 (npm ci)
cd "$(dirname "$0")/.."
cores=$(nproc)
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1 2 4 8 14)
rounds=${ROUNDS:-3}
gen=${GEN_PROCS:-$(( cores / 4 > 1 ? cores / 4 : 1 ))}
scenarios=${SCENARIOS:-fan-in-qos0,fan-in-qos1,conns}
out=native-bench/results/scale-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out"
# Mosquitto is single-threaded: once
"$node" native-bench/run.ts --scenario "$scenarios" --brokers mosquitto --rounds "$rounds" --gen-procs "$gen" \
  --conns "${CONNS:-15000}" --out "$out/mosquitto" > "$out/mosquitto.md"
for w in "${counts[@]}"; do
  if [ "$w" -gt "$cores" ]; then echo "scale: skipping $w workers (only $cores cores)" >&2; continue; fi
  "$node" native-bench/run.ts --scenario "$scenarios" --brokers culex,floor --workers "$w" --rounds "$rounds" \
    --gen-procs "$gen" --conns "${CONNS:-15000}" --out "$out/w$w" > "$out/w$w.md"
done
"$node" native-bench/scale-table.ts "$out"
