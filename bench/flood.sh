#!/usr/bin/env bash
# A well-behaved client's latency before and during a flood of FLOOD_N
# (default 1,100, as in issue 11) slow-body connections (one body byte
# every 10 s, from 127.0.0.2, or from each address in FLOOD_FROM), with
# the server's open-file limit at 1,024, as BENCHMARKS.md reports. The
# client is ../shared/tools/ec2load from 127.0.0.1, one new connection per
# request (as each AWS CLI command makes), 5 s per-request timeout.
# Given a git revision, measures that revision's server first, in the same
# run. Loopback only; the flood (bench/slowflood) stops by itself.
# Usage: bench/flood.sh [OLD_REV]
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${ECONE_SHARED:-../shared}/tools
work=$(mktemp -d)
port=5610
cfg=""
bin=""
trap '[ -n "$cfg" ] && "$bin" -c "$cfg" stop >/dev/null 2>&1; rm -rf "$work"' EXIT

mkdir -p bin
go build -o bin/econe-server ./cmd/econe-server
go build -o bin/slowflood ./bench/slowflood
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)
servers=("new:bin/econe-server")
if [ -n "${1:-}" ]; then
  mkdir "$work/old"
  git archive "$1" | tar -x -C "$work/old"
  (cd "$work/old" && go build -o "$work/econe-server-old" ./cmd/econe-server)
  servers=("old($1):$work/econe-server-old" "${servers[@]}")
fi

for s in "${servers[@]}"; do
  name=${s%%:*} bin=${s#*:}
  cfg=$work/$name.yaml
  mkdir -p "$work/$name"
  cat > "$cfg" <<YAML
port: $port
data_dir: $work/$name/data
log: {file: $work/$name/server.log, level: warn}
YAML
  (ulimit -n 1024 && "$bin" -c "$cfg" start)
  pid=$(cat "$work/$name/data/econe-server.pid")
  { echo name; for i in $(seq 1 20); do echo "s$i"; done; } > "$work/$name/roster.csv"
  "$bin" -c "$cfg" user import "$work/$name/roster.csv" | tail -n +2 | awk -F, '{print $3, $4}' > "$work/$name/keys.txt"
  load() {
    bin/ec2load -endpoint "http://127.0.0.1:$port" -keys "$work/$name/keys.txt" -c 4 -no-keepalive \
      -warmup 1s -d 10s -timeout 5s -q -server-pid "$pid" | grep '^METRIC'
  }
  echo "== $name: open files $(awk '/Max open files/ {print $4}' "/proc/$pid/limits")"
  echo "before the flood:"; load
  floods=()
  for from in ${FLOOD_FROM:-127.0.0.2}; do
    bin/slowflood -target "127.0.0.1:$port" -from "$from" -n "${FLOOD_N:-1100}" -every 10s -d 30s > "$work/$name/flood-$from.txt" &
    floods+=($!)
  done
  sleep 5 # the flood builds up
  echo "during the flood:"; load
  wait "${floods[@]}"
  tail -n 3 "$work/$name"/flood-*.txt
  "$bin" -c "$cfg" stop >/dev/null
  cfg=""
  grep -c 'connection refused' "$work/$name/server.log" | sed 's/^/refusal log lines: /' || true
done
