#!/usr/bin/env bash
# Runs the whole test suite: installs the real clients the end-to-end tests
# drive (AWS CLI v2, boto 2, Ansible with boto3 on Debian's python3, OpenSSH,
# OpenSSL, PuTTY, shellcheck), PostgreSQL and
# wrk (for the benchmark smoke test, bench/compare.sh --quick, run by
# bench/benchkit's TestCompareQuick) when they are missing, checks formatting
# and vet, then runs every test with -race, and a named part of the
# end-to-end tests a second time on the PostgreSQL store.
# In CI (CI=true) a prerequisite that cannot be installed fails the run.
set -euo pipefail
cd "$(dirname "$0")"

need=()
[ -x /usr/bin/aws ] || need+=(awscli)
/usr/bin/python3 -c 'import boto' 2>/dev/null || need+=(python3-boto)
# e2e/ansible_test.go runs a course playbook: Debian's ansible (amazon.aws
# 5.5.1) on Debian's python3, whose boto3 is python3-boto3.
# ansible-core alone has the command but not the collection.
[ -d /usr/lib/python3/dist-packages/ansible_collections/amazon/aws ] || need+=(ansible)
/usr/bin/python3 -c 'import boto3' 2>/dev/null || need+=(python3-boto3)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v puttygen >/dev/null || need+=(putty-tools)
# The PostgreSQL store's tests start a private cluster (store/postgres/pgtest).
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# boto3 and awscli v1 come with the machine's pyenv python (PyPI is not
# reachable): find it, and fail in CI when it is absent.
py=${ECONE_TEST_PYTHON:-}
for cand in "$py" /root/.pyenv/shims/python3 "$(command -v python3 || true)"; do
  if [ -n "$cand" ] && [ "$cand" != /usr/bin/python3 ] && "$cand" -c 'import boto3' 2>/dev/null; then
    py=$cand; break
  fi
  py=
done
if [ -z "$py" ]; then
  echo "test.sh: no python3 with boto3 found (set ECONE_TEST_PYTHON)" >&2
  [ -n "${CI:-}" ] && exit 1
else
  export ECONE_TEST_PYTHON=$py
fi

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
shellcheck test.sh .ci/run bench/*.sh scripts/*.sh
go test -race -count=1 -timeout 20m ./... "$@"
# A representative part of the end-to-end tests again, every server on
# PostgreSQL (econetest.StoreEnv): the whole package takes over 8 minutes so.
pg_e2e='TestInstancesWith(SDK|AWSCLI|Boto3)|TestSecurityGroupsWithBoto2|TestEC2Lifecycle|TestParallelLaunches'
pg_e2e+='|TestInstancesSurviveRestart|TestAddressesCLIRoundTrip|TestConcurrentAllocationSDK|TestVolumesBoto3WaitersAndPaginator'
pg_e2e+='|TestQuotaRefusalsCLI|TestKeyRotationAndDisabling|TestHadoopTraceInstances|TestTwoReplicasOneStore|TestPostgresStoreWithSDK'
ECONE_TEST_STORE=postgres go test -race -count=1 -timeout 20m -run "^($pg_e2e)\$" ./e2e
