#!/usr/bin/env bash
# RunInstances of one instance at c=32 (compare.sh's RunInstances row: sim
# backend, boot_delay 3s, 500 students, every answer durable), an earlier
# revision against the working tree, interleaved so that both meet the same
# machine: both econe-servers run side by side on fresh data directories, and
# each round runs ec2load against one then the other (the order alternates).
# Reports the rate, p50, p99 and the server's CPU time per launch. Loopback
# only, free ports; every step is bounded; the servers are stopped by their
# pids on exit. With PROFILE_DIR set, the first round also saves each
# server's CPU profile there (old.pprof, new.pprof), and after the last round
# each server's /metrics (old.metrics, new.metrics: the group commit's batch
# sizes and commit times).
# CONCURRENCY (default 32) of 1 shows one launch's chain of durable steps
# without the queueing.
# Usage: bench/runab.sh OLD_REV [ROUNDS] [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:?usage: bench/runab.sh OLD_REV [ROUNDS] [SECONDS] [CONCURRENCY]}
rounds=${2:-4} d=${3:-10} c=${4:-32}
students=500
. bench/ablib.sh
read -r p_old p_new a_old a_new < <(bin/benchkit ports 4 | paste -sd " ")

# start VARIANT PORT ADMIN_PORT: a fresh server with its students; sets pid_VARIANT.
start() {
  local dir=$work/$1 server=$work/bin/econe-$1
  mkdir -p "$dir"
  cat > "$dir/econe.yaml" <<YAML
port: $2
data_dir: $dir/data
log: {file: $dir/server.log}
backend: {name: sim, sim: {boot_delay: 3s, cidr: 10.64.0.0/10}}
quota: {max_instances: 1000000, max_vcpus: 1000000}
admin_listener: {address: 127.0.0.1:$3, pprof: true}
YAML
  timeout 60 "$server" -c "$dir/econe.yaml" start >/dev/null
  servers+=("$server $dir/econe.yaml")
  { echo name; for i in $(seq -w 1 $students); do echo "s$i"; done; } > "$dir/roster.csv"
  timeout 60 "$server" -c "$dir/econe.yaml" user import "$dir/roster.csv" | tail -n +2 | awk -F, '{print $3, $4}' > "$dir/keys.txt"
  printf -v "pid_$1" '%s' "$(cat "$dir/data/econe-server.pid")"
}
start old "$p_old" "$a_old"
start new "$p_new" "$a_new"

printf 'round\tserver\tlaunches/s\tp50 ms\tp99 ms\terrors\tcpu_us/launch\tload\n'
for r in $(seq 1 "$rounds"); do
  order="old new"; [ $((r % 2)) = 0 ] && order="new old"
  for v in $order; do
    port_var=p_$v pid_var=pid_$v
    prof=""
    if [ -n "${PROFILE_DIR:-}" ] && [ "$r" = 1 ]; then
      admin_var=a_$v
      mkdir -p "$PROFILE_DIR"
      timeout 60 curl -s -o "$PROFILE_DIR/$v.pprof" "http://127.0.0.1:${!admin_var}/debug/pprof/profile?seconds=$((d - 1))" &
      prof=$!
    fi
    m=$(timeout 120 bin/ec2load -endpoint "http://127.0.0.1:${!port_var}" -keys "$work/$v/keys.txt" -warmup 1s -d "${d}s" \
      -server-pid "${!pid_var}" -c "$c" -mix run=100 -q | grep '^METRIC')
    [ -z "$prof" ] || wait "$prof"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$(get rps "$m")" "$(get p50_ms "$m")" "$(get p99_ms "$m")" "$(get err "$m")" \
      "$(awk -v c="$(get server_cpu "$m")" -v r="$(get rps "$m")" 'BEGIN { if (r > 0) printf "%.0f", c / r * 1e6 }')" \
      "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
if [ -n "${PROFILE_DIR:-}" ]; then
  for v in old new; do
    admin_var=a_$v
    timeout 10 curl -s -o "$PROFILE_DIR/$v.metrics" "http://127.0.0.1:${!admin_var}/metrics"
  done
fi
