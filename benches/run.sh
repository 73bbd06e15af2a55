#!/usr/bin/env bash
# Benchmark (not a test): podmortem against the reference tools, side by side in one run, on
# the shared fixtures. Prints one table: operation, podmortem's time, the reference's time,
# the ratio reference/podmortem, podmortem's peak RSS. Compare ratios, not absolute times.
#
# Usage: benches/run.sh [N]   (N runs each, the median is shown; default 5)
# PODMORTEM_BENCH_SCALE=1 adds rows on generated evidence at scale (a sparse 64 GiB LiME of
# 2,000 processes and its AVML form, a 200-process checkpoint with 4 GiB of pages), made
# once by `examples/gen_evidence.rs` into $PODMORTEM_BENCH_SCALE_DIR (default
# $CARGO_TARGET_DIR/scale/full; about 4.6 GB of real disk). "Cold" rows drop the page cache
# first when run as root, and always start from an empty podmortem cache.
# References used when present, skipped with a message otherwise: ripgrep (`rg`), GNU grep,
# Volatility 3 (`vol` on PATH, or PODMORTEM_BENCH_VOL=1 to use benches/pslist.sh's venv).
# Fixtures from $PODMORTEM_FIXTURES or ../shared/fixtures.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
N=${1:-5}
FIX=${PODMORTEM_FIXTURES:-../shared/fixtures}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
WORK=$TARGET/bench-run
mkdir -p "$WORK"
cargo build --release -q
BIN=$TARGET/release/podmortem
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export PODMORTEM_CACHE_DIR=$TMP/cache

unzst() { # unzst FILE.zst OUT: decompressed copy, made once
    [ -f "$2" ] || { zstd -qd "$1" -o "$2.part" && mv "$2.part" "$2"; }
}
LIME=$WORK/dump.lime
AVML=$WORK/dump.avml
unzst "$FIX/linux-6.1/dump.lime.zst" "$LIME"
unzst "$FIX/linux-6.1/dump.avml.zst" "$AVML"
SYMS=$FIX/linux-6.1/symbols
CKPT=$FIX/criu-counter/checkpoint-counter.tar.zst

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# one CMD...: wall ms and peak RSS KB of one run, as "MS KB" (stdout of CMD discarded)
one() {
    local s e
    s=$(date +%s%N)
    /usr/bin/time -f %M -o "$TMP/rss" "$@" >/dev/null 2>"$TMP/err" \
        || { echo "failed: $*" >&2; tail -n 5 "$TMP/err" >&2; exit 1; }
    e=$(date +%s%N)
    echo "$(( (e - s) / 1000000 )) $(cat "$TMP/rss")"
}
# time_of CMD...: median ms over N runs; the largest peak RSS (MB) goes to $TMP/maxrss (read
# it with `rss`: time_of runs in a subshell)
time_of() {
    local i out ms=() rss=0
    for i in $(seq "$N"); do
        out=$(one "$@")
        ms+=("${out% *}")
        [ "${out#* }" -gt "$rss" ] && rss=${out#* }
    done
    echo $(( rss / 1024 )) >"$TMP/maxrss"
    printf '%s\n' "${ms[@]}" | median
}
rss() { cat "$TMP/maxrss"; }

printf '%-52s %10s %12s %8s %9s\n' operation podmortem reference ratio "peak RSS"
row() { # row NAME PODMORTEM_MS RSS REF_NAME REF_MS
    local ratio="-"
    [ "$5" != "-" ] && ratio=$(awk -v a="$2" -v b="$5" 'BEGIN { printf "%.1fx", (a > 0 ? b / a : 0) }')
    printf '%-52s %8sms %10s %8s %7sMB\n' "$1" "$2" "$([ "$5" = - ] && echo "-" || echo "${5}ms")" \
        "$ratio" "$3"
    [ "$4" != "-" ] && printf '%-52s\n' "  (reference: $4)"
    return 0
}
have() { command -v "$1" >/dev/null 2>&1; }

# Warm the symbol, kernel-layout, AVML and checkpoint caches once: the rows below are warm
# opens.
"$BIN" ps "$LIME" --isf "$SYMS" >/dev/null
"$BIN" ps "$AVML" --isf "$SYMS" >/dev/null
"$BIN" ps "$CKPT" >/dev/null

PAT='FORENSIC_SECRET_[0-9a-f]+'
p=$(time_of "$BIN" ps "$LIME" --isf "$SYMS" --json); prss=$(rss)
ref=-; refname=-
if have vol; then
    ref=$(time_of vol -q -s "$SYMS" -f "$LIME" linux.pslist.PsList); refname="vol linux.pslist (warm)"
else
    echo "(Volatility 3 not on PATH: benches/pslist.sh --with-vol installs and times it)" >&2
fi
row "linux-6.1 LiME: open + ps (symbol cache warm)" "$p" "$prss" "$refname" "$ref"

p=$(time_of "$BIN" ps "$AVML" --isf "$SYMS" --json); prss=$(rss)
row "linux-6.1 AVML: open + ps (index cached)" "$p" "$prss" - -

p=$(time_of "$BIN" search "$LIME" --isf "$SYMS" --regex "$PAT" --json); prss=$(rss)
for ref_tool in rg grep; do
    have "$ref_tool" || { echo "($ref_tool not installed: skipped)" >&2; continue; }
    if [ "$ref_tool" = rg ]; then r=$(time_of rg -a -c "$PAT" "$LIME"); else r=$(time_of grep -a -c -E "$PAT" "$LIME"); fi
    row "linux-6.1 LiME: search all process memory" "$p" "$prss" "$ref_tool -a -c over the dump file" "$r"
done

p=$(time_of "$BIN" search "$LIME" --isf "$SYMS" --physical --regex "$PAT" --json); prss=$(rss)
for ref_tool in rg grep; do
    have "$ref_tool" || continue
    if [ "$ref_tool" = rg ]; then r=$(time_of rg -a -c "$PAT" "$LIME"); else r=$(time_of grep -a -c -E "$PAT" "$LIME"); fi
    row "linux-6.1 LiME: physical search" "$p" "$prss" "$ref_tool -a -c over the dump file" "$r"
done

# Triage: every rule (memory, process, credentials with the memory scan, network, kernel),
# YARA aside. Volatility answers with one plugin per question; malfind is one of them.
p=$(time_of "$BIN" triage "$LIME" --isf "$SYMS" --json); prss=$(rss)
ref=-; refname=-
if have vol; then
    ref=$(time_of vol -q -s "$SYMS" -f "$LIME" linux.malfind.Malfind)
    refname="vol linux.malfind alone (warm), one of triage's questions"
fi
row "linux-6.1 LiME: triage, all rules" "$p" "$prss" "$refname" "$ref"

# A compressed checkpoint: the first open decompresses into the cache, later ones map it.
cold=()
crss=0
for i in $(seq "$N"); do
    rm -rf "$PODMORTEM_CACHE_DIR/checkpoints"
    out=$(one "$BIN" ps "$CKPT" --json); cold+=("${out% *}")
    [ "${out#* }" -gt "$crss" ] && crss=${out#* }
done
c=$(printf '%s\n' "${cold[@]}" | median)
row "criu-counter .tar.zst: open + ps, first (decompress)" "$c" "$(( crss / 1024 ))" - -
w=$(time_of "$BIN" ps "$CKPT" --json); prss=$(rss)
row "criu-counter .tar.zst: open + ps, later (mapped)" "$w" "$prss" - -
[ "${PODMORTEM_BENCH_SCALE:-0}" = 1 ] && . benches/scale.sh
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -r)"
