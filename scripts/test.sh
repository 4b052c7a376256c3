#!/usr/bin/env bash
# Runs every check and test ttlab has, on a fresh machine or a used one.
#
# It installs what the tests need when it is missing (today: nothing beyond
# the Rust toolchain; later issues add redis-server, wrk and the npm packages
# of the SDK compatibility suite), then runs formatting, lints and the whole
# workspace's tests. CI calls this same script through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version

step "format (cargo fmt --check)"
cargo fmt --all --check

step "lints (clippy, pedantic, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked
