#!/usr/bin/env bash
# Checks deploy/systemd/*.service: `systemd-analyze verify` and the offline
# security exposure of each unit; fails if the server's is above 2.5.
#
# verify insists that ExecStart's program exists on this machine, so it runs
# on copies whose /usr/bin/ralo points at an executable stand-in (the real
# binary may be an aarch64 one, and nothing is installed in /usr/bin here).
set -euo pipefail
cd "$(dirname "$0")/systemd"

if ! command -v systemd-analyze >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null || true
fi
if ! command -v systemd-analyze >/dev/null; then
    echo "check-units: systemd-analyze is missing (apt-get install systemd)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$work/ralo"
chmod 755 "$work/ralo"

max_server=2.5
status=0
for unit in ralo.service ralo-update.service ralo-web.service; do
    sed "s#/usr/bin/ralo#$work/ralo#g" "$unit" >"$work/$unit"
done
for unit in ralo.service ralo-update.service ralo-web.service; do
    verdict="verify OK"
    if ! out=$(systemd-analyze verify "$work/$unit" 2>&1) || [ -n "$out" ]; then
        echo "check-units: systemd-analyze verify $unit:" >&2
        echo "$out" >&2
        verdict="verify FAILED"
        status=1
    fi
    exposure=$(systemd-analyze security --offline=true "./$unit" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$exposure" ]; then
        echo "check-units: no exposure score for $unit" >&2
        status=1
        continue
    fi
    echo "$unit: $verdict, exposure $exposure"
    if [ "$unit" = ralo.service ] && awk -v e="$exposure" -v m="$max_server" 'BEGIN { exit !(e > m) }'; then
        echo "check-units: $unit exposure $exposure is above $max_server" >&2
        status=1
    fi
done
exit "$status"
