#!/usr/bin/env bash
# Runs every test of tfdrift on a fresh machine: installs what the tests need, checks formatting and lints,
# then runs the whole test suite (unit tests, the catalog check, end-to-end tests through the C ABI).
set -euo pipefail
cd "$(dirname "$0")/.."

# The catalog check reads the AWS API models from botocore; the S3 tests run moto's S3-compatible server.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r scripts/requirements-test.txt

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# Smoke run of the benchmarks (small inputs, one iteration each: seconds), so that they keep compiling and
# running; `cargo bench` measures (docs/PERFORMANCE.md).
cargo test --locked --benches
