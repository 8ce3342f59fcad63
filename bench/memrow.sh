#!/usr/bin/env bash
# compare.sh's memory row alone: an econe-server configured as compare.sh
# configures it, 500 students, 100,000 instances seeded through the API
# (ec2load, 20 a launch, c=8), then a full describe of every student
# (ec2load -discover). Prints the process's RSS, anonymous and file-mapped,
# before and after the describes (and the largest while they run), the
# data file's size, and saves the heap profiles (inuse_space and
# alloc_space are both in each) to OUT.
#
# Usage: bench/memrow.sh [OUT]   (default bin/memrow)
# Env: BIN=an econe-server binary (default: this tree's, built);
#      SEEDED=a directory a previous run kept (skips the seeding: the server
#      starts on a copy of its data); KEEP=a directory to keep the seeded
#      data and keys in, copied at the end;
#      N=instances to seed (100000), STUDENTS (500).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/memrow}
tools=${ECONE_SHARED:-../shared}/tools
n=${N:-100000} students=${STUDENTS:-500}
mkdir -p bin "$out"
if [ -z "${BIN:-}" ]; then go build -o bin/econe-server ./cmd/econe-server; BIN=bin/econe-server; fi
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)
go build -o bin/benchkit ./bench/benchkit
read -r port padm < <(bin/benchkit ports 2 | paste -sd " ")

work=$(mktemp -d) cfg=
cleanup() { [ -z "$cfg" ] || "$BIN" -c "$cfg" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cfg=$work/econe.yaml E=http://127.0.0.1:$port
cat > "$cfg" <<YAML
port: $port
data_dir: $work/data
log: {file: $work/server.log}
backend: {name: sim, sim: {boot_delay: 0s, cidr: 10.64.0.0/10}}
quota: {max_instances: 1000000, max_vcpus: 1000000}
admin_listener: {address: 127.0.0.1:$padm, pprof: true}
YAML
start() { timeout 60 "$BIN" -c "$cfg" start >/dev/null; pid=$(cat "$work/data/econe-server.pid"); }
# mem LABEL: one line of the process's memory, in MB.
mem() {
  awk -v l="$1" -v f="$(du -m "$work/data/econe.db" 2>/dev/null | cut -f1)" '
    /^(VmRSS|RssAnon|RssFile):/ {v[$1] = sprintf("%.0f", $2 / 1024)}
    END {printf "%-28s rss=%s anon=%s file=%s db_file=%s\n", l, v["VmRSS:"], v["RssAnon:"], v["RssFile:"], f}' "/proc/$pid/status"
}
heap() { curl -sf "http://127.0.0.1:$padm/debug/pprof/heap" -o "$out/heap-$1.pb.gz"; }

if [ -n "${SEEDED:-}" ]; then
  cp -a "$SEEDED/data" "$work/data"; cp "$SEEDED/keys.txt" "$work/keys.txt"
  start
else
  start
  { echo name; for i in $(seq -w 1 "$students"); do echo "s$i"; done; } > "$work/roster.csv"
  timeout 60 "$BIN" -c "$cfg" user import "$work/roster.csv" | tail -n +2 | awk -F, '{print $3, $4}' > "$work/keys.txt"
  t0=$SECONDS
  timeout 1200 bin/ec2load -endpoint "$E" -keys "$work/keys.txt" -seed "$n" -seed-batch 20 -seed-c 8 -d 0 -q | grep '^METRIC' >&2
  echo "seeded in $((SECONDS - t0)) s" >&2
fi
mem "before the describes"
heap before
# the largest RSS while the describes run (sampled twice a second)
( while sleep 0.5; do awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; done > "$work/rss.samples" ) &
sampler=$!
timeout 300 bin/ec2load -endpoint "$E" -keys "$work/keys.txt" -discover -d 0 -q | grep '^METRIC' >&2 || true
kill "$sampler"
mem "after the full describes"
sort -n "$work/rss.samples" | tail -1 | awk '{printf "largest RSS during the describes: %.0f MB\n", $1 / 1024}'
heap after
grep -E '^(Rss|Anonymous|Pss_File|Private_Clean|Shared_Clean):' "/proc/$pid/smaps_rollup" >&2 || true
if [ -n "${KEEP:-}" ]; then
  "$BIN" -c "$cfg" stop >/dev/null
  mkdir -p "$KEEP"; rm -rf "$KEEP/data"; cp -a "$work/data" "$KEEP/data"; cp "$work/keys.txt" "$KEEP/"
fi
echo "heap profiles: $out/heap-before.pb.gz $out/heap-after.pb.gz" >&2
