#!/usr/bin/env bash
# Runs moto's own EC2 tests (moto 5.2.1, server mode) against a fresh
# econe-server on the sim. It never fetches anything: pass the `tests`
# directory of a moto source tree (e.g. from
# `git --git-dir=MOTO.git archive 5.2.1 tests | tar x`).
#
#   bench/moto-suite.sh MOTO_TESTS_DIR [RESULTS_FILE] [-- PYTEST_ARGS...]
#
# Each test gets a student of its own (bench/moto_econe.py), which is what
# moto's /moto-api/reset stands for; that call is switched off with moto's
# MOTO_CALL_RESET_API=false, so nothing outside the EC2 API reaches econe.
# Prints the pass/fail counts and the failures' classes
# (bench/moto-classes.tsv, bench/moto_classes.py); RESULTS_FILE (default
# moto-results.txt) gets one line per test: OUTCOME nodeid :: first line of
# the failure, and RESULTS_FILE.log pytest's output (add --tb=short to PYTEST_ARGS to see
# where each test failed).
# PYTHON (default the pyenv python3) needs boto3, moto, pytest and
# freezegun; the last two may come from PYTHONPATH (e.g. the files of
# Debian's python3-pytest and python3-freezegun).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,19p' "$0"; exit 2; }
tests=$(cd "$1" && pwd)
shift
results=$PWD/moto-results.txt
if [ $# -ge 1 ] && [ "$1" != "--" ]; then results=$(realpath -m "$1"); shift; fi
[ "${1:-}" = "--" ] && shift
[ -f "$tests/test_ec2/conftest.py" ] || { echo "$tests: not moto's tests directory" >&2; exit 2; }
python=${PYTHON:-/root/.pyenv/shims/python3}

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
bin=$work/econe-server
conf=$work/econe.yaml
trap '"$bin" -c "$conf" stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$bin" ./cmd/econe-server)

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/templates"
# moto's sample images (moto/ec2/resources/amis.json) and the instance
# types its tests launch that the built-in catalog lacks.
cat > "$work/templates/moto.yaml" <<'YAML'
instance_types:
  - {name: t1.micro, vcpus: 1, memory_mib: 627, price_per_hour: 0.02}
  - {name: t2.nano, vcpus: 1, memory_mib: 512, price_per_hour: 0.0058}
  - {name: t3.nano, vcpus: 2, memory_mib: 512, price_per_hour: 0.0052}
  - {name: t3a.nano, vcpus: 2, memory_mib: 512, price_per_hour: 0.0047}
  - {name: t3a.micro, vcpus: 2, memory_mib: 1024, price_per_hour: 0.0094}
  - {name: t4g.nano, vcpus: 2, memory_mib: 512, architecture: arm64, price_per_hour: 0.0042}
images:
  - {id: ami-12c6146b, name: Windows_Server-2008-R2_SP1-English-64Bit-Base-2017.10.13, platform: windows, root_device_name: /dev/sda1, owner_id: "801119661308", owner_alias: amazon}
  - {id: ami-03cf127a, name: Windows_Server-2016-English-Nano-Base-2017.10.13, platform: windows, root_device_name: /dev/sda1, owner_id: "801119661308", owner_alias: amazon}
  - {id: ami-fa7cdd89, name: suse-sles-11-sp4-v20151207-pv-ssd-x86_64, root_device_name: /dev/sda, owner_id: "013907871322", owner_alias: amazon}
  - {id: ami-f4cf1d8d, name: Windows_Server-2012-R2_RTM-English-64Bit-SQL_2016_SP1_Standard-2017.10.13, platform: windows, root_device_name: /dev/sda1, owner_id: "801119661308", owner_alias: amazon}
YAML
# No transitional delays (moto has none) and no count limits (moto has
# none; the accounts its tests are verified on have raised ones).
cat > "$conf" <<YAML
port: $port
data_dir: $work/data
templates_dir: $work/templates
availability_zones: [us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1e, us-east-1f]
log: {file: $work/server.log, level: warn}
backend: {name: sim, sim: {boot_delay: 0s, stop_delay: 0s, terminate_delay: 0s, volume_delay: 0s, snapshot_delay: 0s}}
quota: {max_instances: null, max_vcpus: null, max_addresses: null}
YAML
"$bin" -c "$conf" start

export TEST_SERVER_MODE=true TEST_SERVER_MODE_ENDPOINT=http://127.0.0.1:$port MOTO_CALL_RESET_API=false
export ECONE_BIN=$bin ECONE_CONF=$conf ECONE_MOTO_RESULTS=$results
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export PYTHONPATH=$repo/bench${PYTHONPATH:+:$PYTHONPATH}
files=(test_instances test_amis test_elastic_block_store test_elastic_ip_addresses test_key_pairs
  test_security_groups test_tags test_regions test_availability_zones_and_regions
  test_account_attributes test_instance_types test_instance_type_offerings test_launch_templates)
args=()
for f in "${files[@]}"; do args+=("tests/test_ec2/$f.py"); done
[ $# -gt 0 ] && args=("$@")
cd "$(dirname "$tests")"
"$python" -m pytest -p moto_econe -p no:cacheprovider -q --tb=no -o addopts= "${args[@]}" > "$results.log" 2>&1 || true
tail -n 1 "$results.log"
echo "pass/fail counts (per test): $(awk '{print $1}' "$results" | sort | uniq -c | tr -s ' \n' ' ')"
echo "results: $results (pytest's output: $results.log)"
# Each failure's class against EC2's reference (bench/moto-classes.tsv);
# fails when one is not classed.
"$python" "$repo/bench/moto_classes.py" "$results"
