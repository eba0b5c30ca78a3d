# shellcheck shell=bash
# Shell functions shared by the bench scripts (sourced, not run). The caller
# sets WORK (its work folder), DATA (gen_data.py's output), CLI_CPU, and a
# PIDS array that its EXIT trap stops.

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL.
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

# port_free PORT: whether 127.0.0.1:PORT is free on UDP and TCP.
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

# rcodes_of FILE: dnsperf's "Response codes: NOERROR 799990 (100.00%),
# SERVFAIL 10 (0.00%)" as NOERROR:799990,SERVFAIL:10.
rcodes_of() { awk '/Response codes/{sub(/.*Response codes: */,""); gsub(/ \([^)]*\)/,""); gsub(/, /,","); gsub(/ /,":"); print}' "$1"; }

# start_nsd PORT PROBE: NSD on CPU $CLI_CPU as the upstream, authoritative for
# allowed.benchzone (gen_data.py's zone), on 127.0.0.1:PORT; waits (30 s at
# most) until PROBE (shared/bench/dnsprobe.py) gets an answer. Sets NSD_PID.
start_nsd() {
  local port=$1 probe=$2
  mkdir -p "$WORK/nsd"
  cp "$DATA/allowed.benchzone.zone" "$WORK/nsd/"
  cat > "$WORK/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$WORK/nsd"
  database: ""
  zonelistfile: "$WORK/nsd/zone.list"
  xfrdfile: "$WORK/nsd/xfrd.state"
  pidfile: "$WORK/nsd/nsd.pid"
  logfile: "$WORK/nsd/nsd.log"
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: allowed.benchzone
  zonefile: allowed.benchzone.zone
CONF
  taskset -c "$CLI_CPU" nsd -d -c "$WORK/nsd/nsd.conf" & NSD_PID=$!; PIDS+=("$NSD_PID")
  python3 "$probe" "$port" h00001.allowed.benchzone 30 >/dev/null \
    || { cat "$WORK/nsd/nsd.log" >&2 || true; die "nsd did not answer within 30 s"; }
}

# copy_ralo DEST: a private copy of the ralo binary to measure, so a rebuild
# of target/release during the run changes nothing: $RALO_BIN if set, else
# target/release/ralo of the checkout $ROOT (built first unless SKIP_BUILD).
copy_ralo() {
  local dest=$1
  if [ -n "${RALO_BIN:-}" ]; then
    [ -x "$RALO_BIN" ] || die "RALO_BIN=$RALO_BIN is not executable"
    cp "$RALO_BIN" "$dest"
    return
  fi
  if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && timeout 900 cargo build --release) || die "cargo build --release failed"
  fi
  [ -x "$ROOT/target/release/ralo" ] || die "no $ROOT/target/release/ralo (build it or set RALO_BIN)"
  cp "$ROOT/target/release/ralo" "$dest"
}

# mem_mb PID -> "VmRSS\tVmHWM" in MB.
mem_mb() { awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{printf "%.0f\t%.0f", r/1024, h/1024}' "/proc/$1/status"; }

# answer PORT NAME -> "RCODE addr,addr" for an A query to 127.0.0.1:PORT (one
# try per 0.5 s, 3 tries; "TIMEOUT -" without an answer).
answer() {
  python3 - "$1" "$2" <<'EOF'
import random, socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2]
qid = random.randrange(65536)
msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
msg += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
msg += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
def skip_name(d, i):
    while True:
        n = d[i]
        if n == 0: return i + 1
        if n & 0xC0 == 0xC0: return i + 2
        i += n + 1
for _ in range(3):
    s.sendto(msg, ("127.0.0.1", port))
    try:
        d, _ = s.recvfrom(4096)
    except socket.timeout:
        continue
    if struct.unpack(">H", d[:2])[0] != qid: continue
    rcode = d[3] & 15
    qd, an = struct.unpack(">HH", d[4:8])
    i = 12
    for _ in range(qd): i = skip_name(d, i) + 4
    addrs = []
    for _ in range(an):
        i = skip_name(d, i)
        typ, _, _, ln = struct.unpack(">HHIH", d[i:i + 10]); i += 10
        if typ == 1 and ln == 4: addrs.append(socket.inet_ntoa(d[i:i + 4]))
        i += ln
    names = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
    print(names.get(rcode, "RCODE%d" % rcode), ",".join(addrs) or "-")
    sys.exit(0)
print("TIMEOUT -")
EOF
}

# ralo_udp_addr LOG [LINE]: the UDP address in `ralo serve`'s log LOG once
# it is there (and, when LINE is given, once LOG holds LINE too); waits 30 s
# at most, else prints the log and exits.
ralo_udp_addr() {
  local log=$1 line=${2:-} addr=""
  for _ in $(seq 300); do
    addr=$(sed -n 's/.*listening protocol="udp" addr=\([0-9.:]*\).*/\1/p;T;q' "$log")
    if [ -n "$addr" ] && { [ -z "$line" ] || grep -q "$line" "$log"; }; then
      echo "$addr"
      return 0
    fi
    sleep 0.1
  done
  echo "ralo serve did not start" >&2
  cat "$log" >&2
  exit 1
}

# free_udp_port: a UDP port free on 127.0.0.1 now.
free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_config DIR PORT UPSTREAM_PORT LIST: writes DIR/ralo.toml for a
# server under test: 127.0.0.1:PORT, no updater or web child, forwarding to
# 127.0.0.1:UPSTREAM_PORT, a 20,000-entry cache, state and runtime folders
# in DIR, and LIST (a hosts file) as its one list, `big`. Scripts append
# their own tables after it.
bench_config() {
  local dir=$1 port=$2 upstream=$3 list=$4
  mkdir -p "$dir"
  cat > "$dir/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:$port"]
spawn_updater = false
spawn_web = false
[upstream]
servers = ["127.0.0.1:$upstream"]
[paths]
state = "state"
runtime = "run"
[cache]
entries = 20000
[[lists]]
name = "big"
path = "$list"
EOF
}

# ticks PID: the process's CPU time so far (utime + stime), in clock ticks.
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# cpu_per_answer KIND REP DIR PORT TSV: starts `$RALO serve` on DIR's config
# (pinned to $SRV_CPU), waits for its first answer, warms its cache with
# every name of $WORK/q-cached.txt, then for each of the blocked and cached
# mixes ($WORK/q-MIX.txt) runs dnsperf for $DUR s (pinned to $CLI_CPU) and
# appends KIND, mix, REP, the answered queries and the server's CPU-µs per
# answer to TSV; then stops the server.
cpu_per_answer() {
  local kind=$1 rep=$2 dir=$3 port=$4 tsv=$5 spid mix t0 t1 answered us hz
  hz=$(getconf CLK_TCK)
  taskset -c "$SRV_CPU" "$RALO" serve --config "$dir/ralo.toml" 2>"$dir/serve.log" &
  spid=$!; PIDS+=("$spid")
  python3 "$SHARED/bench/dnsprobe.py" "$port" h00001.allowed.benchzone 30 >/dev/null || die "ralo ($kind) did not answer"
  taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/q-cached.txt" -n 1 -c 10 -q 200 >/dev/null 2>&1 || true
  for mix in blocked cached; do
    t0=$(ticks "$spid")
    taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/q-$mix.txt" -l "$DUR" -c 10 -q 200 > "$dir/$mix.dnsperf" 2>&1
    t1=$(ticks "$spid")
    answered=$(awk '/Queries completed/{print $3}' "$dir/$mix.dnsperf")
    us=$(echo "($t1 - $t0) * 1000000 / $hz / $answered" | bc -l)
    printf '%s\t%s\t%s\t%s\t%.3f\n' "$kind" "$mix" "$rep" "$answered" "$us" | tee -a "$tsv"
  done
  stop_pid "$spid"
}

# unbound_conf DIR PORT ZONE FORWARD EXTRA: writes DIR/unbound.conf for
# unbound on 127.0.0.1:PORT in the foreground (one thread, iterator only,
# logging and its control socket in DIR) that forwards ZONE to FORWARD
# (`ip@port`); EXTRA holds more `server:` lines, indented two spaces
# (cache sizes, prefetch, an include).
unbound_conf() {
  local dir=$1 port=$2 zone=$3 forward=$4 extra=$5
  cat > "$dir/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $port
  num-threads: 1
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$dir"
  pidfile: ""
  use-syslog: no
  logfile: "$dir/unbound.log"
  verbosity: 0
  module-config: "iterator"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  so-reuseport: no
$extra
remote-control:
  control-enable: yes
  control-interface: "$dir/unbound.ctl"
forward-zone:
  name: "$zone"
  forward-addr: $forward
EOF
}
