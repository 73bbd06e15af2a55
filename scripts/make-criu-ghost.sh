#!/usr/bin/env bash
# Makes a real CRIU checkpoint of what podmortem reads back from ghost files and socket
# queues: tests/data/criu-ghost/ was made with it.
#
# It compiles scripts/pm-ghost.c statically (`cc -static`, so the dump holds few pages),
# starts it in its own session outside any container, and waits until it has planted:
#   - /tmp/pm-ghost.bin, unlinked while open on fd 3 and mapped: "GHOST_PAYLOAD_" + 4096
#     bytes 'A' + i % 26 (4110 bytes; a ghost file, contents raw after the entry)
#   - /tmp/pm-ghost-sparse.bin, unlinked while open on fd 4: 64 KiB, "SPARSE_HEAD" at 0,
#     "SPARSE_TAIL" at 40960, holes elsewhere (a chunked ghost file)
#   - fd 5: memfd "pm-memfd" holding "MEMFD_PAYLOAD"
#   - fd 6: a TCP listener on 127.0.0.1; fd 7: a connection to it whose receive queue holds
#     "TCP_REPLY_UNREAD" and whose send queue the unacknowledged tail of a stream of
#     "TCP_SENDQ_%06u|" records; the child process holds the other end (its fd 3), the
#     head of that stream unread in its receive queue
#   - fd 8/9: a unix stream socketpair, "UNIX_QUEUED_MSG" queued unread for fd 9
# then dumps the tree with `criu dump --tcp-established --network-lock skip`, kills it,
# and prints what was planted and the images folder's size.
#
# Needs root and a CRIU binary: CRIU=/path/to/criu (built from source by
# scripts/build-criu.sh; tested with CRIU 4.2 at /work/criu-build/criu/criu). Usage: CRIU=... scripts/make-criu-ghost.sh OUT_DIR
set -euo pipefail
: "${CRIU:?set CRIU to the criu binary}"
out=$(realpath -m "${1:?usage: CRIU=... $0 OUT_DIR}")
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pm-ghost.XXXXXX)
trap 'rm -rf "$work"' EXIT

cc -static -O2 -Wall -o "$work/pm-ghost" "$here/pm-ghost.c"
rm -f /tmp/pm-ghost.bin /tmp/pm-ghost-sparse.bin
cd /tmp # its working directory, in the images
setsid "$work/pm-ghost" "$work/ready" </dev/null >"$work/log" 2>&1 &
for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/log" >&2; echo "pm-ghost did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/ready" # pid= child= port= stream_bytes=
echo "planted: pid $pid (child $child), TCP 127.0.0.1:$port, $stream_bytes stream bytes written"

mkdir -p "$out"
[ -z "$(ls -A "$out")" ] || { echo "$out is not empty" >&2; kill -9 "$pid" "$child"; exit 1; }
rc=0
"$CRIU" dump -t "$pid" -D "$out" -o dump.log -v4 --tcp-established --network-lock skip \
    || rc=$?
kill -9 "$pid" "$child" 2>/dev/null || true
if [ "$rc" != 0 ]; then
    tail -n 30 "$out/dump.log" >&2
    exit "$rc"
fi
# The dump log holds host paths and timings only: keep it out of the evidence.
mv "$out/dump.log" "$work/" 2>/dev/null || true
echo "CRIU $("$CRIU" --version | sed -n 's/^Version: //p'), kernel $(uname -r)"
echo "planted: /tmp/pm-ghost.bin (fd 3, deleted, 4110 bytes GHOST_PAYLOAD_ + A..Z pattern)"
echo "planted: /tmp/pm-ghost-sparse.bin (fd 4, deleted, 64 KiB, SPARSE_HEAD@0 SPARSE_TAIL@40960)"
echo "planted: fd 5 memfd pm-memfd (MEMFD_PAYLOAD)"
echo "planted: fd 7 TCP recv TCP_REPLY_UNREAD, send tail of TCP_SENDQ_ stream; child fd 3 recv head"
echo "planted: fd 8 -> fd 9 unix stream UNIX_QUEUED_MSG"
du -sh "$out"
ls -la "$out"
