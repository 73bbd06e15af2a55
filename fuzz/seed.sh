#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs: members and small slices of the shared
# fixtures (../shared/fixtures, or $PODMORTEM_FIXTURES), the bundled demo checkpoint, and
# small hand-built inputs. Idempotent; the corpus is not committed (see .gitignore).
#
#   fuzz/seed.sh            # from anywhere
#
# Needs python3, tar, zstd (for the fixtures; without them only the demo and hand-built
# seeds are written).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
fixtures=${PODMORTEM_FIXTURES:-$root/../shared/fixtures}
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in criu_image pagemap_index checkpoint_tar rootfs_tar lime avml elf_core isf_json \
         kernel_walkers search btf kallsyms; do
    mkdir -p "$corpus/$t"
done

# The checkpoints: the demo, and the fixtures' tars (decompressed into $work).
tars=("$root/assets/demo-checkpoint.tar")
if command -v zstd >/dev/null && [ -d "$fixtures" ]; then
    for name in criu-counter criu-counter-criu42; do
        src=$fixtures/$name/checkpoint-counter.tar.zst
        [ -f "$src" ] || src=$(ls "$fixtures/$name"/*.tar.zst 2>/dev/null | head -n1 || true)
        [ -n "$src" ] && [ -f "$src" ] || continue
        zstd -q -dc "$src" > "$work/$name.tar"
        tars+=("$work/$name.tar")
    done
    # Heads of the memory dumps (streamed: only the first MiBs are decompressed).
    for dump in linux-6.1/dump.lime linux-6.1/dump.avml linux-6.1-node/dump.elf; do
        src=$fixtures/$dump.zst
        [ -f "$src" ] || continue
        (zstd -q -dc "$src" 2>/dev/null || true) | head -c $((2 << 20)) > "$work/$(basename "$dump").head"
    done
    cp "$fixtures/isf-small/small.json" "$work/small.json" 2>/dev/null || true
fi

python3 - "$corpus" "$work" "${tars[@]}" <<'PY'
import gzip, hashlib, io, lzma, os, struct, sys, tarfile

corpus, work, tars = sys.argv[1], sys.argv[2], sys.argv[3:]

def put(target, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)

# criu_image: selector byte (index in the target's KINDS table) + the image file.
kinds = ["pstree", "core", "mm", "pagemap", "files", "fdinfo", "fs", "ids", "utsns",
         "stats", "inventory"]
def kind_of(member):
    base = os.path.basename(member)
    if base == "stats-dump":
        return kinds.index("stats")
    for i, k in enumerate(kinds):
        if base == k + ".img" or base.startswith(k + "-"):
            return i
    return None

for t in tars:
    with tarfile.open(t) as tf:
        members = {m.name.lstrip("./"): tf.extractfile(m).read()
                   for m in tf.getmembers() if m.isfile()}
    for name, data in members.items():
        k = kind_of(name)
        if k is not None and len(data) < (1 << 20) and not name.startswith("checkpoint/pages-"):
            put("criu_image", bytes([k]) + data)
            put("criu_image", bytes([k | 0x80]) + data[8 if k != 10 else 4:])
        if name == "rootfs-diff.tar":
            put("rootfs_tar", b"\0\0" + data)
            deleted = members.get("deleted.files", b'["/etc/removed", "tmp/x"]')
            put("rootfs_tar", struct.pack("<H", len(deleted)) + deleted + data)
    # checkpoint_tar: the whole tar when small, else the same members with pages files cut
    # to 64 KiB (runs beyond the cut become "truncated" warnings).
    raw = open(t, "rb").read()
    if len(raw) <= (1 << 20):
        put("checkpoint_tar", raw)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in sorted(members.items()):
            if os.path.basename(name).startswith("pages-"):
                data = data[:64 << 10]
            if len(data) > (256 << 10):
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    put("checkpoint_tar", out.getvalue())

# pagemap_index: pages length (u16, x64) + 17-byte entries (vaddr, nr_pages, mode).
def entry(vaddr, nr, mode):
    return struct.pack("<QQB", vaddr, nr, mode)
put("pagemap_index", struct.pack("<H", 256) + entry(0x1000, 2, 0x08 | 4) + entry(0x5000, 1, 0x08 | 2)
    + entry(0x8000, 1, 0x08 | 1) + entry(0x9000, 3, 0))
put("pagemap_index", struct.pack("<H", 100) + entry(0x7f0000000000, 40, 0x10 | 0x20)
    + entry(0x7f0000001000, 4, 0) + entry(0x400000, 1 << 40, 0x80))

# Memory dumps: the 2 MiB heads, and miniatures built from their first headers and bytes.
def read(name):
    p = os.path.join(work, name)
    return open(p, "rb").read() if os.path.exists(p) else None

lime = read("dump.lime.head")
if lime:
    put("lime", lime[: 64 << 10])
    put("lime", lime)
    magic, ver, start, end = struct.unpack_from("<IIQQ", lime)
    mini = b""
    for i, phys in enumerate([start, start + 0x100000, 0x7fff000]):
        mini += struct.pack("<IIQQQ", magic, ver, phys, phys + 0xfff, 0)
        mini += lime[32 + i * 4096: 32 + (i + 1) * 4096]
    put("lime", mini)
    put("lime", mini + b"\0" * 100)
put("lime", struct.pack("<IIQQQ", 0x4C694D45, 1, 0x1000, 0x1fff, 0) + bytes(range(256)) * 16)

avml = read("dump.avml.head")
if avml:
    put("avml", avml[: 256 << 10])
    magic, ver, start, end = struct.unpack_from("<IIQQ", avml)
    p, chunks, produced = 32, [], 0
    while len(chunks) < 4 and p + 4 <= len(avml):
        kind = avml[p]
        ln = int.from_bytes(avml[p + 1:p + 4], "little")
        body = avml[p + 4:p + 4 + ln]
        if kind == 0x01:
            produced += ln - 4
        elif kind == 0x00:
            v, shift, i = 0, 0, 4
            while True:
                b = body[i]; v |= (b & 0x7f) << shift; shift += 7; i += 1
                if b < 0x80: break
            produced += v
        chunks.append(avml[p:p + 4 + ln])
        p += 4 + ln
    stream = b"".join(chunks)
    mini = b""
    for phys in [start, start + 0x200000]:
        mini += struct.pack("<IIQQQ", magic, ver, phys, phys + produced - 1, 0)
        mini += stream + struct.pack("<Q", len(stream))
    put("avml", mini)
    put("avml", mini[: len(mini) - 100])

elf = read("dump.elf.head")
if elf:
    put("elf_core", elf[: 64 << 10])
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    hdr = bytearray(elf[:phoff + phentsize * phnum])
    data = b""
    base = len(hdr)
    for i in range(phnum):
        at = phoff + i * phentsize
        ptype, flags, off, vaddr, paddr, filesz, memsz = struct.unpack_from("<IIQQQQQ", hdr, at)
        if ptype == 4:  # PT_NOTE: keep it whole
            seg = elf[off:off + filesz]
            memsz = len(seg)
        else:
            seg = elf[off:off + 4096] if off + 4096 <= len(elf) else bytes(4096)
            memsz = 8192
        struct.pack_into("<IIQQQQQ", hdr, at, ptype, flags, base + len(data), vaddr, paddr,
                         len(seg), memsz)
        data += seg
    put("elf_core", bytes(hdr) + data)

# isf_json: the small ISF, compressed both ways, and a minimal document.
small = read("small.json")
if small:
    put("isf_json", small)
    put("isf_json", gzip.compress(small))
    put("isf_json", lzma.compress(small, format=lzma.FORMAT_XZ))
put("isf_json", b'{"metadata": {"format": "6.2.0"}, "base_types": {"pointer": {"size": 8, '
    b'"signed": false, "kind": "int", "endian": "little"}}, "user_types": {"task_struct": '
    b'{"size": 16, "kind": "struct", "fields": {"pid": {"offset": 4, "type": {"kind": "base", '
    b'"name": "pointer"}}}}}, "enums": {"e": {"size": 4, "base": "pointer", "constants": '
    b'{"A": 1}}}, "symbols": {"init_task": {"address": 4096, "type": {"kind": "struct", '
    b'"name": "task_struct"}}}}')

# kernel_walkers: flags byte + memory at BASE. A task list with two tasks, an mm whose
# maple tree root is a leaf, a struct path, files (offsets: fuzz/src/kernel_isf.rs).
BASE = 0xffff888000000000
def mem_seed(list_kernel):
    m = bytearray(0x1400)
    def q(off, v): struct.pack_into("<Q", m, off, v)
    def d(off, v): struct.pack_into("<I", m, off, v)
    t1, t2, mm, path, dent = 0xc00, 0x1000, 0x400, 0x800, 0x900
    q(0x10, BASE + t1 + 0x10); q(t1 + 0x10, BASE + t2 + 0x10); q(t2 + 0x10, BASE + 0x10)
    for t, pid, comm in [(t1, 1, b"init"), (t2, 42, b"evil")]:
        d(t + 0x20, pid); d(t + 0x24, pid); m[t + 0x30:t + 0x30 + len(comm)] = comm
        q(t + 0x40, BASE + t1); q(t + 0x68, BASE + mm); q(t + 0x78, BASE + t + 0x78)
        q(t + 0x100, BASE + 0xb00); q(t + 0x108, BASE + 0xb80)
    q(mm + 0x120, 0x7ffd0000); q(mm + 0x128, 0x7ffd0100)
    if list_kernel:
        q(mm + 0x8, BASE + 0x480)          # mmap -> a vm_area_struct
    else:
        q(mm + 0x48, BASE + 0x500 | 0x6)   # ma_root -> a maple node (leaf_64 encoding)
    q(0x480 + 0x18, 0x400000); q(0x480 + 0x30, 0x401000); q(0x480 + 0x48, 5)
    q(path, BASE + 0xa00); q(path + 8, BASE + dent)
    q(dent + 0x8, BASE + dent); q(dent + 0x10, BASE + 0x990); d(dent + 0x18, 3)
    m[0x990:0x993] = b"etc"
    q(0xb00 + 0x10, BASE + 0xa00); q(0xb00 + 0x18, BASE + dent)
    q(0xb80 + 0x18, BASE + 0xbc0); d(0xbc0, 4); q(0xbc0 + 0x10, BASE + 0xbe0)
    q(0xbe0, BASE + 0x700)
    return bytes([list_kernel]) + bytes(m)
put("kernel_walkers", mem_seed(0))
put("kernel_walkers", mem_seed(1))
put("kernel_walkers", b"\0" + bytes(4096))

# search: pattern length, pattern, layout byte, haystack.
for pat, layout, hay in [
    (b"RANDOM_[0-9]+_KEY", 0x01, b"xx RANDOM_1432_KEY yy " * 20),
    (b"(?i)secret", 0x8b, b"a SeCrEt and a secret\x00\xff" * 30),
    (b"\\x00{4,}", 0x06, bytes(100) + b"abc" + bytes(5)),
    (b"ab|b", 0x41, b"ababababab"),
]:
    put("search", bytes([len(pat)]) + pat + bytes([layout]) + hay)

# btf: small blobs (a struct with a bitfield, an enum, a typedef, a pointer), both orders;
# kallsyms: a small table in the 6.1 layout with its token table offset in front.
def btf_blob(le):
    e = "<" if le else ">"
    strs = b"\0int\0task_struct\0comm\0flags\0state\0IDLE\0pair_t\0"
    off = {n: strs.index(n.encode() + b"\0") for n in ["int", "task_struct", "comm", "flags", "state", "IDLE", "pair_t"]}
    t = b""
    t += struct.pack(e + "III", off["int"], 1 << 24, 4) + struct.pack(e + "I", (1 << 24) | 32)
    t += struct.pack(e + "III", off["task_struct"], (4 << 24) | (1 << 31) | 2, 16)
    t += struct.pack(e + "III", off["comm"], 1, 0) + struct.pack(e + "III", off["flags"], 1, (3 << 24) | 32)
    t += struct.pack(e + "III", off["state"], (6 << 24) | 1, 4) + struct.pack(e + "Ii", off["IDLE"], -1)
    t += struct.pack(e + "III", 0, 2 << 24, 2)
    t += struct.pack(e + "III", off["pair_t"], 8 << 24, 2)
    magic = b"\x9f\xeb" if le else b"\xeb\x9f"
    return magic + b"\x01\x00" + struct.pack(e + "IIIII", 24, 0, len(t), len(t), len(strs)) + t + strs
put("btf", btf_blob(True))
put("btf", btf_blob(False))

def kallsyms_seed():
    names = [b"T_text"] + [b"tfunc_%04d" % i for i in range(300)] + [b"Dlinux_banner"]
    used = sorted(set(b"".join(names)))
    tokens = [bytes([c]) if c in used else b"x_" for c in range(256)]
    out = bytearray(64)
    text = 0xffffffff81000000
    addrs = [text] + [text + 16 * (i + 1) for i in range(300)] + [text + 0x100000]
    for a in addrs:
        out += struct.pack("<i", (text - 1 - a) if a >= text else a)
    while len(out) % 8: out += b"\0"
    out += struct.pack("<Q", text) + struct.pack("<I", len(names)) + b"\0" * 4
    markers, body = [], bytearray()
    for i, n in enumerate(names):
        if i % 256 == 0: markers.append(len(body))
        body += bytes([len(n)]) + n
    out += body
    while len(out) % 8: out += b"\0"
    for m in markers: out += struct.pack("<I", m)
    while len(out) % 8: out += b"\0"
    tt = len(out)
    index = []
    for tok in tokens:
        index.append(len(out) - tt)
        out += tok + b"\0"
    while len(out) % 8: out += b"\0"
    for i in index: out += struct.pack("<H", i)
    return struct.pack("<H", tt) + bytes(out)
put("kallsyms", kallsyms_seed())
PY

for t in "$corpus"/*/; do
    printf '%-16s %4d seeds\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done
