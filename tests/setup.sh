#!/usr/bin/env bash
# Installs what the integration tests drive besides ralo itself: a headless
# browser and its WebDriver (the web page test), and Home Assistant's Pi-hole
# client `hole` in a Python virtual environment at target/test-python (the
# API compatibility test). Run once per machine; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
    if [ "${#missing[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

venv=target/test-python
if ! "$venv/bin/python3" -c 'import hole, aiohttp' 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'hole==0.9.0'
fi
"$venv/bin/python3" -c 'import hole; print("hole", hole.__name__, "ready in '"$venv"'")'
command -v chromium chromedriver
