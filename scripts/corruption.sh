#!/usr/bin/env bash
# The whole corruption corpus (tests/support/corrupt/) against the release binary: every
# CLI command on every mutation of the shared fixtures, 10 s timeout, address space limited to
# 1 GiB + the evidence's size. Prints the counts table (ok / clean error / error without an
# offset / error without the file / panic / hang / over-allocation); every run is listed in
# target/corruption/full/runs.log. Exits non-zero on any panic, hang or over-allocation.
set -euo pipefail
cd "$(dirname "$0")/.."
export PODMORTEM_REQUIRE_FIXTURES=1
cargo build --release --locked
export PODMORTEM_BIN="$PWD/target/release/podmortem"
cargo test --release --locked --test integration corruption::full_corpus -- --ignored --nocapture
