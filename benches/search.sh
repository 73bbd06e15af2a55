#!/usr/bin/env bash
# Benchmark (not a test): podmortem search over the criu-counter fixture vs grep -c -a over
# the same pages files. Prints the median of N runs of each and their ratio (run both in one
# go on the same machine: compare ratios, not absolute times).
# Usage: benches/search.sh [N]   (fixtures from $PODMORTEM_FIXTURES or ../shared/fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-15}
FIX=${PODMORTEM_FIXTURES:-../shared/fixtures}/criu-counter
WORK=target/bench-search
mkdir -p "$WORK"
[ -f "$WORK/checkpoint-counter.tar" ] || zstd -qdc "$FIX/checkpoint-counter.tar.zst" > "$WORK/checkpoint-counter.tar"
[ -d "$WORK/x" ] || { mkdir -p "$WORK/x" && tar xf "$WORK/checkpoint-counter.tar" -C "$WORK/x"; }
cargo build --release -q
BIN=target/release/podmortem
RE='RANDOM_[0-9]+_KEY'

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { # runs "$@" N times, prints the median wall time in ms
    for _ in $(seq "$N"); do
        s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
    done | median | awk '{printf "%.3f", $1/1000}'
}

pm_tar=$(time_ms "$BIN" search "$WORK/checkpoint-counter.tar" --regex "$RE" --json)
pm_dir=$(time_ms "$BIN" search "$WORK/x" --regex "$RE" --json)
grep_t=$(time_ms grep -c -a -E "$RE" "$WORK"/x/checkpoint/pages-1.img "$WORK"/x/checkpoint/pages-2.img "$WORK"/x/checkpoint/pages-3.img)
echo "median of $N runs (ms):"
echo "  podmortem search (tar, all processes, vaddr per hit): $pm_tar"
echo "  podmortem search (extracted folder):                   $pm_dir"
echo "  grep -c -a -E on the pages files (no addresses):       $grep_t"
awk -v a="$pm_tar" -v b="$grep_t" 'BEGIN {printf "  ratio podmortem(tar) / grep: %.2f\n", a/b}'
