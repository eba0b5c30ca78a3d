#!/usr/bin/env bash
# ralo vs dnsmasq, side by side, measured as /work/shared/notes/bench-method.md
# describes (server on CPU 1; dnsperf and the NSD upstream on CPU 0; CPU time
# per answered query; medians of REPS repetitions; ratios to dnsmasq from the
# same repetition). Loopback (127.0.0.1) only. See benches/README.md.
#
# Usage (as root, from anywhere):  benches/sidebyside.sh
# Env:  SIZES="100000 1000000"  REPS=3  DUR=8 (saturating run, s)  LAT_DUR=5
#       LAT_QPS=5000  CLIENTS=10  SERVERS="ralo dnsmasq"
#       SKIP_INSTALL=1 (no apt-get)  SKIP_BUILD=1 (use target/release/ralo as is)
#       RALO_BIN=path (use this binary, no build)  STARTUP_TIMEOUT=120
#       P_NSD=5301 P_DNSMASQ=5300 P_RALO=5310  SRV_CPU=1 CLI_CPU=0
# Output: target/bench/results.tsv (one line per run), target/bench/startup.tsv
#         (one line per server start), target/bench/summary.md (the table).
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
SERVERS=${SERVERS:-"ralo dnsmasq"}
REPS=${REPS:-3}
DUR=${DUR:-8}
LAT_DUR=${LAT_DUR:-5}
LAT_QPS=${LAT_QPS:-5000}
CLIENTS=${CLIENTS:-10}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-120}
P_NSD=${P_NSD:-5301}
P_DNSMASQ=${P_DNSMASQ:-5300}
P_RALO=${P_RALO:-5310}
WORK=$ROOT/target/bench
DATA=$WORK/data
HZ=$(getconf CLK_TCK)
PATH=$PATH:/usr/sbin:/sbin

die() { echo "sidebyside.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and pins processes)"
for v in REPS DUR LAT_DUR LAT_QPS CLIENTS STARTUP_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
for n in $SIZES; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "SIZES: '$n' is not a number"; done
for s in $SERVERS; do case $s in ralo|dnsmasq) ;; *) die "SERVERS: unknown '$s'";; esac; done

# ---------------------------------------------------------------- packages
if [ -z "${SKIP_INSTALL:-}" ]; then
  need=""
  for b in dnsperf:dnsperf dnsmasq:dnsmasq-base nsd:nsd python3:python3 taskset:util-linux; do
    command -v "${b%%:*}" >/dev/null 2>&1 || need="$need ${b#*:}"
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
for b in dnsperf dnsmasq nsd python3 taskset; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found (unset SKIP_INSTALL to install it)"
done

# ---------------------------------------------------------------- ralo binary
mkdir -p "$WORK" "$DATA"
RALO=$WORK/ralo   # a private copy: others may rebuild target/release during the run
if [[ " $SERVERS " == *" ralo "* ]]; then
  copy_ralo "$RALO"
fi

# ---------------------------------------------------------------- data
gen=0
for n in $SIZES; do
  for f in blocked-$n.hosts blocked-$n.names q-blocked-$n.txt q-mix30-$n.txt; do
    [ -s "$DATA/$f" ] || gen=1
  done
done
[ -s "$DATA/q-allowed.txt" ] && [ -s "$DATA/allowed.benchzone.zone" ] || gen=1
# gen_data.py is seeded: the same sizes always give the same files
if [ $gen = 1 ]; then python3 "$SHARED/gen_data.py" "$DATA" $SIZES; fi

# ---------------------------------------------------------------- helpers
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { python3 -c 'import time; print(time.time())'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }           # utime+stime, all threads
mem_mb() { awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{printf "%.0f\t%.0f", r/1024, h/1024}' "/proc/$1/status"; }
# NSD forks its server process: sum the main process and its children
nsd_ticks() {
  local t=0 p
  for p in "$NSD_PID" $(pgrep -P "$NSD_PID" || true); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(ticks "$p")))
  done
  echo "$t"
}
# answer PORT NAME -> "RCODE addr,addr" for an A query (one try per 0.5 s, 3 tries)
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
port_of() { case $1 in ralo) echo "$P_RALO";; dnsmasq) echo "$P_DNSMASQ";; esac; }

for p in $P_NSD $(for s in $SERVERS; do port_of "$s"; done); do
  port_free "$p" || die "127.0.0.1:$p is in use (another benchmark running?); set P_NSD/P_RALO/P_DNSMASQ"
done

# ---------------------------------------------------------------- upstream: NSD
start_nsd "$P_NSD" "$SHARED/dnsprobe.py"
echo "nsd up on 127.0.0.1:$P_NSD (pid $NSD_PID, CPU $CLI_CPU)"

# ---------------------------------------------------------------- servers
start_ralo() {  # N -> sets SPID
  local n=$1
  cat > "$WORK/ralo-$n.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_RALO"]
[upstream]
servers = ["127.0.0.1:$P_NSD"]
[cache]
entries = 20000
[[lists]]
name = "bench"
path = "$DATA/blocked-$n.hosts"
EOF
  T0=$(now)
  taskset -c "$SRV_CPU" "$RALO" serve --config "$WORK/ralo-$n.toml" 2>"$WORK/ralo-$n.log" & SPID=$!; PIDS+=("$SPID")
}
start_dnsmasq() {  # N -> sets SPID; the configuration of run_baseline.sh
  local n=$1
  cat > "$WORK/dnsmasq-$n.conf" <<EOF
port=$P_DNSMASQ
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
user=root
server=127.0.0.1#$P_NSD
addn-hosts=$DATA/blocked-$n.hosts
cache-size=10000
local-ttl=2
dns-forward-max=1000
EOF
  T0=$(now)
  taskset -c "$SRV_CPU" dnsmasq -k -C "$WORK/dnsmasq-$n.conf" --pid-file= 2>"$WORK/dnsmasq-$n.log" & SPID=$!; PIDS+=("$SPID")
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
  kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) is no longer running before $mix run (see $WORK/$srv-$n.log)"
  c0=$(ticks "$pid"); u0=$(nsd_ticks); t0=$(date +%s.%N)
  taskset -c "$CLI_CPU" timeout $((DUR + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$file" \
    -l "$DUR" -c "$CLIENTS" -q 200 -t 2 >"$out.sat" 2>&1 || true
  kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) died during $mix run (see $WORK/$srv-$n.log, $out.sat)"
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
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" \
    "$srv" "$n" "$mix" "$rep" "$qps" "$done_q" "$lost" "$lost_pct" "$pct" "$cpu_us" "$up_ticks" \
    "${rcodes:-NA}" "$lat" "${lat_lost:-NA}" "${lat_rcodes:-NA}" "$(mem_mb "$pid")" >> "$WORK/results.tsv"
  printf "  %-7s N=%-7s %-7s rep %s: %7s qps  %6s us/answer  cpu %3s%%  lost %s  fixed p50/p99 %s ms  lost %s  [%s]\n" \
    "$srv" "$n" "$mix" "$rep" "$qps" "$cpu_us" "$pct" "${lost_pct}%" "$(tr '\t' / <<<"$lat")" "${lat_lost:-NA}" "${rcodes:-NA}"
}

mkdir -p "$WORK/raw"
printf "server\tN\tmix\trep\tqps\tanswered\tlost\tlost_pct\tsrv_cpu_pct\tcpu_us_per_answer\tupstream_ticks\trcodes\tp50_ms_fixed\tp99_ms_fixed\tlost_fixed\trcodes_fixed\trss_mb\thwm_mb\n" > "$WORK/results.tsv"
printf "server\tN\trep\tfirst_answer_s\trss_idle_mb\thwm_idle_mb\n" > "$WORK/startup.tsv"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -r)"
  echo "dnsmasq: $(dnsmasq --version | head -1)"
  echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version|version/{print; exit}')"
  [ -x "$RALO" ] && echo "ralo: $("$RALO" --version 2>&1) sha256 $(sha256sum "$RALO" | cut -c1-16)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "params: SIZES='$SIZES' REPS=$REPS DUR=$DUR LAT_DUR=$LAT_DUR LAT_QPS=$LAT_QPS CLIENTS=$CLIENTS"
} > "$WORK/env.txt"
cat "$WORK/env.txt"

declare -A PID_OF
for n in $SIZES; do
  for rep in $(seq "$REPS"); do
    # start each server alone (startup = exec -> first correct blocked answer)
    for srv in $SERVERS; do
      "start_$srv" "$n"
      PID_OF[$srv]=$SPID
      if ! st=$(python3 "$SHARED/dnsprobe.py" "$(port_of "$srv")" "$(head -1 "$DATA/blocked-$n.names")" "$STARTUP_TIMEOUT" "$T0"); then
        tail -20 "$WORK/$srv-$n.log" >&2 || true
        die "$srv N=$n gave no answer within $STARTUP_TIMEOUT s"
      fi
      check_answers "$srv" "$n" || { tail -20 "$WORK/$srv-$n.log" >&2 || true; die "$srv answers wrongly"; }
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
      order=$SERVERS   # reverse on even reps so drift hits both alike
      [ $((rep % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
      for srv in $order; do run_perf "$srv" "$n" "$mix" "$f" "$rep" "${PID_OF[$srv]}"; done
    done
    for srv in $SERVERS; do stop_pid "${PID_OF[$srv]}"; done
  done
done
stop_pid "$NSD_PID"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/env.txt"

# ---------------------------------------------------------------- summary
python3 - "$WORK/results.tsv" "$WORK/startup.tsv" "$LAT_QPS" <<'EOF' | tee "$WORK/summary.md"
import csv, statistics, sys
from collections import defaultdict
res = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
st = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
rate = sys.argv[3]
def f(x):
    try: return float(x)
    except (TypeError, ValueError): return None
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def s(x, p=0): return "NA" if x is None else "%.*f" % (p, x)
by = defaultdict(list); cell = {}
for r in res:
    by[(r["server"], r["N"], r["mix"])].append(r)
    cell[(r["server"], r["N"], r["mix"], r["rep"])] = f(r["cpu_us_per_answer"])
first = defaultdict(list)
for r in st: first[(r["server"], r["N"])].append(f(r["first_answer_s"]))
mixes = ["blocked", "allowed", "mix30"]
print("Medians over %d reps. CPU-us/answer: server utime+stime / answered queries in the "
      "saturating run; ratio: that / dnsmasq's in the same rep (median of per-rep ratios); "
      "lost: saturating run %%, fixed-rate run count; p50/p99: fixed-rate run at %s qps; "
      "RSS: after the runs (max over reps); first answer: exec -> first correct answer."
      % (max(len(v) for v in by.values()), rate))
print()
print("| server | N | mix | CPU-us/answer | ratio to dnsmasq | qps | lost % (sat) | lost (fixed) | p50 ms | p99 ms | RSS MB | HWM MB | first answer s | rcodes (sat) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
keys = sorted(by, key=lambda k: (int(k[1]), mixes.index(k[2]), k[0] != "ralo"))
for k in keys:
    rs = by[k]; srv, n, mix = k
    rat = [cell[(srv, n, mix, r["rep"])] / cell[("dnsmasq", n, mix, r["rep"])]
           for r in rs if cell.get(("dnsmasq", n, mix, r["rep"])) and cell.get((srv, n, mix, r["rep"]))]
    rc = sorted({r["rcodes"] for r in rs})
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        srv, n, mix, s(med([f(r["cpu_us_per_answer"]) for r in rs]), 2),
        s(med(rat), 2) if rat else "NA",
        s(med([f(r["qps"]) for r in rs])), s(med([f(r["lost_pct"]) for r in rs]), 2),
        s(med([f(r["lost_fixed"]) for r in rs])),
        s(med([f(r["p50_ms_fixed"]) for r in rs]), 3), s(med([f(r["p99_ms_fixed"]) for r in rs]), 3),
        s(max(f(r["rss_mb"]) or 0 for r in rs)), s(max(f(r["hwm_mb"]) or 0 for r in rs)),
        s(med(first[(srv, n)]), 2), " ".join(sorted({c.split(":")[0] for x in rc for c in x.split(",")}))))
EOF
echo
echo "raw: $WORK/results.tsv  $WORK/startup.tsv  $WORK/env.txt  $WORK/raw/"
