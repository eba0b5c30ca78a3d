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

# The upstream: answers every question with 192.0.2.1 (A) or no records.
upstream_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$upstream_port" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    q, addr = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    qtype = struct.unpack(">H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
    answer = b""
    if qtype == 1:
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 1])
    header = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if answer else 0, 0, 0)
    s.sendto(header + question + answer, addr)
PY
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
    local dns=""
    for _ in $(seq 100); do
        dns=$(sed -n 's/.*listening protocol="udp" addr=\([0-9.:]*\).*/\1/p' "$site/serve.log" | head -1)
        [ -n "$dns" ] && break
        sleep 0.1
    done
    [ -n "$dns" ] || { echo "ralo serve did not start" >&2; cat "$site/serve.log" >&2; exit 1; }
    sleep 5 # the first update and the web's start are not the steady state
    local children
    children=$(pgrep -P "$serve_pid" | tr '\n' ' ')
    local procs="$serve_pid $children"
    declare -A before
    for pid in $procs; do before[$pid]=$(awk '/^write_bytes/ { print $2 }' "/proc/$pid/io"); done
    python3 - "$dns" "$QPS" "$DUR" <<'PY'
import random, socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
qps, dur = float(sys.argv[2]), float(sys.argv[3])
blocked = [l.split()[1] for l in open("blocklists/default.hosts") if l.startswith("0.0.0.0 ")]
allowed = [f"host{i}.example.org" for i in range(500)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
end, n = time.time() + dur, 0
while time.time() < end:
    name = random.choice(blocked) if random.random() < 0.3 else random.choice(allowed)
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    s.sendto(q, (host, int(port)))
    n += 1
    time.sleep(1 / qps)
    try:
        while True:
            s.recv(4096)
    except BlockingIOError:
        pass
print(n, file=sys.stderr)
PY
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
