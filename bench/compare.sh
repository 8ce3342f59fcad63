#!/usr/bin/env bash
# The course's shape in one run: econe-server against the practical ceiling
# (limitsrv -mode sigv4, ../shared/tools) and against the peer a user would
# otherwise pick (moto_server), with the same clients: ec2load (aws-sdk-go-v2)
# for every scenario, wrk replaying one signed DescribeInstances by id for raw
# rates, and bench/benchkit for the start of a lab. Prints a table and writes
# it as JSON and markdown (OUT, default bin/compare[-quick].{json,md}).
# Exits non-zero when a scenario fails or any request errs; timings are never
# judged here (BENCHMARKS.md compares them with the targets). The two rows
# against moto's rates (describe-id under wrk, RunInstances) show the median
# of three interleaved rounds. The rows of one student's full describe run
# the clients on CPU 0 and econe-server on CPU 1 (taskset), as a course's
# clients are on other machines; the others share the cores.
#
# Loopback only, on free ports; every step is bounded by `timeout` or the
# client's -d; the servers are stopped by their pids on exit. About 7 minutes
# on 2 cores; --quick (fewer students and instances, 2 s rounds, one round
# against moto, no 100,000 step, no usage benchmark) about a minute, as the
# CI smoke test runs it.
# Needs moto (ECONE_TEST_PYTHON -m moto.server, or the pyenv moto_server) and
# wrk (installed with apt-get when missing).
# Usage: bench/compare.sh [--quick] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
tools=${ECONE_SHARED:-../shared}/tools
if [ $quick = 1 ]; then
  out=${1:-bin/compare-quick}
  students=50 main=1000 moto_seed=200 scale=(10 1000) big=0 d=2s warm=1s lab_students=50 rounds=1
else
  out=${1:-bin/compare}
  students=500 main=10000 moto_seed=10000 scale=(10 1000 10000 100000) big=100000 d=10s warm=2s lab_students=500 rounds=3
fi

# ---- prerequisites ----
if ! command -v wrk >/dev/null; then
  echo "compare.sh: installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
moto=()
for cand in "${ECONE_TEST_PYTHON:-}" /root/.pyenv/shims/python3; do
  if [ -n "$cand" ] && "$cand" -c 'import moto.server' 2>/dev/null; then moto=("$cand" -m moto.server); break; fi
done
[ ${#moto[@]} -gt 0 ] || { echo "compare.sh: no python3 with moto (set ECONE_TEST_PYTHON)" >&2; exit 1; }

work=$(mktemp -d)
pids=()     # limitsrv, moto (each under `timeout`)
servers=()  # econe-server configs to stop
cleanup() {
  for c in "${servers[@]}"; do bin/econe-server -c "$c" stop >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p bin "$(dirname "$out")"
go build -o bin/econe-server ./cmd/econe-server
go build -o bin/benchkit ./bench/benchkit
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)
(cd "$tools/limitsrv" && go build -o "$OLDPWD/bin/limitsrv" .)
read -r pa pb pl pm padm < <(bin/benchkit ports 5 | paste -sd " ")

rows=$work/rows.tsv
: > "$out.log" # every client's full output, for a failure's details
: > "$rows"
say() { echo "== $*" >&2; }
# row SCENARIO "key=value …" [NOTE]: one line of the table.
row() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >> "$rows"; }
# get KEY LINE: the value of KEY= in a METRIC line.
get() { grep -oE "(^| )$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
rss() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
# rss_parts PID: what RSS is made of: the process's own (anonymous) memory
# and the pages of mapped files (bbolt's database) it has touched.
rss_parts() { awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {printf "anonymous %.0f MB + file-mapped %.0f MB (the database and the binary)", a/1024, f/1024}' "/proc/$1/status"; }
# gc_settings ADMIN_PORT: the server's collector settings (its metrics).
gc_settings() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^go_gc_gogc_percent / {g = $2} /^go_gc_gomemlimit_bytes / {m = $2}
    END {printf "gc_percent %s, memory_limit_mib %s", g, (m == "" || m > 2^60) ? "none" : sprintf("%.0f", m / 1048576)}'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# cpu_us CORES RPS: server CPU per request from ec2load's server_cpu (cores).
cpu_us() { awk -v c="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.0f", c / r * 1e6 }'; }
# wait_port PORT: until something listens (20 s at most).
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "compare.sh: nothing listens on $1" >&2; return 1
}
# median_round RATIO…: the index (from 0) of the round whose ratio is the
# median. The rows against moto take ROUNDS interleaved rounds (each server
# in turn) and show the median one whole: the host's speed drifts by 10–30 %
# between rounds (BENCHMARKS.md), more than one round can tell apart.
median_round() { printf '%s\n' "$@" | awk '{print NR - 1, $1}' | sort -k2,2g | awk -v n="$#" 'NR == int((n + 1) / 2) {print $1}'; }
# rounds_note: the note's word on the rounds behind a row against moto.
rounds_note() { [ "$rounds" -le 1 ] || echo "; the median of $rounds rounds (econe/moto ${ratios[*]})"; }
# ratio A B: A/B to one decimal, "-" when B is 0 or empty.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
# client: what the measured clients (ec2load, wrk) run under; the own
# describes' rows pin them to a CPU of their own (pin_server).
client=()
# load URL KEYS IDS PID ARGS…: one measured ec2load round, its METRIC line.
load() {
  local url=$1 keys=$2 ids=$3 pid=$4; shift 4
  local full m sdk
  full=$("${client[@]}" timeout 120 bin/ec2load -endpoint "$url" -keys "$keys" ${ids:+-ids-in "$ids"} -warmup "$warm" -d "$d" \
    ${pid:+-server-pid "$pid"} "$@")
  printf -- '-- ec2load -endpoint %s %s\n%s\n' "$url" "$*" "$full" >> "$out.log"
  m=$(grep '^METRIC' <<<"$full")
  # aws-sdk-go-v2's own race (aws/aws-sdk-go-v2#1825, #2737): now and then its
  # transport closes the connection while the SDK still reads a large 200
  # answer ("use of closed network connection"); the same answers read whole
  # by net/http parse every time. Counted apart as sdk_err, not as errors.
  sdk=$(awk '/client:Deserialization/ {n += $NF} END {print n + 0}' <<<"$full")
  echo "$m" | sed -E "s/(^| )err=([0-9]+)/\1err=$(( $(get err "$m") - sdk )) sdk_err=$sdk/"
}
# seed URL KEYS N BATCH IDS_OUT: N more instances, round-robin over the keys.
# Seeding is not measured: launches the SDK lost (its read race, below) are
# made up, three rounds at most.
seed() {
  local m left=$3 t0=$SECONDS
  for _ in 1 2 3; do
    m=$(timeout 900 bin/ec2load -endpoint "$1" -keys "$2" -seed "$left" -seed-batch "$4" -seed-c 8 -d 0 -ids-out "$5.new" | tee -a "$out.log" | grep '^METRIC')
    cat "$5.new" >> "$5"
    left=$(( left - $(get seeded "$m") ))
    [ "$left" -gt 0 ] || break
  done
  if [ "$left" -gt 0 ]; then echo "compare.sh: seeding failed: $m" >&2; return 1; fi
  say "seeded $3 in $((SECONDS - t0)) s"
}
# wrkrun URL KEY SECRET PID C [wrk-lua flags]: wrk at c=C replaying one
# DescribeInstances (-id ID: of one instance; none: all of KEY's, with an
# optional -filter N=V); key=value line plus cpu_us.
wrkrun() {
  local lua=$work/req.lua t0 t1 m
  bin/benchkit wrk-lua -endpoint "$1" -key "$2" -secret "$3" -o "$lua" "${@:6}"
  t0=$(ticks "$4")
  m=$("${client[@]}" timeout 60 wrk -t2 -c"$5" -d"$d" --latency -s "$lua" "$1/" | bin/benchkit wrk-parse)
  t1=$(ticks "$4")
  echo "$m cpu_us=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$(get "done" "$m")" 'BEGIN { if (n > 0) printf "%.0f", t / hz / n * 1e6 }')"
}
# econe NAME BOOT_DELAY: a fresh econe-server with STUDENTS students; sets
# $cfg, $pid and $dir/keys.txt.
econe() {
  dir=$work/$1 cfg=$work/$1/econe.yaml
  mkdir -p "$dir"
  local port=$pa admin=""
  if [ "$1" = lab ]; then port=$pb; else admin="admin_listener: {address: 127.0.0.1:$padm, pprof: true}"; fi
  cat > "$cfg" <<YAML
port: $port
data_dir: $dir/data
log: {file: $dir/server.log}   # the default level, info: one line per request
backend: {name: sim, sim: {boot_delay: $2, cidr: 10.64.0.0/10}}
quota: {max_instances: 1000000, max_vcpus: 1000000}
$admin
YAML
  timeout 60 bin/econe-server -c "$cfg" start >/dev/null
  servers+=("$cfg")
  pid=$(cat "$dir/data/econe-server.pid")
  { echo name; for i in $(seq -w 1 "$3"); do echo "s$i"; done; } > "$dir/roster.csv"
  timeout 60 bin/econe-server -c "$cfg" user import "$dir/roster.csv" | tail -n +2 | awk -F, '{print $3, $4}' > "$dir/keys.txt"
}

# moto first: it takes a few seconds to start.
timeout 1500 "${moto[@]}" -H 127.0.0.1 -p "$pm" >"$work/moto.log" 2>&1 &
pids+=($!)
motopid=$!

# ---- econe-server A: scale, describes, memory, restart ----
econe main 0s "$students"
a=$dir cfga=$cfg pida=$pid E=http://127.0.0.1:$pa
keys=$a/keys.txt ids=$a/ids.txt
: > "$ids"
# limitsrv checks signatures against the same keys.
timeout 1500 bin/limitsrv -addr "127.0.0.1:$pl" -mode sigv4 -keys "$keys" -pidfile "$work/limitsrv.pid" >/dev/null 2>&1 &
pids+=($!)
wait_port "$pl"
L=http://127.0.0.1:$pl lpid=$(cat "$work/limitsrv.pid")

# scale: describe-by-id p50 as the store grows (c=8). The instances just
# seeded are first seen by their owners (one paginated full describe each),
# which records their boots: the first describe of a booted instance writes
# its transition, and a row measured during that catch-up (90,000 writes at
# the 100,000 step) measures the writes, not the store's size.
stored=0
scale_row() {
  local m
  timeout 300 bin/benchkit settle -endpoint "$E" -keys "$keys" | tee -a "$out.log" | grep "^METRIC" >&2
  # only the students who have instances: the others would have nothing to describe
  awk 'NR == FNR {has[$1] = 1; next} has[$1]' "$ids" "$keys" > "$a/keys-with-ids.txt"
  m=$(load "$E" "$a/keys-with-ids.txt" "$ids" "$pida" -c 8 -mix describe-id=100)
  row "describe-id, $stored stored, ec2load c=8" "econe_rps=$(get rps "$m") p50_ms=$(get p50_ms "$m") p99_ms=$(get p99_ms "$m") err=$(get err "$m") cpu_us=$(cpu_us "$(get server_cpu "$m")" "$(get rps "$m")") rss_mb=$(rss "$pida")" "scale: p50 within 1.5× from 10 to 100,000"
}
for n in "${scale[@]}"; do
  [ "$n" -le "$main" ] || continue
  batch=$(( (n - stored) / students )); batch=$(( batch < 1 ? 1 : batch > 20 ? 20 : batch ))
  seed "$E" "$keys" $((n - stored)) "$batch" "$ids"
  stored=$n
  scale_row
done

# describe-by-id at MAIN stored: ec2load c=8 against all three, wrk c=32.
say "moto: seeding $moto_seed"
wait_port "$pm"
M=http://127.0.0.1:$pm mpid=$(pgrep -P "$motopid" | head -1) mids=$work/moto-ids.txt
: > "$mids"
timeout 900 bin/ec2load -endpoint "$M" -keys "$keys" -seed "$moto_seed" -seed-batch 500 -seed-c 2 -d 0 -ids-out "$mids" | tee -a "$out.log" | grep '^METRIC' >&2
say "describe-id, $main stored"
me=$(load "$E" "$keys" "$ids" "$pida" -c 8 -mix describe-id=100)
ml=$(load "$L" "$keys" "$ids" "$lpid" -c 8 -mix describe-id=100)
mm=$(load "$M" "$keys" "$mids" "$mpid" -c 8 -mix describe-id=100)
row "describe-id, $main stored, ec2load c=8" "econe_rps=$(get rps "$me") p50_ms=$(get p50_ms "$me") p99_ms=$(get p99_ms "$me") err=$(( $(get err "$me") + $(get err "$ml") + $(get err "$mm") )) limitsrv_rps=$(get rps "$ml") moto_rps=$(get rps "$mm") cpu_us=$(cpu_us "$(get server_cpu "$me")" "$(get rps "$me")") rss_mb=$(rss "$pida")" "SDK client-bound; moto $moto_seed stored"
read -r k s < <(head -1 "$keys")
id=$(awk -v k="$k" '$1 == k {print $2; exit}' "$ids")
mid=$(awk -v k="$k" '$1 == k {print $2; exit}' "$mids")
wes=() wls=() wms=() ratios=() err=0
for r in $(seq "$rounds"); do
  say "describe-id under wrk, round $r of $rounds"
  wes+=("$(wrkrun "$E" "$k" "$s" "$pida" 32 -id "$id")")
  wls+=("$(wrkrun "$L" "$k" "$s" "$lpid" 32 -id "$id")")
  wms+=("$(wrkrun "$M" "$k" "$s" "$mpid" 32 -id "$mid")")
  err=$(( err + $(get err "${wes[-1]}") + $(get err "${wls[-1]}") + $(get err "${wms[-1]}") ))
  ratios+=("$(ratio "$(get rps "${wes[-1]}")" "$(get rps "${wms[-1]}")")")
done
i=$(median_round "${ratios[@]}")
we=${wes[$i]} wl=${wls[$i]} wm=${wms[$i]}
row "describe-id, $main stored, wrk c=32" "econe_rps=$(get rps "$we") p50_ms=$(get p50_ms "$we") p99_ms=$(get p99_ms "$we") err=$err limitsrv_rps=$(get rps "$wl") moto_rps=$(get rps "$wm") cpu_us=$(get cpu_us "$we") rss_mb=$(rss "$pida")" "targets: ≥ 50 % of limitsrv-sigv4, ≥ 200 × moto; limitsrv $(get cpu_us "$wl") CPU µs/req$(rounds_note)"

# pin_server PID CPUS: the server's threads on CPUS (Go's GOMAXPROCS follows
# the affinity within about a second).
pin_server() { taskset -a -p -c "$2" "$1" >/dev/null; sleep 1; }

# one student's full describe (MAIN/STUDENTS own), without and with a filter,
# with the clients on CPU 0 and econe-server on CPU 1 (taskset; GOMAXPROCS 1):
# a course's clients are on other machines, and with both on the same two
# cores the kernel's time-slicing of the clients' threads and the server's set
# the tail (30-40 ms at a 1 ms median, BENCHMARKS.md). No limitsrv or moto row
# compares with these; every other row shares the cores as before.
pinned=0 pinnote=""
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server "$pida" 1
  client=(taskset -c 0)
  pinned=1 pinnote="clients on CPU 0, econe-server on CPU 1; "
fi
for f in "" "instance-state-name=running"; do
  m=$(load "$E" "$keys" "$ids" "$pida" -c 8 -mix describe=100 ${f:+-filter "$f"})
  row "describe own ($((main / students)) of $main)${f:+, filter $f}, c=8" "econe_rps=$(get rps "$m") p50_ms=$(get p50_ms "$m") p99_ms=$(get p99_ms "$m") err=$(get err "$m") cpu_us=$(cpu_us "$(get server_cpu "$m")" "$(get rps "$m")") rss_mb=$(rss "$pida")" "${pinnote}target p99 < 10 ms; $(get sdk_err "$m") SDK-side read errors; moto has one account (no per-student view)"
  # the same request replayed by wrk, whose client does not parse the
  # answers: the server's own latency at c=8, without the SDK's share of the cores.
  w=$(wrkrun "$E" "$k" "$s" "$pida" 8 ${f:+-filter "$f"})
  row "describe own ($((main / students)) of $main)${f:+, filter $f}, wrk c=8" "econe_rps=$(get rps "$w") p50_ms=$(get p50_ms "$w") p99_ms=$(get p99_ms "$w") err=$(get err "$w") cpu_us=$(get cpu_us "$w") rss_mb=$(rss "$pida")" "${pinnote}target p99 < 10 ms; one student's request replayed"
done
if [ $pinned = 1 ]; then
  client=()
  pin_server "$pida" "0-$(($(nproc) - 1))"
fi

# the big store: scale, memory after a full describe of every student, restart after kill -9.
if [ "$big" -gt 0 ]; then
  seed "$E" "$keys" $((big - stored)) 20 "$ids"
  stored=$big
  scale_row
fi
m=$(timeout 300 bin/ec2load -endpoint "$E" -keys "$keys" -discover -d 0 -q | grep '^METRIC' || true)
row "memory, $stored stored, after each student's full describe" "rss_mb=$(rss "$pida") err=$([ -n "$m" ] && echo 0 || echo 1)" "target RSS ≤ 300 MB; $(rss_parts "$pida"); database file $(du -m "$a/data/econe.db" | cut -f1) MB; go_runtime $(gc_settings "$padm")"
kill -9 "$pida"
for _ in $(seq 100); do kill -0 "$pida" 2>/dev/null || break; sleep 0.1; done
t0=$(date +%s%N)
timeout 60 bin/econe-server -c "$cfga" start >/dev/null
t1=$(date +%s%N)
pida=$(cat "$a/data/econe-server.pid")
m=$(load "$E" "$keys" "$ids" "$pida" -c 8 -mix describe-id=100)
row "start-up after kill -9, $stored stored" "p50_ms=$(( (t1 - t0) / 1000000 )) err=$(get err "$m") rss_mb=$(rss "$pida")" "time to the first answer (\`econe-server start\` polls every 50 ms); target < 2 s"

# usage over the ledger: the CLI on this store, and (full run) a term's ledger.
t0=$(date +%s%N)
timeout 120 bin/econe-server -c "$cfga" usage --by week --format csv > "$work/usage.csv"
t1=$(date +%s%N)
row "econe-server usage --by week, $stored instances' ledger" "p50_ms=$(( (t1 - t0) / 1000000 )) err=0" "$(($(wc -l < "$work/usage.csv") - 1)) rows; target < 2 s"
if [ $quick = 0 ]; then
  m=$(timeout 600 go test -run '^$' -bench 'BenchmarkUsageTerm/everyone_by_week' -benchtime 3x ./admin | grep '^BenchmarkUsageTerm')
  row "usage over a term (BenchmarkUsageTerm, 500 students, 157,500 intervals)" "p50_ms=$(awk '{printf "%.0f", $3 / 1e6}' <<<"$m") err=0" "go test -bench, everyone by week; target < 2 s"
fi

# ---- econe-server B: the start of a lab, then RunInstances ----
econe lab 3s "$lab_students"
b=$dir pidb=$pid B=http://127.0.0.1:$pb
say "lab: $lab_students students"
m=$(timeout 120 bin/benchkit lab -endpoint "$B" -keys "$b/keys.txt" -launches 2 -within 5s -poll 1s -timeout 60s)
echo "$m" >&2
row "start of a lab ($lab_students students × 2 launches in 5 s, poll 1 Hz, boot 3 s)" "p50_ms=$(get poll_p50_ms "$m") p99_ms=$(get poll_p99_ms "$m") err=$(( $(get launch_err "$m") + $(get poll_err "$m") + $(get not_running "$m") )) rss_mb=$(rss "$pidb")" "polls; every instance running after ≤ $(get running_max_s "$m") s (target ≤ 5 s, p99 < 20 ms); launch p99 $(get launch_p99_ms "$m") ms"
mes=() mms=() ratios=() err=0
for r in $(seq "$rounds"); do
  say "RunInstances, round $r of $rounds"
  mes+=("$(load "$B" "$b/keys.txt" "" "$pidb" -c 32 -mix run=100)")
  mms+=("$(load "$M" "$keys" "" "$mpid" -c 32 -mix run=100)")
  err=$(( err + $(get err "${mes[-1]}") + $(get err "${mms[-1]}") ))
  ratios+=("$(ratio "$(get rps "${mes[-1]}")" "$(get rps "${mms[-1]}")")")
done
i=$(median_round "${ratios[@]}")
me=${mes[$i]} mm=${mms[$i]}
row "RunInstances of one, c=32" "econe_rps=$(get rps "$me") p50_ms=$(get p50_ms "$me") p99_ms=$(get p99_ms "$me") err=$err moto_rps=$(get rps "$mm") cpu_us=$(cpu_us "$(get server_cpu "$me")" "$(get rps "$me")") rss_mb=$(rss "$pidb")" "every answer durable; targets ≥ 50 × moto, p99 < 50 ms; moto p99 $(get p99_ms "$mm") ms$(rounds_note)"

# ---- the table ----
title="\`bench/compare.sh$([ $quick = 1 ] && echo ' --quick')\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, revision $(git rev-parse --short HEAD)"
bin/benchkit report -in "$rows" -json "$out.json" -md "$out.md" -title "$title"
echo "wrote $out.json and $out.md" >&2
if awk -F'\t' '$2 !~ /(^| )err=0( |$)/ {bad = 1; print "compare.sh: errors in: " $1 > "/dev/stderr"} END {exit bad}' "$rows"; then :; else exit 1; fi
