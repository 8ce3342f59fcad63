# shellcheck shell=bash
# Sourced by bench/runab.sh and bench/wrkab.sh after they set old_rev: a
# work directory removed on exit with the servers and pids listed in
# servers/pids, OLD_REV's econe-server built as $work/bin/econe-old and the
# working tree's as $work/bin/econe-new, benchkit and ec2load in bin/.
old_rev=${old_rev:?set by the script that sources bench/ablib.sh}
tools=${ECONE_SHARED:-../shared}/tools
work=$(mktemp -d)
servers=() pids=()
cleanup() {
  for c in "${servers[@]}"; do "${c%% *}" -c "${c#* }" stop >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  git worktree remove --force "$work/old-tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin" bin
git worktree add --detach "$work/old-tree" "$old_rev" >/dev/null 2>&1
(cd "$work/old-tree" && go build -o "$work/bin/econe-old" ./cmd/econe-server)
go build -o "$work/bin/econe-new" ./cmd/econe-server
go build -o bin/benchkit ./bench/benchkit
(cd "$tools/ec2load" && go build -o "$OLDPWD/bin/ec2load" .)
get() { grep -oE "(^| )$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
