#!/usr/bin/env bash
# Measures econe-server against the practical ceiling (../shared/tools/limitsrv)
# with the same SDK-based load generator (../shared/tools/ec2load), in one run
# on this machine, as BENCHMARKS.md reports. Loopback only; every loop is
# bounded by ec2load's -d. Usage: bench/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
tools=${ECONE_SHARED:-../shared}/tools
work=$(mktemp -d)
trap 'bin/econe-server -c "$work/econe.yaml" stop >/dev/null 2>&1 || true; [ -f "$work/limitsrv.pid" ] && kill "$(cat "$work/limitsrv.pid")" 2>/dev/null; rm -rf "$work"' EXIT

mkdir -p bin
go build -o bin/econe-server ./cmd/econe-server
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)
(cd "$tools/limitsrv" && go build -o "$OLDPWD/bin/limitsrv" .)

cat > "$work/econe.yaml" <<YAML
port: 5600
data_dir: $work/data
log: {file: $work/server.log}   # the default level, info: one line per request
# Each RunInstances round adds ~15,000 instances that stay running: a /10
# keeps the sim's address range from filling (the default /16 holds 65,534).
backend: {name: sim, sim: {boot_delay: 0s, cidr: 10.64.0.0/10}}
YAML
bin/econe-server -c "$work/econe.yaml" start
pid=$(cat "$work/data/econe-server.pid")

# 500 students, 10,000 instances (20 each).
{ echo name; for i in $(seq -w 1 500); do echo "s$i"; done; } > "$work/roster.csv"
bin/econe-server -c "$work/econe.yaml" user import "$work/roster.csv" > "$work/creds.csv"
tail -n +2 "$work/creds.csv" | awk -F, '{print $3, $4}' > "$work/keys.txt"
bin/ec2load -endpoint http://127.0.0.1:5600 -keys "$work/keys.txt" -seed 10000 -seed-batch 20 -seed-c 8 -d 0 -ids-out "$work/ids.txt" -q | grep -E 'seed|METRIC' || true

bin/limitsrv -addr 127.0.0.1:5601 -mode sigv4 -keys "$work/keys.txt" -pidfile "$work/limitsrv.pid" >/dev/null 2>&1 &
sleep 0.5
load() { bin/ec2load -keys "$work/keys.txt" -ids-in "$work/ids.txt" -warmup 2s -d 10s -q "$@" | grep '^METRIC'; }
for r in $(seq 1 "$rounds"); do
  echo "round $r: describe-id, c=8"
  load -endpoint http://127.0.0.1:5600 -c 8 -mix describe-id=100 -server-pid "$pid"
  load -endpoint http://127.0.0.1:5601 -c 8 -mix describe-id=100 -server-pid "$(cat "$work/limitsrv.pid")"
done
for r in $(seq 1 "$rounds"); do
  echo "round $r: RunInstances, c=32"
  load -endpoint http://127.0.0.1:5600 -c 32 -mix run=100 -server-pid "$pid"
done
