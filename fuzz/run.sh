#!/usr/bin/env bash
# Builds and runs every fuzz target (or those named) for a bounded time each, then prints
# per target the inputs run and the crashes / timeouts / out-of-memory inputs found.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      # default 60 s, all targets
#
# Runs on a stable toolchain: cargo-fuzz passes nightly -Z flags (sanitizer, coverage
# instrumentation), which RUSTC_BOOTSTRAP=1 lets stable rustc accept. Needs cargo-fuzz
# (`cargo install cargo-fuzz`). Seed the corpora first with fuzz/seed.sh. Findings land in
# fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# KEEP_GOING=1 runs libFuzzer in fork mode, which goes on after a crash (counting them all).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export RUSTC_BOOTSTRAP=1
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(criu_image pagemap_index checkpoint_tar rootfs_tar lime avml elf_core isf_json
             kernel_walkers search btf kallsyms)
fi
[ -d corpus ] || ./seed.sh
mkdir -p logs

echo "== building the fuzz targets (release, debug assertions, AddressSanitizer)"
if ! cargo fuzz build >logs/build.txt 2>&1; then
    tail -n 30 logs/build.txt >&2
    echo "build failed (full log: fuzz/logs/build.txt)" >&2
    exit 2
fi

extra=()
if [ "${KEEP_GOING:-0}" = 1 ]; then
    extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
summary=()
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log=logs/$t.log
    touch logs/.start
    echo "== $t (${secs}s)"
    cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -timeout=1 \
        -rss_limit_mb=1024 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
    after=$(find "artifacts/$t" -type f | wc -l)
    runs=$(grep -oE '^(stat::number_of_executed_units|Done [0-9]+ runs)[: ]*[0-9]+' "$log" \
        | grep -oE '[0-9]+$' | tail -n1)
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
    found=$((after - before))
    [ "$found" -gt 0 ] && status=1
    line=$(printf '%-16s runs %10s  crashes/timeouts/ooms %d' "$t" "${runs:-?}" "$found")
    summary+=("$line")
    echo "$line"
    if [ "$found" -gt 0 ]; then
        grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "$log" | head -n 4
        find "artifacts/$t" -type f -newer logs/.start | head -n 5
    fi
done
echo
echo "== summary (${secs}s per target; logs in fuzz/logs/, findings in fuzz/artifacts/)"
printf '%s\n' "${summary[@]}"
exit $status
