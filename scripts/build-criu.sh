#!/usr/bin/env bash
# Builds CRIU from source for making real test checkpoints (scripts/make-criu-ghost.sh,
# scripts/make-criu-piggie.sh): Debian's own criu (3.17) does not dump on recent kernels.
#
# Usage: scripts/build-criu.sh GIT_DIR [WORK_DIR [TAG]]
#   GIT_DIR   a clone of https://github.com/checkpoint-restore/criu (bare or not)
#   WORK_DIR  where the tag is checked out and built, outside this repository
#             (default /work/criu-build); the binary is WORK_DIR/criu/criu
#   TAG       default v4.2
#
# Needs (Debian 12): build-essential pkg-config libprotobuf-dev libprotobuf-c-dev
# protobuf-c-compiler protobuf-compiler python3-protobuf libnl-3-dev libnet1-dev libcap-dev
# libbsd-dev libgnutls28-dev libnftables-dev libaio-dev uuid-dev. The optional pieces
# (plugins, the compel test suite, documentation) are not built.
set -euo pipefail
git_dir=$(realpath "${1:?usage: $0 GIT_DIR [WORK_DIR [TAG]]}")
work=$(realpath -m "${2:-/work/criu-build}")
tag=${3:-v4.2}
here=$(cd "$(dirname "$0")/.." && pwd)
case "$work/" in
"$here"/*) echo "$work is inside the repository: build elsewhere" >&2; exit 1 ;;
esac

if [ -e "$work/.git" ] || [ -f "$work/Makefile" ]; then
    echo "reusing $work"
else
    mkdir -p "$work"
    git --git-dir="$git_dir" archive --format=tar "$tag" | tar -x -C "$work"
fi
commit=$(git --git-dir="$git_dir" rev-parse --short "$tag^{commit}")
cd "$work"
# Only the criu binary: no plugins (amdgpu, cuda), no documentation.
make -j"$(nproc)" criu
echo "CRIU $tag ($commit) built: $work/criu/criu"
"$work/criu/criu" --version
