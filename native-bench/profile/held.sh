#!/bin/bash
# What one broker thread keeps in its heap per idle connection, by object kind (exact, from two
# heap snapshots: the worker idle, then holding N connections).
#   native-bench/profile/held.sh culex|floor [N] [OUTDIR]
# One worker (the floor: one thread), loopback port 18830, mqbench from native-bench/bin, N
# clean-session connections (5000) held while the snapshot is written.
set -euo pipefail
cd "$(dirname "$0")/../.."
who=${1:?culex|floor}; n=${2:-5000}; out=${3:-/tmp/culex-held}
mkdir -p "$out"; rm -f "$out"/take "$out"/taken-* "$out"/*.heapsnapshot
printf 'listener 18830 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nconnection_messages false\nset_tcp_nodelay true\nworkers 1\n' > "$out/held.conf"
case $who in
  culex) entry=src/cli/main.ts ;;
  floor) entry=native-bench/floor.ts ;;
  *) echo "culex or floor, not $who" >&2; exit 2 ;;
esac
broker=
trap '[ -n "$broker" ] && kill $broker 2>/dev/null || true' EXIT
# start the broker with HEAP_TAG=$1, wait for its port; snapshot() makes it write one and waits
start() {
  HEAP_OUT=$out HEAP_TAG=$1 node_modules/.bin/node --import ./native-bench/profile/heldSnapshot.mjs $entry -c "$out/held.conf" 2>"$out/broker.err" &
  broker=$!
  until ss -ltn | grep -q ':18830 '; do sleep 0.2; done
}
snapshot() { touch "$out/take"; until ls "$out"/taken-* >/dev/null 2>&1; do sleep 0.2; done; rm -f "$out"/take "$out"/taken-*; }
stop() { kill $broker; wait $broker 2>/dev/null || true; broker=; }
start idle; sleep 1; snapshot; stop
start held
native-bench/bin/mqbench --scenario conns --port 18830 --conns "$n" --duration 8 --warmup 0 --progress 0 --sources 4 >"$out/gen.json" &
gen=$!; sleep 4; snapshot; wait $gen; stop
node_modules/.bin/node native-bench/profile/heldSummary.ts "$out"/idle-t*.heapsnapshot "$out"/held-t*.heapsnapshot "$n"
