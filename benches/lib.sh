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
