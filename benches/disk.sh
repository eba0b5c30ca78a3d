#!/usr/bin/env bash
# What ralo writes to disk per hour at a household's load: `ralo serve`, its
# updater and (in the second run) `ralo web`, each process's
# /proc/PID/io write_bytes over DUR seconds at QPS queries a second, scaled
# to an hour. As on the Pi: the state folder on a disk (under target/), the
# runtime folder (telemetry segment, sockets, update status) on tmpfs
# (/dev/shm). The lists are the shipped ones (blocklists/); the upstream is
# a small responder on loopback that answers every A question.
#   benches/disk.sh              # DUR=300 per run
#   DUR=60 benches/disk.sh       # a quick check
# Writes target/bench/disk.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DUR=${DUR:-300}
QPS=${QPS:-20}
out=target/bench/disk.md
mkdir -p target/bench

cargo build --release --locked -q
bin=$PWD/target/release/ralo

pids=()
site=""
run=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$site" "$run"
}
trap cleanup EXIT

# The upstream (benches/dns.py): A and AAAA answers, TTL 300 s.
upstream_port=$(free_udp_port)
python3 benches/dns.py respond "$upstream_port" &
pids+=($!)

# One run: serve (+ updater child, + web child when $1 is "web") for DUR s.
measure() {
    local with_web=$1
    site=$(realpath "$(mktemp -d -p target/bench disk-site.XXXXXX)")
    run=$(mktemp -d -p /dev/shm ralo-disk.XXXXXX)
    cp blocklists/default.hosts "$site/default.hosts"
    : >"$site/block.txt"
    : >"$site/allow.txt"
    cat >"$site/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
spawn_web = $with_web
[upstream]
servers = ["127.0.0.1:$upstream_port"]
[paths]
state = "state"
runtime = "$run"
[web]
listen = "127.0.0.1:0"
[[lists]]
name = "default"
path = "default.hosts"
subdomains = true
[[lists]]
name = "mine"
path = "block.txt"
household = true
[[allowlists]]
name = "ok"
path = "allow.txt"
household = true
EOF
    if [ "$with_web" = true ]; then
        echo "bench-password" | "$bin" web --set-password --config "$site/ralo.toml" >/dev/null
    fi
    "$bin" serve --config "$site/ralo.toml" 2>"$site/serve.log" &
    local serve_pid=$!
    pids+=("$serve_pid")
    local dns
    dns=$(ralo_udp_addr "$site/serve.log")
    sleep 5 # the first update and the web's start are not the steady state
    local children
    children=$(pgrep -P "$serve_pid" | tr '\n' ' ')
    local procs="$serve_pid $children"
    declare -A before
    for pid in $procs; do before[$pid]=$(awk '/^write_bytes/ { print $2 }' "/proc/$pid/io"); done
    seq 0 499 | sed 's/.*/host&.example.org/' >"$site/allowed.txt"
    python3 benches/dns.py send "$dns" "$QPS" "$DUR" "$site/allowed.txt" blocklists/default.hosts 0.3
    sleep 2
    local line=""
    for pid in $procs; do
        local after name kb
        after=$(awk '/^write_bytes/ { print $2 }' "/proc/$pid/io")
        name=$(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{ print $2 }')
        kb=$(python3 -c "print(round(($after - ${before[$pid]}) / $DUR * 3600 / 1024, 1))")
        line="$line $name $kb KB/h;"
    done
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    rm -rf "$site" "$run"
    echo "$line"
}

no_web=$(measure false)
with_web=$(measure true)
cat >"$out" <<EOF
# ralo's disk writes, $(date -u +%F), $(nproc) cores, $(uname -m)

$QPS queries/s (30 % blocked), $DUR s per run, state folder on a disk,
runtime folder on tmpfs; /proc/PID/io write_bytes scaled to an hour.

| processes | written per hour |
|---|---|
| serve + updater |$no_web |
| serve + updater + web (query history) |$with_web |
EOF
cat "$out"
