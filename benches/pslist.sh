#!/usr/bin/env bash
# Benchmark (not a test): `podmortem ps --json` on the linux-6.1 LiME fixture with a cold and a
# warm ISF cache (with the ISF, and with no ISF: the dump's own BTF and kallsyms), optionally against Volatility 3 `linux.pslist` (cold and warm too: Volatility
# caches its own ISF processing). Prints the median of N runs of each, the ratios vol/podmortem,
# and whether both list the same PIDs (run both in one go on the same machine: compare ratios,
# not absolute times).
# Usage: benches/pslist.sh [--with-vol] [N [NVOL]]   (N default 5, NVOL default 3)
#   --with-vol or PODMORTEM_BENCH_VOL=1: also time Volatility 3 from PyPI, installed into
#   target/bench-venv (volatility3==2.28.*, else the newest 2.x). Without it, podmortem's PIDs
#   are checked against the fixture's Volatility golden instead.
# Fixtures from $PODMORTEM_FIXTURES or ../shared/fixtures.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
WITH_VOL=${PODMORTEM_BENCH_VOL:-0}
[ "${1:-}" = --with-vol ] && { WITH_VOL=1; shift; }
N=${1:-5}
NVOL=${2:-3}
FIX=${PODMORTEM_FIXTURES:-../shared/fixtures}/linux-6.1
SYMS=$FIX/symbols
WORK=target/bench-pslist
DUMP=$WORK/dump.lime
mkdir -p "$WORK"
[ -f "$DUMP" ] || { zstd -qd "$FIX/dump.lime.zst" -o "$DUMP.part" && mv "$DUMP.part" "$DUMP"; }
cargo build --release -q
BIN=target/release/podmortem
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-pslist.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_ms() { # run "$@" once, stdout to $OUT; prints wall time in ms; dies if the command fails
    local s e
    s=$(date +%s%N)
    if ! "$@" >"$OUT" 2>"$TMP/stderr"; then
        echo "failed: $*" >&2; tail -n 20 "$TMP/stderr" >&2; exit 1
    fi
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
}
# bench NAME RUNS CACHEVAR CMD...: median cold time (each run with CACHEVAR pointing at a fresh
# empty folder) and median warm time (CACHEVAR at a folder filled by one untimed run), in s.
# Leaves the output of the last warm run in $TMP/NAME.out.
bench() {
    local name=$1 runs=$2 var=$3 i cold warm
    shift 3
    OUT=$TMP/$name.out
    cold=$(for i in $(seq "$runs"); do
        mkdir "$TMP/$name-cold$i"
        run_ms env "$var=$TMP/$name-cold$i" "$@"
        rm -rf "$TMP/$name-cold$i"
    done | median)
    mkdir "$TMP/$name-warm"
    run_ms env "$var=$TMP/$name-warm" "$@" >/dev/null # untimed: fills the cache
    warm=$(for i in $(seq "$runs"); do run_ms env "$var=$TMP/$name-warm" "$@"; done | median)
    echo "$cold $warm" | awk '{printf "%.3f %.3f", $1/1000, $2/1000}'
}

# The set of PIDs, one per line, sorted: from podmortem's JSON, Volatility's JSON or its text table.
pids_json() { # FILE KEY
    if command -v jq >/dev/null; then jq -r ".[].$2" "$1"
    else python3 -c 'import json,sys; [print(r[sys.argv[2]]) for r in json.load(open(sys.argv[1]))]' "$1" "$2"
    fi | sort -nu
}
pids_vol_text() { # vol's default renderer: tab-separated, a header row containing a PID column
    awk -F'\t' '!c { for (i = 1; i <= NF; i++) if ($i == "PID") c = i; next }
                $c ~ /^[0-9]+$/ { print $c }' "$1" | sort -nu
}

r=$(bench podmortem "$N" PODMORTEM_CACHE_DIR "$BIN" ps --json "$DUMP" --isf "$SYMS")
read -r pm_cold pm_warm <<<"$r"
pids_json "$TMP/podmortem.out" pid >"$TMP/pm.pids"
# The same with no ISF: symbols from the dump's own BTF and kallsyms (cold: decoded; warm:
# the cached index).
r=$(bench own "$N" PODMORTEM_CACHE_DIR "$BIN" ps --json "$DUMP")
read -r own_cold own_warm <<<"$r"
pids_json "$TMP/own.out" pid >"$TMP/own.pids"
cmp -s "$TMP/pm.pids" "$TMP/own.pids" || { echo "ps without ISF lists other PIDs" >&2; exit 1; }

if [ "$WITH_VOL" = 1 ]; then
    VENV=target/bench-venv
    if [ ! -x "$VENV/bin/vol" ]; then
        echo "installing Volatility 3 into $VENV ..." >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check 'volatility3==2.28.*' \
            || "$VENV/bin/pip" install -q --disable-pip-version-check 'volatility3>=2,<3'
    fi
    VOL="$VENV/bin/vol"
    VOLVER=$(XDG_CACHE_HOME=$TMP "$VENV/bin/python" -c 'import volatility3.framework as f; print(f.constants.PACKAGE_VERSION)')
    r=$(bench vol "$NVOL" XDG_CACHE_HOME "$VOL" -f "$DUMP" -s "$SYMS" linux.pslist)
    read -r vol_cold vol_warm <<<"$r"
    pids_vol_text "$TMP/vol.out" >"$TMP/ref.pids"
    REF="vol $VOLVER"
else
    pids_json "$FIX/golden/dump.lime/linux.pslist.PsList.json" PID >"$TMP/ref.pids"
    REF="Volatility golden (golden/dump.lime/linux.pslist.PsList.json)"
fi

echo "linux-6.1 dump.lime ($(stat -c %s "$DUMP") B), median wall time in s (podmortem: $N runs, vol: $NVOL runs):"
printf "  %-40s %8s %8s\n" tool "cold s" "warm s"
printf "  %-40s %8s %8s\n" "podmortem ps --json (ISF)" "$pm_cold" "$pm_warm"
printf "  %-40s %8s %8s\n" "podmortem ps --json (own BTF+kallsyms)" "$own_cold" "$own_warm"
if [ "$WITH_VOL" = 1 ]; then
    printf "  %-40s %8s %8s\n" "vol $VOLVER linux.pslist" "$vol_cold" "$vol_warm"
    awk -v a="$vol_cold" -v b="$pm_cold" -v c="$vol_warm" -v d="$pm_warm" \
        'BEGIN {printf "  %-40s %8.1f %8.1f\n", "ratio vol / podmortem", a/b, c/d}'
fi
n_pm=$(wc -l <"$TMP/pm.pids"); n_ref=$(wc -l <"$TMP/ref.pids")
if [ "$n_pm" -gt 0 ] && cmp -s "$TMP/pm.pids" "$TMP/ref.pids"; then
    echo "same PID set: yes ($n_pm PIDs, podmortem vs $REF)"
else
    echo "same PID set: no (podmortem $n_pm PIDs, $REF $n_ref PIDs)"
    diff "$TMP/pm.pids" "$TMP/ref.pids" | grep '^[<>]' | sed 's/^</  only podmortem:/; s/^>/  only reference:/' || true
    exit 1
fi
