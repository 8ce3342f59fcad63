#!/usr/bin/env bash
# Describe-by-id under wrk (c=32), an earlier revision against the working
# tree against limitsrv -mode sigv4, interleaved so that all three meet the
# same machine: both econe-servers run side by side (sim backend, the
# default log level), each seeded with the same number of instances for 500
# students; then each round replays one signed DescribeInstances of one
# instance against each server in turn and reports the rate and the
# server's CPU time per request (from /proc), which moves less than the rate
# on a shared machine, the system's part of it (sys_us/req) and the write
# system calls per request (writes/req, /proc/PID/io's syscw), which the
# machine's load does not move at all. Loopback only, free ports; every
# step is bounded; the servers are stopped by their pids on exit.
# With PROFILE_DIR set, the first round also saves each econe-server's CPU
# profile there (old.pprof, new.pprof; admin listener with pprof on).
# With DESCRIBE=own, each round replays the owner's full DescribeInstances
# (their 20 instances; FILTER=name=value adds a filter, as ec2load -filter)
# at c=8, as bench/compare.sh's "describe own" rows, instead. With PIN=1 the
# servers run on CPU 1 and wrk on CPU 0 (taskset), as compare.sh runs those rows.
# Usage: bench/wrkab.sh OLD_REV [ROUNDS] [INSTANCES] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:?usage: bench/wrkab.sh OLD_REV [ROUNDS] [INSTANCES] [SECONDS]}
rounds=${2:-4} instances=${3:-10000} d=${4:-8}
students=500
. bench/ablib.sh
(cd "$tools/limitsrv" && go build -o "$OLDPWD/bin/limitsrv" .)
read -r p_old p_new p_lim a_old a_new < <(bin/benchkit ports 5 | paste -sd " ")
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys() { awk '{print $15}' "/proc/$1/stat"; }
syscw() { awk '$1 == "syscw:" {print $2}' "/proc/$1/io"; }
# per COUNT N [us]: COUNT per request (clock ticks as µs with us).
per() { awk -v c="$1" -v n="$2" -v us="${3:-}" -v hz="$hz" 'BEGIN { if (n > 0) { if (us != "") printf "%.0f", c / hz / n * 1e6; else printf "%.2f", c / n } }'; }

# start VARIANT PORT ADMIN_PORT: a fresh, seeded server; sets pid_VARIANT.
start() {
  local dir=$work/$1 server=$work/bin/econe-$1 admin=""
  mkdir -p "$dir"
  [ -z "${PROFILE_DIR:-}" ] || admin="admin_listener: {address: 127.0.0.1:$3, pprof: true}"
  cat > "$dir/econe.yaml" <<YAML
port: $2
data_dir: $dir/data
log: {file: $dir/server.log}
backend: {name: sim, sim: {boot_delay: 0s, cidr: 10.64.0.0/10}}
quota: {max_instances: 1000000, max_vcpus: 1000000}
$admin
YAML
  timeout 60 "$server" -c "$dir/econe.yaml" start >/dev/null
  servers+=("$server $dir/econe.yaml")
  { echo name; for i in $(seq -w 1 $students); do echo "s$i"; done; } > "$dir/roster.csv"
  timeout 60 "$server" -c "$dir/econe.yaml" user import "$dir/roster.csv" | tail -n +2 | awk -F, '{print $3, $4}' > "$dir/keys.txt"
  timeout 900 bin/ec2load -endpoint "http://127.0.0.1:$2" -keys "$dir/keys.txt" -seed "$instances" -seed-batch 20 -seed-c 8 -d 0 \
    -ids-out "$dir/ids.txt" -q >/dev/null
  printf -v "pid_$1" '%s' "$(cat "$dir/data/econe-server.pid")"
}
start old "$p_old" "$a_old"
start new "$p_new" "$a_new"
# limitsrv checks signatures against the new server's keys.
timeout 3600 bin/limitsrv -addr "127.0.0.1:$p_lim" -mode sigv4 -keys "$work/new/keys.txt" -pidfile "$work/limitsrv.pid" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/limitsrv.pid" ] && break; sleep 0.1; done
# shellcheck disable=SC2034 # read through pid_var below
pid_lim=$(cat "$work/limitsrv.pid")

# One instance by id (the middle line of ids.txt: ACCESS_KEY INSTANCE_ID),
# signed with its owner's key, or the owner's full describe; limitsrv gets
# the new server's request.
conns=32
[ "${DESCRIBE:-}" = own ] && conns=8
for v in old new lim; do
  src=$v; [ $v = lim ] && src=new
  read -r akid id < <(sed -n "$((instances / 2))p" "$work/$src/ids.txt")
  secret=$(awk -v k="$akid" '$1 == k {print $2; exit}' "$work/$src/keys.txt")
  port_var=p_$v
  if [ "${DESCRIBE:-}" = own ]; then
    bin/ec2load -endpoint "http://127.0.0.1:${!port_var}" -key "$akid" -secret "$secret" ${FILTER:+-filter "$FILTER"} -wrk-lua "$work/$v.lua"
  else
    bin/benchkit wrk-lua -endpoint "http://127.0.0.1:${!port_var}" -key "$akid" -secret "$secret" -id "$id" -o "$work/$v.lua"
  fi
done

client=()
if [ "${PIN:-}" = 1 ]; then
  for v in old new lim; do pid_var=pid_$v; taskset -a -p -c 1 "${!pid_var}" >/dev/null; done
  client=(taskset -c 0)
  sleep 1 # GOMAXPROCS follows the affinity
fi
printf 'round\tserver\treq/s\tcpu_us/req\tp50_ms\tp99_ms\tsys_us/req\twrites/req\n'
for r in $(seq 1 "$rounds"); do
  for v in old new lim; do
    port_var=p_$v pid_var=pid_$v
    prof=""
    if [ -n "${PROFILE_DIR:-}" ] && [ "$r" = 1 ] && [ $v != lim ]; then
      admin_var=a_$v
      mkdir -p "$PROFILE_DIR"
      timeout 60 curl -s -o "$PROFILE_DIR/$v.pprof" "http://127.0.0.1:${!admin_var}/debug/pprof/profile?seconds=$((d - 2))" &
      prof=$!
    fi
    t0=$(ticks "${!pid_var}") s0=$(sys "${!pid_var}") w0=$(syscw "${!pid_var}")
    m=$("${client[@]}" timeout 60 wrk -t2 -c"$conns" -d"${d}s" --latency -s "$work/$v.lua" "http://127.0.0.1:${!port_var}/" | bin/benchkit wrk-parse)
    t1=$(ticks "${!pid_var}") s1=$(sys "${!pid_var}") w1=$(syscw "${!pid_var}")
    [ -z "$prof" ] || wait "$prof"
    n=$(get "done" "$m")
    [ "$(get err "$m")" = 0 ] || { echo "wrkab.sh: $v: errors: $m" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$(get rps "$m")" "$(per $((t1 - t0)) "$n" us)" "$(get p50_ms "$m")" "$(get p99_ms "$m")" \
      "$(per $((s1 - s0)) "$n" us)" "$(per $((w1 - w0)) "$n")"
  done
done
