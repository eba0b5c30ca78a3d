#!/usr/bin/env bash
# ralo at 1M names: time from exec to the first correct answer with the image
# already on disk, then the saturated capacity on the 30 %-blocked mix, then
# a fixed-rate run at 80 % of that capacity for 60 s, counting lost queries.
# Conventions of benches/sidebyside.sh: server on CPU 1, dnsperf and the NSD
# upstream on CPU 0, data from ../shared/bench/gen_data.py (seeded), a private
# copy of the binary, every process it starts stopped by PID, 127.0.0.1 only.
#
# Usage (as root, from anywhere):  benches/capacity.sh
# Env:  N=1000000  SAT_DUR=8  HOLD_DUR=60  SHARE=80 (% of capacity)
#       STARTS=5 (exec -> first answer, median of)  SKIP_INSTALL=1
#       SKIP_BUILD=1  RALO_BIN=path  P_RALO=5330 P_NSD=5331  SRV_CPU=1 CLI_CPU=0
# Output: target/bench/capacity/summary.md, results.tsv, raw dnsperf output.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$(dirname "$0")" && pwd)/../../shared/bench
[ -f "$SHARED/gen_data.py" ] && [ -f "$SHARED/dnsprobe.py" ] || {
  echo "capacity.sh: expected gen_data.py and dnsprobe.py in $SHARED (the 'shared' folder beside the checkout)" >&2
  exit 2
}
SHARED=$(cd "$SHARED" && pwd)
N=${N:-1000000}
SAT_DUR=${SAT_DUR:-8}
HOLD_DUR=${HOLD_DUR:-60}
SHARE=${SHARE:-80}
STARTS=${STARTS:-5}
P_RALO=${P_RALO:-5330}
P_NSD=${P_NSD:-5331}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
WORK=$ROOT/target/bench/capacity
DATA=$ROOT/target/bench/data
PATH=$PATH:/usr/sbin:/sbin

die() { echo "capacity.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and pins processes)"
for v in N SAT_DUR HOLD_DUR SHARE STARTS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

if [ -z "${SKIP_INSTALL:-}" ]; then
  need=""
  for b in dnsperf:dnsperf nsd:nsd python3:python3 taskset:util-linux; do
    command -v "${b%%:*}" >/dev/null 2>&1 || need="$need ${b#*:}"
  done
  if [ -n "$need" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends $need || die "could not install:$need"
  fi
fi
for b in dnsperf nsd python3 taskset; do command -v "$b" >/dev/null || die "$b not found"; done

rm -rf "$WORK"; mkdir -p "$WORK/raw" "$DATA"
RALO=$WORK/ralo
copy_ralo "$RALO"
for f in blocked-$N.hosts blocked-$N.names q-mix30-$N.txt q-allowed.txt allowed.benchzone.zone; do
  [ -s "$DATA/$f" ] || { python3 "$SHARED/gen_data.py" "$DATA" "$N"; break; }
done

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && stop_pid "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for p in $P_RALO $P_NSD; do port_free "$p" || die "127.0.0.1:$p is in use; set P_RALO/P_NSD"; done

start_nsd "$P_NSD" "$SHARED/dnsprobe.py"
cat > "$WORK/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_RALO"]
spawn_updater = false
[upstream]
servers = ["127.0.0.1:$P_NSD"]
[paths]
state = "$WORK/state"
runtime = "$WORK/run"
[[lists]]
name = "bench"
path = "$DATA/blocked-$N.hosts"
EOF
# The image on disk, as a Pi has it after its first update.
taskset -c "$CLI_CPU" "$RALO" update --config "$WORK/ralo.toml" 2>"$WORK/update.log" \
  || { cat "$WORK/update.log" >&2; die "ralo update failed"; }

# exec -> first correct blocked answer: the probe starts the server itself
# and polls every millisecond, so neither interpreter start nor a coarse
# poll lands in the figure.
first_answer() {
  python3 - "$RALO" "$WORK/ralo.toml" "$P_RALO" "$(head -1 "$DATA/blocked-$N.names")" "$SRV_CPU" <<'PY'
import os, socket, struct, subprocess, sys, time
ralo, config, port, name, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
t0 = time.monotonic()
p = subprocess.Popen(["taskset", "-c", cpu, ralo, "serve", "--config", config],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
elapsed = None
while time.monotonic() - t0 < 30 and elapsed is None:
    try:
        s.sendto(q, ("127.0.0.1", port))
    except OSError:
        pass
    time.sleep(0.001)
    while True:
        try:
            d = s.recv(4096)
        except (BlockingIOError, ConnectionRefusedError):
            break
        if d[:2] == b"\x00\x07" and d[3] & 15 == 0 and struct.unpack(">H", d[6:8])[0] > 0:
            elapsed = time.monotonic() - t0
            break
p.terminate()
p.wait(timeout=10)
print("%.4f" % elapsed if elapsed is not None else "timeout")
PY
}
starts=()
for i in $(seq "$STARTS"); do
  st=$(first_answer)
  [ "$st" != timeout ] || die "ralo gave no answer within 30 s"
  starts+=("$st")
  echo "start $i: first correct answer ${st}s after exec"
done
start_median=$(printf "%s\n" "${starts[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')

taskset -c "$SRV_CPU" "$RALO" serve --config "$WORK/ralo.toml" 2>"$WORK/serve.log" & SPID=$!; PIDS+=("$SPID")
python3 "$SHARED/dnsprobe.py" "$P_RALO" "$(head -1 "$DATA/blocked-$N.names")" 30 >/dev/null || die "ralo did not start"
# Warm the cache with the allowed names, as a household's cache is warm.
taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$P_RALO" -d "$DATA/q-allowed.txt" -n 1 -c 4 -q 50 -t 2 \
  >"$WORK/raw/warm" 2>&1 || true

taskset -c "$CLI_CPU" timeout $((SAT_DUR + 30)) dnsperf -s 127.0.0.1 -p "$P_RALO" -d "$DATA/q-mix30-$N.txt" \
  -l "$SAT_DUR" -c 10 -q 200 >"$WORK/raw/saturated" 2>&1 || die "dnsperf failed (see $WORK/raw/saturated)"
capacity=$(awk '/Queries per second/{printf "%d", $4}' "$WORK/raw/saturated")
[ "${capacity:-0}" -gt 0 ] || die "no capacity measured"
rate=$((capacity * SHARE / 100))
echo "capacity (mix30, N=$N, saturated): $capacity qps; holding $rate qps ($SHARE %) for $HOLD_DUR s"

rss_before=$(mem_mb "$SPID" | tr '\t' /)
taskset -c "$CLI_CPU" timeout $((HOLD_DUR + 60)) dnsperf -s 127.0.0.1 -p "$P_RALO" -d "$DATA/q-mix30-$N.txt" \
  -l "$HOLD_DUR" -c 10 -Q "$rate" -t 2 >"$WORK/raw/held" 2>&1 || die "dnsperf failed (see $WORK/raw/held)"
sent=$(awk '/Queries sent/{print $3}' "$WORK/raw/held")
done_q=$(awk '/Queries completed/{print $3}' "$WORK/raw/held")
lost=$(awk '/Queries lost/{print $3}' "$WORK/raw/held")
avg=$(awk '/Average Latency/{print $4}' "$WORK/raw/held")
max=$(awk '/Average Latency/{gsub(/[(),]/,""); print $(NF)}' "$WORK/raw/held")
rss_after=$(mem_mb "$SPID" | tr '\t' /)
grep -E "^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem|Threads)" "/proc/$SPID/status" > "$WORK/status-after.txt"

printf "N\tstart_median_s\tcapacity_qps\theld_qps\theld_s\tsent\tanswered\tlost\tavg_latency_s\tmax_latency_s\trss_hwm_before_mb\trss_hwm_after_mb\n" > "$WORK/results.tsv"
printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$N" "$start_median" "$capacity" "$rate" "$HOLD_DUR" \
  "$sent" "$done_q" "$lost" "$avg" "$max" "$rss_before" "$rss_after" >> "$WORK/results.tsv"
{
  echo "ralo, $N names, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
  echo
  echo "| first answer after exec (median of $STARTS) | capacity, mix30 | held rate | sent | answered | lost | avg latency | max latency | RSS/HWM MB before → after |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| ${start_median} s | $capacity qps | $rate qps for $HOLD_DUR s | $sent | $done_q | $lost | $avg s | $max s | $rss_before → $rss_after |"
} | tee "$WORK/summary.md"
