#!/usr/bin/env bash
# Volatility 3 on the ISF that `podmortem isf DUMP` writes from each fixture dump's own BTF
# and kallsyms: linux.pslist must list exactly what it lists with the dwarf2json ISF (the
# fixture's golden). Not run by CI (it installs Volatility 3 from PyPI into a venv under
# target/ and takes a minute or two).
#
#   scripts/volatility_isf.sh            # all fixture dumps
#   FIXTURES=/path/to/fixtures scripts/volatility_isf.sh
set -euo pipefail
cd "$(dirname "$0")/.."

fixtures=${FIXTURES:-${PODMORTEM_FIXTURES:-../shared/fixtures}}
work=target/volatility-isf
venv=target/vol-venv
mkdir -p "$work"

# Volatility reads AVML's snappy chunks through libsnappy (Debian's libsnappy1v5).
if ! ldconfig -p | grep -q libsnappy.so.1; then
    (apt-get update -qq && apt-get install -y -qq libsnappy1v5 >/dev/null) \
        || echo "warning: libsnappy1v5 not installed: Volatility cannot read dump.avml"
fi
if [ ! -x "$venv/bin/vol" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q volatility3==2.28.2
fi
cargo build --release --locked -q
pm=target/release/podmortem
export PODMORTEM_CACHE_DIR="$PWD/$work/cache"

status=0
for spec in linux-6.1/dump.lime linux-6.1/dump.avml linux-6.1-node/dump.elf; do
    fixture=${spec%%/*}
    name=${spec#*/}
    zst="$fixtures/$fixture/$name.zst"
    [ -f "$zst" ] || { echo "skip $spec: $zst not found"; continue; }
    dump="$work/$fixture-$name"
    [ -f "$dump" ] || zstd -q -d -f "$zst" -o "$dump"
    symbols="$work/symbols-$fixture-$name"
    rm -rf "$symbols" && mkdir -p "$symbols/linux"
    start=$(date +%s.%N)
    "$pm" isf "$dump" -o "$symbols/linux/podmortem.json.xz" 2>/dev/null
    made=$(echo "$(date +%s.%N) - $start" | bc)
    start=$(date +%s.%N)
    "$venv/bin/vol" -q -f "$dump" -s "$symbols" -r json linux.pslist.PsList \
        >"$work/$fixture-$name.pslist.json" 2>"$work/$fixture-$name.vol.err"
    ran=$(echo "$(date +%s.%N) - $start" | bc)
    if python3 - "$work/$fixture-$name.pslist.json" \
        "$fixtures/$fixture/golden/$name/linux.pslist.PsList.json" <<'EOF'
import json, sys
ours, golden = (json.load(open(p)) for p in sys.argv[1:3])
rows = lambda t: sorted(json.dumps(r, sort_keys=True) for r in t)
sys.exit(0 if rows(ours) == rows(golden) else 1)
EOF
    then
        n=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" \
            "$work/$fixture-$name.pslist.json")
        printf '%-24s ISF written in %5.2f s; vol linux.pslist %5.2f s: %s tasks, equal to the golden\n' \
            "$spec" "$made" "$ran" "$n"
    else
        echo "$spec: Volatility's linux.pslist with podmortem's ISF differs from the golden"
        status=1
    fi
done
exit $status
