#!/bin/bash
# Broker CPU while it holds N idle connections (keep-alive 60 s, clean sessions, 1 worker): what
# timers and sweeps cost per idle connection, with no traffic at all.
#   native-bench/profile/idle.sh [N] [ENTRY]
# N (18000): connections, from one mqbench process per 16,000 on their own loopback source
# addresses; the broker process needs N + ~50 open files. ENTRY (src/cli/main.ts): the broker's
# entry point, another checkout's to compare. Loopback port 18831, mqbench from native-bench/bin;
# prints the broker's CPU over 15 s, measured from /proc once every connection is up.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-18000}; entry=${2:-src/cli/main.ts}; port=18831
out=$(mktemp -d /tmp/culex-idle-XXXXXX)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nconnection_messages false\nworkers 1\n' $port > "$out/idle.conf"
node_modules/.bin/node "$entry" -c "$out/idle.conf" 2>"$out/broker.err" &
broker=$!
trap 'kill $broker 2>/dev/null || true; rm -rf "$out"' EXIT
until ss -ltn | grep -q ":$port "; do sleep 0.2; done
procs=$(( (n + 15999) / 16000 )); gens=()
for ((k = 0; k < procs; k++)); do
  share=$(( n / procs + (k < n % procs ? 1 : 0) ))
  native-bench/bin/mqbench --scenario conns --port $port --conns $share --keepalive 60 --duration 45 --progress 0 \
    --id-base $((k * 100000)) --source-base $((2 + k * 4)) >"$out/gen$k.json" &
  gens+=($!)
done
for ((i = 0; i < 120; i++)); do [ "$(ss -tn state established "( sport = :$port )" | tail -n +2 | wc -l)" -ge "$n" ] && break; sleep 0.5; done
sleep 8
c0=$(awk '{print $14 + $15}' /proc/$broker/stat); sleep 15; c1=$(awk '{print $14 + $15}' /proc/$broker/stat)
held=$(ss -tn state established "( sport = :$port )" | tail -n +2 | wc -l)
echo "$held idle connections: broker CPU $(( (c1 - c0) * 1000 / $(getconf CLK_TCK) )) ms in 15 s"
wait "${gens[@]}"
