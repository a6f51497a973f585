#!/bin/bash
# Where the smart-city latency tail comes from, seen by the kernel's scheduler: every time the
# broker's message thread was taken off its core while it had work (preempted), how long it
# waited, and which threads ran on that core meanwhile. Linux, root, and perf (Debian's linux-perf).
#   [WARMUP=S] native-bench/profile/sched.sh [culex|mosquitto|floor] [WORKERS] [ENTRY]
# The load is the suite's smart-city scenario (10,000 publishers, 5,000 msg/s in all, QoS 1, one
# message per packet, 1 subscriber), measured for 10 s after WARMUP s: 2 by default, a broker's
# first seconds, while V8 still compiles its hot path; 20 is what the suite's smart-city measures,
# once it has. `perf sched record` covers 4 s of the measured part. ENTRY (src/cli/main.ts): culex's entry point, another checkout's to
# compare. Loopback port 18832.
# Prints mqbench's latency percentiles, then native-bench/profile/schedSummary.ts's report.
set -euo pipefail
cd "$(dirname "$0")/../.."
broker=${1:-culex}; workers=${2:-1}; entry=${3:-src/cli/main.ts}; port=18832; warmup=${WARMUP:-2}
command -v perf >/dev/null || { echo "sched.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
out=$(mktemp -d /tmp/culex-sched-XXXXXX)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nmax_queued_messages 100000\n' $port > "$out/broker.conf"
case $broker in
  culex) printf 'connection_messages false\nworkers %s\n' "$workers" >> "$out/broker.conf"
    node_modules/.bin/node "$entry" -c "$out/broker.conf" 2>"$out/broker.err" & threads=WorkerThread ;;
  floor) printf 'workers %s\n' "$workers" >> "$out/broker.conf"
    node_modules/.bin/node native-bench/floor.ts -c "$out/broker.conf" 2>"$out/broker.err" & threads=WorkerThread ;;
  mosquitto) mosquitto -c "$out/broker.conf" 2>"$out/broker.err" & threads=mosquitto ;;
  *) echo "sched.sh: unknown broker $broker" >&2; exit 2 ;;
esac
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out"' EXIT
until ss -ltn | grep -q ":$port "; do sleep 0.2; done
sleep 1
native-bench/bin/mqbench --scenario fan-in --port $port --pubs 10000 --subs 1 --qos 1 --rate 5000 --window 1 \
  --warmup $warmup --duration 10 --drain 5 --progress 0 --broker-pid $pid >"$out/gen.json" &
gen=$!
sleep $((warmup + 4))
perf sched record -a -o "$out/sched.data" -- sleep 4 >/dev/null 2>&1
wait $gen
node_modules/.bin/node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1])); const l = r.latency_us;
  console.log(`${process.argv[2]}, ${process.argv[3]} worker(s): latency p50 ${l.p50} us, p99 ${l.p99} us, p99.9 ${l.p999} us; broker CPU ${r.broker.cpu_pct}%`)' \
  "$out/gen.json" "$broker" "$workers"
perf sched timehist -i "$out/sched.data" --state 2>/dev/null >"$out/timehist.txt"
node_modules/.bin/node native-bench/profile/schedSummary.ts "$out/timehist.txt" "$threads" "$pid"
