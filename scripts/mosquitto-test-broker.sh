#!/bin/bash
# Mosquitto's own broker test suite (test/broker of a Mosquitto source tree, 2.0.11 for the
# README's claim) with culex in the place of src/mosquitto.
#   scripts/mosquitto-test-broker.sh MOSQUITTO_SOURCE_DIR [GROUP...]     (groups: 01 02 … 14; default 01-07)
# Needs python3. Each test runs from a copy of the suite in a temporary directory, 60 s at most;
# prints "GROUP RC TEST" per test (0 = passed), then the failures, and exits 1 if any failed.
# `mosquitto -p PORT` (no -c) becomes a file with `listener PORT` and `allow_anonymous true`:
# Mosquitto's built-in defaults (no persistence), not culex's own (which stores in ./data).
# CULEX_WORKERS=N adds `workers N` to those files. The suite uses ports 1888-1890 on localhost.
# called from: a developer's shell (not npm test: the Mosquitto sources are not part of culex)
set -euo pipefail
src=${1:?usage: $0 MOSQUITTO_SOURCE_DIR [GROUP...]}
shift
groups=("${@:-01 02 03 04 05 06 07}")
[ -f "$src/test/broker/Makefile" ] || { echo "$src/test/broker/Makefile: not a Mosquitto source tree" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/culex-mosquitto-suite-XXXXXX)
# the brokers this run started: those running in its copy of the suite
stop_brokers() {
  for p in $(pgrep -f "$repo/src/cli/main.ts" || true); do
    if [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$work/test/broker" ]; then kill "$p" 2>/dev/null || true; fi
  done
}
trap stop_brokers EXIT
cp -r "$src/test" "$work/test"
mkdir -p "$work/src" "$work/logs"
touch "$work/config.mk"
cat > "$work/src/mosquitto" <<WRAPPER
#!/bin/bash
args=("\$@")
if [[ " \$* " != *" -c "* ]]; then
  port=1883; v=""
  while [ \$# -gt 0 ]; do case \$1 in -p) port=\$2; shift;; -v) v=1;; esac; shift; done
  conf=\$(mktemp "$work/p-XXXXXX.conf")
  printf 'listener %s\nallow_anonymous true\n' "\$port" > "\$conf"
  if [ -n "\${CULEX_WORKERS:-}" ]; then echo "workers \$CULEX_WORKERS" >> "\$conf"; fi
  args=(-c "\$conf"); if [ -n "\$v" ]; then args+=(-v); fi
fi
exec "$repo/node_modules/.bin/node" "$repo/src/cli/main.ts" "\${args[@]}"
WRAPPER
chmod +x "$work/src/mosquitto"
cd "$work/test/broker"
failed=()
for g in ${groups[*]}; do
  for t in $(sed -n "/^$g :/,/^\$/p" Makefile | grep -o '\./[^ ]*\.py'); do
    rm -rf data ./*.db
    if [ ! -f "$t" ]; then echo "$g missing $t"; continue; fi
    rc=0; timeout 60 python3 "$t" > "$work/logs/$(basename "$t").log" 2>&1 || rc=$?
    echo "$g $rc $t"
    if [ "$rc" != 0 ]; then failed+=("$t"); fi
    stop_brokers # a test that failed half way may leave its brokers running
  done
done
echo "failed: ${#failed[@]} (logs in $work/logs)"
for t in "${failed[@]}"; do echo "  $t"; done
[ ${#failed[@]} = 0 ]
