#!/bin/bash
# Bytes a culex worker allocates per connection (conns) or per message (fan-in), by function.
#   [ALLOC_WORKERS=N] native-bench/profile/alloc.sh conns|conns-held|fan-in-qos0|fan-in-qos1 [OUTDIR]
# conns-held: what 5000 idle connections keep alive (memory per connection), not what they churn.
# ALLOC_WORKERS workers (1), each profiled (per unit = per connection or message it handled, about
# units / workers); loopback port 18830, mqbench from native-bench/bin; the profile covers the whole
# load (connects, messages, disconnects) and nothing before it.
set -euo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:?conns|fan-in-qos0|fan-in-qos1}; out=${2:-/tmp/culex-alloc}
mkdir -p "$out"; rm -rf "$out"/start "$out"/stop "$out"/started-* "$out"/t*.heapprofile "$out/data"
cat > "$out/culex.conf" <<CONF
listener 18830 127.0.0.1
allow_anonymous true
persistence true
persistence_location $out/data/
log_dest stderr
log_type error
connection_messages false
workers ${ALLOC_WORKERS:-1}
CONF
[ "$scenario" = conns-held ] && export ALLOC_LIVE=1
ALLOC_OUT=$out node_modules/.bin/node --import ./native-bench/profile/allocSampler.mjs src/cli/main.ts -c "$out/culex.conf" 2>"$out/broker.err" &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
until grep -q listening "$out/broker.err" 2>/dev/null; do sleep 0.2; done
touch "$out/start"; until ls "$out"/started-* >/dev/null 2>&1; do sleep 0.1; done
case $scenario in
  conns) units=5000; native-bench/bin/mqbench --scenario conns --port 18830 --conns $units --duration 2 --progress 0 >"$out/gen.json" ;;
  conns-held) units=5000; native-bench/bin/mqbench --scenario conns --port 18830 --conns $units --duration 8 --progress 0 >"$out/gen.json" &
      gen=$!; sleep 6; touch "$out/stop"; wait $gen ;;
  fan-in-qos0|fan-in-qos1) units=100000; native-bench/bin/mqbench --scenario fan-in --port 18830 --pubs 250 --subs 1 --qos "${scenario: -1}" \
      --window 1 --count 400 --warmup 0 --duration 120 --drain 2 --progress 0 >"$out/gen.json" ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
workers=${ALLOC_WORKERS:-1}
touch "$out/stop"; until [ "$(ls "$out"/t*.heapprofile 2>/dev/null | wc -l)" -ge "$workers" ]; do sleep 0.2; done; sleep 0.5
for f in "$out"/t*.heapprofile; do
  echo "== $(basename "$f")"
  node_modules/.bin/node native-bench/profile/allocSummary.ts "$f" $((units / workers))
done
