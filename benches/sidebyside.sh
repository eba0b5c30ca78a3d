#!/usr/bin/env bash
# ralo vs dnsmasq vs unbound, side by side, measured as
# /work/shared/notes/bench-method.md describes (server on CPU 1; dnsperf and
# the NSD upstream on CPU 0; CPU time per answered query; medians of REPS
# repetitions; ratios to dnsmasq from the same repetition), plus the time a
# list swap takes. Loopback (127.0.0.1) only. See benches/README.md.
#
# Usage (as root, from anywhere):  benches/sidebyside.sh
# Quick check:  SIZES=10000 REPS=1 DUR=2 LAT_DUR=2 benches/sidebyside.sh
# Env:  SIZES="100000 1000000"  REPS=3  DUR=8 (saturating run, s)  LAT_DUR=5
#       LAT_QPS=5000  CLIENTS=10  SERVERS="ralo dnsmasq unbound"
#       SKIP_INSTALL=1 (no apt-get)  SKIP_BUILD=1 (use target/release/ralo as is)
#       RALO_BIN=path (use this binary, no build)  STARTUP_TIMEOUT=120
#       SWAP_TIMEOUT=120  SKIP_CHART=1 (no PNG, no cargo)
#       P_NSD=5301 P_DNSMASQ=5300 P_UNBOUND=5302 P_RALO=5310  SRV_CPU=1 CLI_CPU=0
# Output in target/bench/: results.tsv (one line per run), startup.tsv (one
#         line per server start), swap.tsv (one line per list swap),
#         summary.md (the table), sidebyside.csv (the table as CSV),
#         sidebyside.png (the ratios to dnsmasq, drawn by benches/chart),
#         env.txt, raw/ (dnsperf output), run/ (configs, lists, logs).
# Needs the shared bench scripts (gen_data.py, dnsprobe.py) in
# ../shared/bench beside the checkout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$(dirname "$0")" && pwd)/../../shared/bench
if [ ! -f "$SHARED/gen_data.py" ] || [ ! -f "$SHARED/dnsprobe.py" ]; then
  echo "sidebyside.sh: the shared bench scripts are missing: expected gen_data.py and" >&2
  echo "  dnsprobe.py in $SHARED (the 'shared' folder beside the checkout)" >&2
  exit 2
fi
SHARED=$(cd "$SHARED" && pwd)

SIZES=${SIZES:-"100000 1000000"}
SERVERS=${SERVERS:-"ralo dnsmasq unbound"}
REPS=${REPS:-3}
DUR=${DUR:-8}
LAT_DUR=${LAT_DUR:-5}
LAT_QPS=${LAT_QPS:-5000}
CLIENTS=${CLIENTS:-10}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-120}
SWAP_TIMEOUT=${SWAP_TIMEOUT:-120}
P_NSD=${P_NSD:-5301}
P_DNSMASQ=${P_DNSMASQ:-5300}
P_RALO=${P_RALO:-5310}
P_UNBOUND=${P_UNBOUND:-5302}
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
WORK=$ROOT/target/bench
DATA=$WORK/data
HZ=$(getconf CLK_TCK)
PATH=$PATH:/usr/sbin:/sbin

die() { echo "sidebyside.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and pins processes)"
for v in REPS DUR LAT_DUR LAT_QPS CLIENTS STARTUP_TIMEOUT SWAP_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "SIZES: '$n' is not a number"; done
for s in $SERVERS; do case $s in ralo|dnsmasq|unbound) ;; *) die "SERVERS: unknown '$s' (ralo, dnsmasq, unbound)";; esac; done
uses() { [[ " $SERVERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- packages
# command:package pairs this run needs (a path stands for a file to have)
wanted="dnsperf:dnsperf nsd:nsd python3:python3 taskset:util-linux"
uses dnsmasq && wanted="$wanted dnsmasq:dnsmasq-base"
uses unbound && wanted="$wanted unbound:unbound unbound-control:unbound"
[ -z "${SKIP_CHART:-}" ] && wanted="$wanted $FONT:fonts-dejavu-core"
have() { case $1 in /*) [ -e "$1" ];; *) command -v "$1" >/dev/null 2>&1;; esac; }
if [ -z "${SKIP_INSTALL:-}" ]; then
  need=""
  for b in $wanted; do
    have "${b%%:*}" || [[ " $need " == *" ${b#*:} "* ]] || need="$need ${b#*:}"
  done
  if [ -n "$need" ]; then
    ok=0
    for try in 1 2 3; do   # a mirror may fail transiently
      if apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends $need; then ok=1; break; fi
      echo "apt-get failed (try $try of 3); retrying in 10 s" >&2; sleep 10
    done
    [ $ok = 1 ] || die "could not install:$need"
  fi
fi
for b in $wanted; do
  have "${b%%:*}" || die "${b%%:*} not found (package ${b#*:}; unset SKIP_INSTALL to install it)"
done
if [ -z "${SKIP_CHART:-}" ]; then
  command -v cargo >/dev/null 2>&1 || die "cargo not found: it builds the chart (benches/chart); SKIP_CHART=1 skips the chart"
fi

# ---------------------------------------------------------------- ralo binary
mkdir -p "$WORK" "$DATA"
RALO=$WORK/ralo   # a private copy: others may rebuild target/release during the run
if uses ralo; then
  copy_ralo "$RALO"
fi

# ---------------------------------------------------------------- data
gen=0
for n in $SIZES; do
  for f in blocked-$n.hosts blocked-$n.unbound.conf blocked-$n.names q-blocked-$n.txt q-mix30-$n.txt; do
    [ -s "$DATA/$f" ] || gen=1
  done
done
[ -s "$DATA/q-allowed.txt" ] && [ -s "$DATA/allowed.benchzone.zone" ] || gen=1
# gen_data.py is seeded: the same sizes always give the same files
if [ $gen = 1 ]; then python3 "$SHARED/gen_data.py" "$DATA" $SIZES; fi

# ---------------------------------------------------------------- helpers
PIDS=()
# every process started here, and their children (ralo's updater, NSD's
# server), stopped by PID however the script ends
cleanup() {
  local p k all=()
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    all+=("$p")
    for k in $(pgrep -P "$p" || true); do all+=("$k"); done
  done
  for p in "${all[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${all[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# stop_server PID: stops it, then the children it had (ralo's updater), and
# forgets them so the EXIT trap never signals a reused PID
stop_server() {
  local pid=$1 k kids i
  kids=$(pgrep -P "$pid" || true)
  stop_pid "$pid"
  for k in $kids; do stop_pid "$k"; done
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$pid" ] && PIDS[i]=""; done
  return 0
}

now() { python3 -c 'import time; print(time.time())'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }           # utime+stime, all threads
# VmRSS of PID's children in MB (ralo's updater; 0 for the others)
kids_mb() {
  local k t=0
  for k in $(pgrep -P "$1" || true); do
    [ -r "/proc/$k/status" ] && t=$((t + $(awk '/^VmRSS/{print $2}' "/proc/$k/status")))
  done
  awk -v t="$t" 'BEGIN{printf "%.0f", t/1024}'
}
# NSD forks its server process: sum the main process and its children
nsd_ticks() {
  local t=0 p
  for p in "$NSD_PID" $(pgrep -P "$NSD_PID" || true); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(ticks "$p")))
  done
  echo "$t"
}
port_of() { case $1 in ralo) echo "$P_RALO";; dnsmasq) echo "$P_DNSMASQ";; unbound) echo "$P_UNBOUND";; esac; }

# swappoll.py PORT NAME TIMEOUT READY T0FILE: asks NAME/A every 1 ms
# (answers matched by id, never waiting on one) until an answer has A
# 0.0.0.0 or TIMEOUT s pass; touches READY at its first answer. T0FILE holds
# the epoch time the swap was started (written before the list changes).
# Prints "blocked SWAP_S SILENT_S": from T0 to the first blocked answer, and
# the longest stretch in that time with no answer at all.
mkdir -p "$WORK/bin"
cat > "$WORK/bin/swappoll.py" <<'EOF'
import os, select, socket, struct, sys, time
port, name, timeout, ready, t0file = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
QNAME = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
def skip_name(d, i):
    while True:
        n = d[i]
        if n == 0: return i + 1
        if n & 0xC0 == 0xC0: return i + 2
        i += n + 1
def parse(d):
    qd, an = struct.unpack(">HH", d[4:8]); i = 12; addrs = []
    for _ in range(qd): i = skip_name(d, i) + 4
    for _ in range(an):
        i = skip_name(d, i)
        typ, _, _, ln = struct.unpack(">HHIH", d[i:i + 10]); i += 10
        if typ == 1 and ln == 4: addrs.append(socket.inet_ntoa(d[i:i + 4]))
        i += ln
    return struct.unpack(">H", d[:2])[0], addrs
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
sent = set(); qid = 0; answers = []; blocked = None
start = time.time(); next_send = start
while blocked is None and time.time() - start < timeout:
    now = time.time()
    if now >= next_send:
        qid = (qid + 1) & 0xFFFF
        try:
            s.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + QNAME + struct.pack(">HH", 1, 1), ("127.0.0.1", port))
            sent.add(qid)
        except OSError:
            pass
        next_send = max(next_send + 0.001, now)
    while blocked is None:
        try: d = s.recv(4096)
        except (BlockingIOError, InterruptedError): break
        except OSError: break   # port unreachable while a server reopens its socket
        t = time.time()
        try: rid, addrs = parse(d)
        except (IndexError, struct.error): continue
        if rid not in sent: continue
        sent.discard(rid); answers.append(t)
        if len(answers) == 1: open(ready, "w").close()
        if "0.0.0.0" in addrs: blocked = t
    select.select([s], [], [], max(0.0, next_send - time.time()))
t0 = float(open(t0file).read()) if os.path.exists(t0file) else None
if blocked is None: print("timeout NA NA"); sys.exit(1)
if t0 is None or blocked < t0: print("early NA NA"); sys.exit(1)
times = [t0] + [t for t in answers if t0 < t <= blocked]
print("blocked %.4f %.4f" % (blocked - t0, max(b - a for a, b in zip(times, times[1:]))))
EOF

for p in $P_NSD $(for s in $SERVERS; do port_of "$s"; done); do
  port_free "$p" || die "127.0.0.1:$p is in use (another benchmark running?); set P_NSD/P_RALO/P_DNSMASQ/P_UNBOUND"
done

# ---------------------------------------------------------------- upstream: NSD
start_nsd "$P_NSD" "$SHARED/dnsprobe.py"
echo "nsd up on 127.0.0.1:$P_NSD (pid $NSD_PID, CPU $CLI_CPU)"

# ---------------------------------------------------------------- servers
# Each start gets a fresh folder run/SERVER-N-REP with its own copy of the
# list (the swap appends to it) and, for ralo, its own state and runtime
# folders, so no image from an earlier start is booted from.
run_dir() { echo "$WORK/run/$1-$2-$3"; }                 # SERVER N REP
log_of() { echo "$(run_dir "$1" "$2" "$3")/$1.log"; }    # SERVER N REP
fresh_dir() {  # SERVER N REP -> prints the emptied folder
  local d
  d=$(run_dir "$1" "$2" "$3")
  rm -rf "$d"; mkdir -p "$d"
  echo "$d"
}
# ralo: `ralo serve` starts its updater (`ralo update --watch`) as a child,
# which compiles the list and publishes the image; the first answer comes
# from that image. The updater watches the list file and publishes again
# when it changes.
start_ralo() {  # N REP -> sets SPID
  local n=$1 d
  d=$(fresh_dir ralo "$n" "$2")
  cp "$DATA/blocked-$n.hosts" "$d/list.hosts"
  cat > "$d/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_RALO"]
[paths]
state = "$d/state"
runtime = "$d/run"
[upstream]
servers = ["127.0.0.1:$P_NSD"]
[cache]
entries = 20000
[[lists]]
name = "bench"
path = "$d/list.hosts"
EOF
  T0=$(now)
  taskset -c "$SRV_CPU" "$RALO" serve --config "$d/ralo.toml" 2>"$d/ralo.log" & SPID=$!; PIDS+=("$SPID")
}
start_dnsmasq() {  # N REP -> sets SPID; the configuration of run_baseline.sh
  local n=$1 d
  d=$(fresh_dir dnsmasq "$n" "$2")
  cp "$DATA/blocked-$n.hosts" "$d/list.hosts"
  cat > "$d/dnsmasq.conf" <<EOF
port=$P_DNSMASQ
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
user=root
server=127.0.0.1#$P_NSD
addn-hosts=$d/list.hosts
cache-size=10000
local-ttl=2
dns-forward-max=1000
EOF
  T0=$(now)
  taskset -c "$SRV_CPU" dnsmasq -k -C "$d/dnsmasq.conf" --pid-file= 2>"$d/dnsmasq.log" & SPID=$!; PIDS+=("$SPID")
}
# unbound: the configuration of run_baseline.sh (one thread, iterator only,
# `local-zone: "name." always_null` per listed name, allowed.benchzone
# forwarded to NSD), plus a control socket for `unbound-control reload`.
start_unbound() {  # N REP -> sets SPID
  local n=$1 d
  d=$(fresh_dir unbound "$n" "$2")
  cp "$DATA/blocked-$n.unbound.conf" "$d/list.conf"
  unbound_conf "$d" "$P_UNBOUND" allowed.benchzone. "127.0.0.1@$P_NSD" "  msg-cache-size: 16m
  rrset-cache-size: 32m
  include: \"$d/list.conf\""
  T0=$(now)
  taskset -c "$SRV_CPU" unbound -d -c "$d/unbound.conf" 2>"$d/unbound.log.stderr" & SPID=$!; PIDS+=("$SPID")
}

# swap SERVER N REP: adds a new name to the server's list the way its users
# would and measures from then to the first answer that blocks it (before:
# NXDOMAIN from NSD, the name lives in its zone). ralo: the name is appended
# to the list file, its updater sees the change, compiles and publishes.
# dnsmasq: appended to the hosts file, then SIGHUP. unbound: appended as a
# local-zone, then `unbound-control reload`. Sets SWAP ("SWAP_S SILENT_S
# PUBLISH_MS"; the last for ralo only, NA for the others).
swap() {
  local srv=$1 n=$2 rep=$3 d port name pp st t0 out
  d=$(run_dir "$srv" "$n" "$rep")
  port=$(port_of "$srv")
  name=swap-$n-$rep.allowed.benchzone
  st=$(answer "$port" "$name")
  [ "$st" = "NXDOMAIN -" ] || die "$srv N=$n: $name is '$st' before the swap (want 'NXDOMAIN -')"
  rm -f "$d/poll.ready" "$d/poll.t0"
  taskset -c "$CLI_CPU" python3 "$WORK/bin/swappoll.py" "$port" "$name" "$SWAP_TIMEOUT" "$d/poll.ready" "$d/poll.t0" \
    >"$d/poll.out" 2>&1 & pp=$!; PIDS+=("$pp")
  for _ in $(seq 100); do [ -e "$d/poll.ready" ] && break; sleep 0.05; done
  [ -e "$d/poll.ready" ] || die "$srv N=$n: the swap poller got no answer within 5 s"
  t0=$EPOCHREALTIME
  echo "$t0" > "$d/poll.t0"
  case $srv in
    ralo)    echo "0.0.0.0 $name" >> "$d/list.hosts";;
    dnsmasq) echo "0.0.0.0 $name" >> "$d/list.hosts"; kill -HUP "${PID_OF[dnsmasq]}";;
    unbound) echo "local-zone: \"$name.\" always_null" >> "$d/list.conf"
             unbound-control -c "$d/unbound.conf" reload >"$d/unbound-control.out" 2>&1 ||
               { cat "$d/unbound-control.out" >&2; die "unbound-control reload failed (N=$n)"; };;
  esac
  wait "$pp" || true
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$pp" ] && PIDS[i]=""; done
  out=$(cat "$d/poll.out")
  [[ $out == blocked\ * ]] || { tail -20 "$(log_of "$srv" "$n" "$rep")" >&2 || true; die "$srv N=$n: swap not seen: $out"; }
  SWAP=${out#blocked }
  # ralo: from the server's "image swapped in" log line of the new image
  # (written just after the swap) to that first answer, in ms
  pub=NA
  if [ "$srv" = ralo ]; then
    pub=$(python3 - "$(log_of ralo "$n" "$rep")" "$t0" "${SWAP%% *}" <<'EOF'
import datetime, re, sys
last = None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^(\S+Z) .*image swapped in generation=", line)
    if m: last = m.group(1)
if last is None: print("NA"); sys.exit(0)
t = datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print("%.1f" % ((float(sys.argv[2]) + float(sys.argv[3]) - t.timestamp()) * 1000))
EOF
)
  fi
  SWAP="$SWAP $pub"
  check_answers "$srv" "$n" || die "$srv answers wrongly after the swap (N=$n)"
  st=$(answer "$port" "$name")
  [ "$st" = "NOERROR 0.0.0.0" ] || die "$srv N=$n: $name is '$st' after the swap"
}

# check SERVER N: blocked name -> NOERROR 0.0.0.0; allowed name -> NOERROR 198.18.0.5
check_answers() {
  local srv=$1 n=$2 port a b
  port=$(port_of "$srv")
  a=$(answer "$port" "$(sed -n 7p "$DATA/blocked-$n.names")")
  b=$(answer "$port" h00005.allowed.benchzone)
  if [ "$a" != "NOERROR 0.0.0.0" ] || [ "$b" != "NOERROR 198.18.0.5" ]; then
    echo "WRONG ANSWERS from $srv (N=$n): blocked -> '$a' (want 'NOERROR 0.0.0.0'), allowed -> '$b' (want 'NOERROR 198.18.0.5')" >&2
    return 1
  fi
}

# run_perf SERVER N MIX FILE REP PID : one saturating run + one fixed-rate run
run_perf() {
  local srv=$1 n=$2 mix=$3 file=$4 rep=$5 pid=$6 port out c0 c1 u0 u1 t0 t1
  local done_q lost lost_pct qps cpu_us pct up_ticks rcodes lat_out lat lat_lost lat_rcodes
  port=$(port_of "$srv")
  out=$WORK/raw/$srv-$n-$mix-$rep
  kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) is no longer running before $mix run (see $(log_of "$srv" "$n" "$rep"))"
  c0=$(ticks "$pid"); u0=$(nsd_ticks); t0=$(date +%s.%N)
  taskset -c "$CLI_CPU" timeout $((DUR + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$file" \
    -l "$DUR" -c "$CLIENTS" -q 200 -t 2 >"$out.sat" 2>&1 || true
  kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) died during $mix run (see $(log_of "$srv" "$n" "$rep"), $out.sat)"
  c1=$(ticks "$pid"); u1=$(nsd_ticks); t1=$(date +%s.%N)
  done_q=$(awk '/Queries completed/{print $3}' "$out.sat")
  lost=$(awk '/Queries lost/{print $3}' "$out.sat")
  lost_pct=$(awk '/Queries lost/{gsub(/[()%]/,"",$4); print $4}' "$out.sat")
  qps=$(awk '/Queries per second/{printf "%.0f", $4}' "$out.sat")
  rcodes=$(rcodes_of "$out.sat")
  [ -n "$done_q" ] && [ "$done_q" -gt 0 ] || { cat "$out.sat" >&2; die "dnsperf answered nothing ($srv N=$n $mix)"; }
  cpu_us=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v q="$done_q" 'BEGIN{printf "%.3f", (b-a)/hz*1e6/q}')
  pct=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" -v hz="$HZ" 'BEGIN{printf "%.0f", 100*(b-a)/hz/(y-x)}')
  up_ticks=$((u1 - u0))
  # fixed rate: per-query latencies from dnsperf -v lines "> RCODE name type seconds"
  lat_out=$out.fixed
  taskset -c "$CLI_CPU" timeout $((LAT_DUR + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$file" \
    -l "$LAT_DUR" -c "$CLIENTS" -Q "$LAT_QPS" -t 2 -v >"$lat_out" 2>&1 || true
  lat=$(awk '/^> /{print $NF*1000}' "$lat_out" | sort -g |
        awk '{a[NR]=$1} END{if(NR==0){print "NA\tNA"; exit}
             m=int(NR*0.50+0.5); if(m<1)m=1; i=int(NR*0.99+0.5); if(i<1)i=1; if(i>NR)i=NR
             printf "%.3f\t%.3f", a[m], a[i]}')
  lat_lost=$(awk '/Queries lost/{print $3}' "$lat_out")
  lat_rcodes=$(rcodes_of "$lat_out")
  # keep the fixed-rate summary, drop the per-query lines (tens of thousands)
  grep -v '^> ' "$lat_out" > "$lat_out.tmp" && mv "$lat_out.tmp" "$lat_out"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" \
    "$srv" "$n" "$mix" "$rep" "$qps" "$done_q" "$lost" "$lost_pct" "$pct" "$cpu_us" "$up_ticks" \
    "${rcodes:-NA}" "$lat" "${lat_lost:-NA}" "${lat_rcodes:-NA}" "$(mem_mb "$pid")" "$(kids_mb "$pid")" >> "$WORK/results.tsv"
  printf "  %-7s N=%-7s %-7s rep %s: %7s qps  %6s us/answer  cpu %3s%%  lost %s  fixed p50/p99 %s ms  lost %s  [%s]\n" \
    "$srv" "$n" "$mix" "$rep" "$qps" "$cpu_us" "$pct" "${lost_pct}%" "$(tr '\t' / <<<"$lat")" "${lat_lost:-NA}" "${rcodes:-NA}"
}

rm -rf "$WORK/run" "$WORK/raw"
mkdir -p "$WORK/raw" "$WORK/run"
printf "server\tN\tmix\trep\tqps\tanswered\tlost\tlost_pct\tsrv_cpu_pct\tcpu_us_per_answer\tupstream_ticks\trcodes\tp50_ms_fixed\tp99_ms_fixed\tlost_fixed\trcodes_fixed\trss_mb\thwm_mb\tupdater_rss_mb\n" > "$WORK/results.tsv"
printf "server\tN\trep\tfirst_answer_s\trss_idle_mb\thwm_idle_mb\n" > "$WORK/startup.tsv"
printf "server\tN\trep\tswap_s\tswap_silent_s\tpublish_to_answer_ms\n" > "$WORK/swap.tsv"
rm -f "$WORK/summary.md" "$WORK/sidebyside.csv" "$WORK/sidebyside.png"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -r)"
  uses dnsmasq && echo "dnsmasq: $(dnsmasq --version | head -1)"
  uses unbound && echo "unbound: $(unbound -V 2>&1 | head -1)"
  echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version|version/{print; exit}')"
  [ -x "$RALO" ] && echo "ralo: $("$RALO" --version 2>&1) sha256 $(sha256sum "$RALO" | cut -c1-16)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "params: SIZES='$SIZES' SERVERS='$SERVERS' REPS=$REPS DUR=$DUR LAT_DUR=$LAT_DUR LAT_QPS=$LAT_QPS CLIENTS=$CLIENTS"
} > "$WORK/env.txt"
cat "$WORK/env.txt"

declare -A PID_OF
for n in $SIZES; do
  for rep in $(seq "$REPS"); do
    # start each server alone (startup = exec -> first correct blocked answer)
    for srv in $SERVERS; do
      "start_$srv" "$n" "$rep"
      PID_OF[$srv]=$SPID
      if ! st=$(python3 "$SHARED/dnsprobe.py" "$(port_of "$srv")" "$(head -1 "$DATA/blocked-$n.names")" "$STARTUP_TIMEOUT" "$T0"); then
        tail -20 "$(log_of "$srv" "$n" "$rep")" >&2 || true
        die "$srv N=$n gave no answer within $STARTUP_TIMEOUT s"
      fi
      check_answers "$srv" "$n" || { tail -20 "$(log_of "$srv" "$n" "$rep")" >&2 || true; die "$srv answers wrongly"; }
      printf "%s\t%s\t%s\t%s\t%s\n" "$srv" "$n" "$rep" "$st" "$(mem_mb "$SPID")" >> "$WORK/startup.tsv"
      echo "$srv N=$n rep $rep: first correct answer after ${st}s (pid $SPID), RSS/HWM MB $(mem_mb "$SPID" | tr '\t' /)"
    done
    # one pass over the 10,000 allowed names so the allowed mix is all cache hits
    for srv in $SERVERS; do
      taskset -c "$CLI_CPU" timeout 60 dnsperf -s 127.0.0.1 -p "$(port_of "$srv")" -d "$DATA/q-allowed.txt" \
        -n 1 -c 4 -q 50 -t 2 >"$WORK/raw/$srv-$n-warm-$rep" 2>&1 || true
    done
    sleep 1
    for mix in blocked allowed mix30; do
      case $mix in
        blocked) f=$DATA/q-blocked-$n.txt;;
        allowed) f=$DATA/q-allowed.txt;;
        mix30)   f=$DATA/q-mix30-$n.txt;;
      esac
      order=$SERVERS   # reverse on even reps so drift hits all alike
      [ $((rep % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
      for srv in $order; do run_perf "$srv" "$n" "$mix" "$f" "$rep" "${PID_OF[$srv]}"; done
    done
    # the list swap, one server at a time, the others idle
    for srv in $SERVERS; do
      swap "$srv" "$n" "$rep"
      printf "%s\t%s\t%s\t%s\n" "$srv" "$n" "$rep" "$(tr ' ' '\t' <<<"$SWAP")" >> "$WORK/swap.tsv"
      echo "$srv N=$n rep $rep: list swap live after $(cut -d' ' -f1 <<<"$SWAP") s, longest stretch without answers $(cut -d' ' -f2 <<<"$SWAP") s"
    done
    for srv in $SERVERS; do stop_server "${PID_OF[$srv]}"; done
  done
done
stop_server "$NSD_PID"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/env.txt"

# ---------------------------------------------------------------- summary
python3 "$(dirname "$0")/report.py" "$WORK" "$LAT_QPS" | tee "$WORK/summary.md"
echo
echo "table: $WORK/summary.md  $WORK/sidebyside.csv"
echo "raw:   $WORK/results.tsv  $WORK/startup.tsv  $WORK/swap.tsv  $WORK/env.txt  $WORK/raw/  $WORK/run/"

# ---------------------------------------------------------------- chart
if [ -n "${SKIP_CHART:-}" ]; then
  echo "chart: skipped (SKIP_CHART)"
elif ! uses dnsmasq; then
  echo "chart: skipped (no dnsmasq in SERVERS, so no ratios)"
else
  # the chart crate builds into target/chart, beside ralo's own builds
  (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT/target/chart" CHART_FONT="$FONT" timeout 900 \
     cargo run --release --locked --manifest-path benches/chart/Cargo.toml -- \
     "$WORK/sidebyside.csv" "$WORK/sidebyside.png") || die "the chart failed (the table is in $WORK/summary.md)"
  echo "chart: $WORK/sidebyside.png"
fi
