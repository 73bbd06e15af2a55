#!/usr/bin/env bash
# Makes a real CRIU checkpoint of checkpointctl's test workload, as its test suite makes it
# (`TEST_ENV=BAR TEST_ENV_EMPTY= piggie --tcp-socket --zombie`, then
# `criu dump --tcp-established -t PID`): tests/data/criu-piggie/ was made with it.
#
# The workload is scripts/pm-piggie.c, podmortem's own program with the same process tree
# (see its header): piggie as pid 1 of a new pid and network namespace, tcp-server listening
# on port 5000 with its tcp-conn handler, tcp-client connected to it, the dead piggie-zombie
# and its children stopped-child (SIGSTOP) and alive-child. Compiled `cc -static` so the dump
# holds few pages, started with only TEST_ENV=BAR, TEST_ENV_EMPTY= and PATH in its
# environment.
#
# Needs root and CRIU (scripts/build-criu.sh builds it):
#   CRIU=/work/criu-build/criu/criu scripts/make-criu-piggie.sh OUT_DIR
set -euo pipefail
: "${CRIU:?set CRIU to the criu binary (scripts/build-criu.sh)}"
out=$(realpath -m "${1:?usage: CRIU=... $0 OUT_DIR}")
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pm-piggie.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Named piggie: the root task's name is its executable's.
cc -static -O2 -Wall -o "$work/piggie" "$here/pm-piggie.c"
cd /tmp # its working directory, in the images
env -i TEST_ENV=BAR TEST_ENV_EMPTY= PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    setsid "$work/piggie" "$work/ready" </dev/null >"$work/log" 2>&1 ||
    { cat "$work/log" >&2; echo "pm-piggie did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/ready" # pid=
echo "planted: piggie pid $pid (pid 1 in its namespace)"

mkdir -p "$out"
[ -z "$(ls -A "$out")" ] || { echo "$out is not empty" >&2; kill -9 "$pid"; exit 1; }
rc=0
"$CRIU" dump -t "$pid" -D "$out" -o dump.log -v4 --tcp-established --network-lock skip \
    || rc=$?
kill -9 "$pid" 2>/dev/null || true
if [ "$rc" != 0 ]; then
    tail -n 30 "$out/dump.log" >&2
    exit "$rc"
fi
# The dump log holds host paths and timings only: keep it out of the evidence.
mv "$out/dump.log" "$work/" 2>/dev/null || true
echo "CRIU $("$CRIU" --version | sed -n 's/^Version: //p'), kernel $(uname -r)"
du -sh "$out"
ls -la "$out"
