#!/usr/bin/env bash
# The one command that runs every joist test (README "Run all tests"; CI calls exactly this).
# Order: cheap static checks first so a purity or lint failure is reported in seconds, then the suites.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "joist-core stays pure (no async runtime, Kubernetes, AWS, logging or HTTP crates)"
hack/check-core-deps.sh

step "formatting"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc (broken links and unclosed tags are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked

step "tests"
cargo test --workspace --locked
