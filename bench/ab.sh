#!/usr/bin/env bash
# Compares RunInstances at c=32 between an earlier revision and the working
# tree, interleaved so that both meet the same machine: each pair starts a
# fresh server from each binary in turn, seeds 10,000 instances for 500
# students and runs one 10 s round of ec2load (../shared/tools) against it.
# Loopback only; every run is bounded by ec2load's -d.
# Usage: bench/ab.sh OLD_REV [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:?usage: bench/ab.sh OLD_REV [PAIRS]}
pairs=${2:-3}
tools=${ECONE_SHARED:-../shared}/tools
work=$(mktemp -d)
running=() # the server and config of the round in progress
cleanup() {
  [ ${#running[@]} -eq 0 ] || "${running[0]}" -c "${running[1]}" stop >/dev/null 2>&1 || true
  git worktree remove --force "$work/old-tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin" bin
git worktree add --detach "$work/old-tree" "$old_rev" >/dev/null 2>&1
(cd "$work/old-tree" && go build -o "$work/bin/econe-old" ./cmd/econe-server)
go build -o "$work/bin/econe-new" ./cmd/econe-server
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)

# round VARIANT N: one fresh server, seeded, one measured round.
round() {
  local variant=$1 dir="$work/$1-$2" server="$work/bin/econe-$1"
  mkdir -p "$dir"
  cat > "$dir/econe.yaml" <<YAML
port: 5600
data_dir: $dir/data
log: {file: $dir/server.log}
backend: {name: sim, sim: {boot_delay: 0s, cidr: 10.64.0.0/10}}
YAML
  "$server" -c "$dir/econe.yaml" start >/dev/null
  running=("$server" "$dir/econe.yaml")
  { echo name; for i in $(seq -w 1 500); do echo "s$i"; done; } > "$dir/roster.csv"
  "$server" -c "$dir/econe.yaml" user import "$dir/roster.csv" 2>/dev/null | tail -n +2 | awk -F, '{print $3, $4}' > "$dir/keys.txt"
  bin/ec2load -endpoint http://127.0.0.1:5600 -keys "$dir/keys.txt" -seed 10000 -seed-batch 20 -seed-c 8 -d 0 -ids-out "$dir/ids.txt" -q >/dev/null
  printf '%s ' "$variant"
  bin/ec2load -endpoint http://127.0.0.1:5600 -keys "$dir/keys.txt" -ids-in "$dir/ids.txt" -warmup 2s -d 10s -q \
    -c 32 -mix run=100 -server-pid "$(cat "$dir/data/econe-server.pid")" | grep '^METRIC'
  "$server" -c "$dir/econe.yaml" stop >/dev/null
  running=()
  rm -rf "$dir"
}

for p in $(seq 1 "$pairs"); do
  echo "pair $p"
  round old "$p"
  round new "$p"
done
