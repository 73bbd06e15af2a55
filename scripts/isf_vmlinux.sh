#!/usr/bin/env bash
# `podmortem isf --vmlinux` on the linux-6.1 fixture's real kernel, against dwarf2json:
# downloads the kernel's -dbg package (vmlinux with DWARF, System.map) from Debian with
# apt-get, writes the ISF, compares it with the fixture's dwarf2json ISF (every base type,
# user type, field, enum and symbol), runs the linux-6.1 kernel tests with it instead of the
# fixture's ISF, and prints time and peak RSS next to dwarf2json's (fixture timings.json).
# Not run by CI (an 800 MB download).
#
#   scripts/isf_vmlinux.sh [WORKDIR]      # default target/isf-vmlinux
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${PODMORTEM_FIXTURES:-../shared/fixtures}
work=${1:-target/isf-vmlinux}
pkg=linux-image-6.1.0-56-amd64-dbg
mkdir -p "$work"
vmlinux=$work/root/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64
map=$work/root/usr/lib/debug/boot/System.map-6.1.0-56-amd64
if [ ! -f "$vmlinux" ]; then
    if ! ls "$work"/"${pkg}"_*.deb >/dev/null 2>&1; then
        (cd "$work" && { apt-get download "$pkg" || { apt-get update -qq && apt-get download "$pkg"; }; })
    fi
    dpkg-deb -x "$(ls "$work"/${pkg}_*.deb | head -n1)" "$work/root"
fi
cargo build --release --locked -q
out=$work/symbols/linux/podmortem-vmlinux.json.xz
mkdir -p "$(dirname "$out")"
/usr/bin/time -v target/release/podmortem isf --vmlinux "$vmlinux" --system-map "$map" \
    -o "$out" --force 2>"$work/time.txt"
python3 - "$out" "$fixtures/linux-6.1/symbols/linux/linux-6.1.0-56-amd64.json.xz" \
    "$work/time.txt" "$fixtures/linux-6.1/timings.json" <<'PY'
import json, lzma, re, sys
ours, theirs = (json.load(lzma.open(p)) for p in sys.argv[1:3])
bad = 0
for section in ("base_types", "user_types", "enums", "symbols"):
    a, b = ours[section], theirs[section]
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    bad += len(diff)
    print(f"{section:11} ours {len(a):7}  dwarf2json {len(b):7}  different {len(diff)}"
          + (f"  e.g. {diff[:5]}" if diff else ""))
t = open(sys.argv[3]).read()
wall = re.search(r"Elapsed .*: (\S+)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
d = json.load(open(sys.argv[4]))["dwarf2json"]
def secs(s):
    parts = [float(x) for x in s.split(":")]
    return sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
print(f"podmortem isf --vmlinux: {secs(wall):6.1f} s, peak RSS {rss / 1024:7.0f} MiB")
print(f"dwarf2json (timings.json): {secs(d['wall']):6.1f} s, peak RSS {d['max_rss_kb'] / 1024:7.0f} MiB")
print(f"ratio: {secs(d['wall']) / secs(wall):.1f}x faster, {d['max_rss_kb'] / rss:.1f}x less memory")
sys.exit(1 if bad else 0)
PY
echo "== the linux-6.1 kernel tests with this ISF instead of the fixture's"
PODMORTEM_TEST_ISF_DIR="$PWD/$(dirname "$out")" PODMORTEM_REQUIRE_FIXTURES=1 \
    cargo test --release --locked -q --test integration -- kernel_dump:: kernel_walkers:: \
    kernel_vma_hashes:: kernel_symbols:: 2>&1 | grep -E '^test result|FAILED|panicked'
