# shellcheck shell=bash
# The check-and-count helpers of deploy/check-*.sh (sourced, not run).

passed=0
failed=0

# check DESCRIPTION COMMAND...: runs COMMAND quietly, prints one ok/FAIL line.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok   $what"
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        failed=$((failed + 1))
    fi
}

# summary: "N passed, N failed"; fails when any check did.
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
