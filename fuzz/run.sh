#!/usr/bin/env bash
# Runs ralo's fuzz targets for a while each and prints, per target, the
# executions, final coverage and whether it crashed.
#
#   fuzz/run.sh [TARGET|all] [SECONDS]     (defaults: all, 25)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Works on stable
# Rust: no sanitizer (`--sanitizer none`), so it finds panics, broken
# oracles, overflows (debug assertions are on), timeouts and OOMs. New inputs
# go to fuzz/corpus-run/<target> (not committed); the committed seeds in
# fuzz/corpus/<target> are read, never written. A crash is saved in
# fuzz/artifacts/<target>/ and ends the script with a failure.
set -euo pipefail
cd "$(dirname "$0")"

which=${1:-all}
seconds=${2:-25}
targets=(client_query upstream_answer list_text image_bytes image_model config_text)
if [[ $which != all ]]; then
    targets=("$which")
fi

# The lock file is committed: refuse to build with anything it does not pin.
cargo fetch --locked --quiet
if [[ $which == all ]]; then
    cargo fuzz build --sanitizer none
else
    cargo fuzz build --sanitizer none "$which"
fi
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus-run/$target" "artifacts/$target"
    log="artifacts/$target/last-run.log"
    status=ok
    if ! cargo fuzz run --sanitizer none "$target" "corpus-run/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
        status=CRASHED
        failed=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo 'cov: ? ft: ?')
    echo "fuzz $target: ${seconds}s, $execs executions, $cov, $status"
    if [[ $status != ok ]]; then
        grep -E 'panicked|ERROR|Test unit written' "$log" | head -n 5
    fi
done
exit "$failed"
