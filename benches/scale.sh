# Sourced by benches/run.sh when PODMORTEM_BENCH_SCALE=1 (uses its helpers: one, time_of,
# rss, row, have, $BIN, $N, $TMP, $TARGET). Rows on the generated evidence at scale.
SCALE=${PODMORTEM_BENCH_SCALE_DIR:-$TARGET/scale/full}
# Runs per row ($PODMORTEM_BENCH_SCALE_N, default 3; the physical searches run once).
N=${PODMORTEM_BENCH_SCALE_N:-3}
if [ ! -f "$SCALE/ckpt.tar.zst" ] || [ ! -f "$SCALE/scale.avml" ]; then
    echo "(generating the scale evidence into $SCALE: about a minute, 4.6 GB of disk)" >&2
    cargo run --release -q --example gen_evidence -- "$SCALE" all >&2
fi
SL=$SCALE/scale.lime
SA=$SCALE/scale.avml
SI=$SCALE/scale.isf.json
ST=$SCALE/ckpt.tar
SZ=$SCALE/ckpt.tar.zst
SPAT='PMSCALE-[a-z]+-[0-9]+-[0-9a-f]+;'
# Page cache dropped only when we may (root); the podmortem cache always emptied.
drop_caches() {
    sync
    if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi
    [ -n "${KEEP_CACHE:-}" ] || rm -rf "$PODMORTEM_CACHE_DIR"
}
[ -w /proc/sys/vm/drop_caches ] && COLD="page cache dropped" || COLD="podmortem cache empty"
# cold_of CMD...: median ms over N cold runs; peak RSS (MB) to $TMP/maxrss
cold_of() {
    local i out ms=() rss=0
    for i in $(seq "$N"); do
        drop_caches
        out=$(one "$@")
        ms+=("${out% *}")
        [ "${out#* }" -gt "$rss" ] && rss=${out#* }
    done
    echo $(( rss / 1024 )) >"$TMP/maxrss"
    printf '%s\n' "${ms[@]}" | median
}

echo "-- scale: $(du -h --apparent-size "$SL" | cut -f1) LiME ($(du -h "$SL" | cut -f1) on disk), $(du -h "$SA" | cut -f1) AVML, checkpoint $(du -h --apparent-size "$ST" | cut -f1) tar / $(du -h "$SZ" | cut -f1) tar.zst; cold = $COLD"
p=$(cold_of "$BIN" ps "$SL" --isf "$SI" --json); prss=$(rss)
row "64 GiB LiME, 2,040 tasks: open + ps, cold" "$p" "$prss" - -
p=$(time_of "$BIN" ps "$SL" --isf "$SI" --json); prss=$(rss)
row "64 GiB LiME: open + ps, warm" "$p" "$prss" - -
p=$(cold_of "$BIN" ps "$SA" --isf "$SI" --json); prss=$(rss)
r=-; rname=-
if [ -w /proc/sys/vm/drop_caches ]; then
    r=$(cold_of cat "$SA"); rname="cat of the AVML file, cold"
fi
row "64 GiB AVML: first open + ps (blocks found from the end, read as far as needed)" "$p" "$prss" "$rname" "$r"
"$BIN" ps "$SA" --isf "$SI" >/dev/null
p=$(time_of "$BIN" ps "$SA" --isf "$SI" --json); prss=$(rss)
row "64 GiB AVML: open + ps, warm (block map and process list cached)" "$p" "$prss" - -
if [ -w /proc/sys/vm/drop_caches ]; then
    p=$(KEEP_CACHE=1 cold_of "$BIN" ps "$SA" --isf "$SI" --json); prss=$(rss)
    row "64 GiB AVML: open + ps, page cache dropped, podmortem's cache kept" "$p" "$prss" - -
fi
p=$(time_of "$BIN" triage "$SL" --isf "$SI" --json); prss=$(rss)
row "64 GiB LiME: triage, all rules (2,040 processes)" "$p" "$prss" - -
p=$(time_of "$BIN" search "$SL" --isf "$SI" --regex "$SPAT" --json); prss=$(rss)
row "64 GiB LiME: search all process memory (491 MB)" "$p" "$prss" - -
p=$(time_of "$BIN" search "$SA" --isf "$SI" --regex "$SPAT" --json); prss=$(rss)
row "64 GiB AVML: search all process memory" "$p" "$prss" - -
p=$(N=1 time_of "$BIN" search "$SL" --isf "$SI" --physical --regex "$SPAT" --json); prss=$(rss)
r=-; rname=-
if have rg; then r=$(N=1 time_of rg -a -c "$SPAT" "$SL"); rname="rg -a -c over the LiME file"; fi
row "64 GiB LiME: physical search" "$p" "$prss" "$rname" "$r"

p=$(cold_of "$BIN" ps "$SZ" --json); prss=$(rss)
r=-; rname=-
if have zstd; then r=$(cold_of zstd -qdc "$SZ"); rname="zstd -d of the archive to /dev/null, cold"; fi
row "4 GiB checkpoint .tar.zst: first open + ps" "$p" "$prss" "$rname" "$r"
if have zstd; then
    # What an analyst does by hand before any tool can read it: decompress to a file.
    r=$(cold_of sh -c "zstd -qdf '$SZ' -o '$TMP/unpacked.tar' && sync")
    rm -f "$TMP/unpacked.tar"
    row "4 GiB checkpoint .tar.zst: first open + ps" "$p" "$prss" "zstd -d to a file + sync, cold" "$r"
fi
"$BIN" ps "$SZ" >/dev/null
p=$(time_of "$BIN" ps "$SZ" --json); prss=$(rss)
row "4 GiB checkpoint .tar.zst: later open + ps" "$p" "$prss" - -
p=$(time_of "$BIN" search "$ST" --regex "$SPAT" --json); prss=$(rss)
row "4 GiB checkpoint .tar: search all memory" "$p" "$prss" - -
p=$(time_of "$BIN" search "$SZ" --regex "$SPAT" --json); prss=$(rss)
row "4 GiB checkpoint .tar.zst: search (cached copy)" "$p" "$prss" - -
p=$(time_of "$BIN" search "$SCALE/ckpt" --regex "$SPAT" --json); prss=$(rss)
row "4 GiB checkpoint folder: search all memory" "$p" "$prss" - -
p=$(time_of "$BIN" triage "$ST" --json); prss=$(rss)
row "4 GiB checkpoint .tar: triage, all rules" "$p" "$prss" - -
