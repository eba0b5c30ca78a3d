#!/usr/bin/env bash
# ralo updates and image swaps: compile time, image size and updater peak RSS;
# publish-to-live latency; server RSS before / during / after a swap; lost
# queries and latency of a fixed-rate load while images are published.
# Conventions of benches/sidebyside.sh: work folder target/bench/swap/, data
# from ../shared/bench/gen_data.py (seeded), private copy of the binary,
# every process it starts is stopped by PID, bounded loops, 127.0.0.1 only.
# See benches/README.md, section "Updates and swaps".
#
# Usage (as root, from anywhere):  benches/swap.sh
# Env:  REPS=3  LOAD_DUR=10 (s per dnsperf run)  LOAD_QPS=5000  PUBLISHES=3
#       (publishes during the loaded run)  LEAK_SWAPS=10 (extra publishes in a
#       row, RSS read after each)  LISTS="hagezi 1m"  POLL_TIMEOUT=30
#       SKIP_INSTALL=1 (no apt-get)  SKIP_BUILD=1 (use target/release/ralo as is)
#       RALO_BIN=path  P_RALO=5320 P_NSD=5321  SRV_CPU=1 CLI_CPU=0
#       UPD_CPU= (empty: `ralo update` runs unpinned, as it would on a Pi)
# Output: target/bench/swap/{compile,swap,load,leak}.tsv, env.txt, summary.md,
#         run/<list>-<rep>/ (configs, logs, dnsperf output).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$(dirname "$0")" && pwd)/../../shared
if [ ! -f "$SHARED/bench/gen_data.py" ] || [ ! -f "$SHARED/bench/dnsprobe.py" ] ||
   [ ! -f "$SHARED/data/domains/hagezi-light.domains.txt" ]; then
  echo "swap.sh: expected bench/gen_data.py, bench/dnsprobe.py and" >&2
  echo "  data/domains/hagezi-light.domains.txt in $SHARED (the 'shared' folder beside the checkout)" >&2
  exit 2
fi
SHARED=$(cd "$SHARED" && pwd)
HAGEZI=$SHARED/data/domains/hagezi-light.domains.txt

REPS=${REPS:-3}
LOAD_DUR=${LOAD_DUR:-10}
LOAD_QPS=${LOAD_QPS:-5000}
PUBLISHES=${PUBLISHES:-3}
LEAK_SWAPS=${LEAK_SWAPS:-10}
LISTS=${LISTS:-"hagezi 1m"}
POLL_TIMEOUT=${POLL_TIMEOUT:-30}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
P_RALO=${P_RALO:-5320}
P_NSD=${P_NSD:-5321}
WORK=$ROOT/target/bench/swap
DATA=$WORK/data
BIN=$WORK/bin
PATH=$PATH:/usr/sbin:/sbin

die() { echo "swap.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (it installs packages, pins processes, resets VmHWM)"
for v in REPS LOAD_DUR LOAD_QPS PUBLISHES POLL_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $LEAK_SWAPS =~ ^[0-9]+$ ]] || die "LEAK_SWAPS must be a number"
for l in $LISTS; do case $l in hagezi|1m) ;; *) die "LISTS: unknown '$l' (hagezi, 1m)";; esac; done

# ---------------------------------------------------------------- packages
if [ -z "${SKIP_INSTALL:-}" ]; then
  need=""
  for b in dnsperf:dnsperf nsd:nsd python3:python3 taskset:util-linux /usr/bin/time:time; do
    command -v "${b%%:*}" >/dev/null 2>&1 || need="$need ${b#*:}"
  done
  if [ -n "$need" ]; then
    ok=0
    for try in 1 2 3; do
      if apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends $need; then ok=1; break; fi
      echo "apt-get failed (try $try of 3); retrying in 10 s" >&2; sleep 10
    done
    [ $ok = 1 ] || die "could not install:$need"
  fi
fi
for b in dnsperf nsd python3 taskset /usr/bin/time; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found (unset SKIP_INSTALL to install it)"
done

# ---------------------------------------------------------------- ralo binary
mkdir -p "$WORK" "$DATA" "$BIN"
RALO=$WORK/ralo   # a private copy: others may rebuild target/release during the run
copy_ralo "$RALO"

# ---------------------------------------------------------------- data
for f in blocked-1000000.hosts blocked-1000000.names q-blocked-1000000.txt allowed.benchzone.zone; do
  [ -s "$DATA/$f" ] || { python3 "$SHARED/bench/gen_data.py" "$DATA" 1000000; break; }
done
list_src() { case $1 in hagezi) echo "$HAGEZI";; 1m) echo "$DATA/blocked-1000000.hosts";; esac; }
# a name the list blocks (for start-up and answer checks)
old_name() {
  case $1 in
    hagezi) grep -v '^#' "$HAGEZI" | grep . | sed -n 1000p;;
    1m) sed -n 7p "$DATA/blocked-1000000.names";;
  esac
}
# append a new blocked name in the list's own format
add_name() {  # LIST FILE NAME
  case $1 in
    hagezi) echo "$3" >> "$2";;
    1m) echo "0.0.0.0 $3" >> "$2";;
  esac
}

# ---------------------------------------------------------------- helper programs
# watch.py: polls NAME on 127.0.0.1:PORT every 1 ms (one query in flight per
# send, answers matched by id, never blocks on one answer) and samples
# /proc/PID/status every 5 ms, until the first answer with A 0.0.0.0 plus
# POST seconds, or TIMEOUT. Touches READY after its first answer.
cat > "$BIN/watch.py" <<'EOF'
import os, select, socket, struct, sys, time
port, name, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
timeout, post, ready, samples_path = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
QNAME = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
def query(qid):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + QNAME + struct.pack(">HH", 1, 1)
def skip_name(d, i):
    while True:
        n = d[i]
        if n == 0: return i + 1
        if n & 0xC0 == 0xC0: return i + 2
        i += n + 1
def parse(d):
    qid, rcode = struct.unpack(">H", d[:2])[0], d[3] & 15
    qd, an = struct.unpack(">HH", d[4:8]); i = 12; addrs = []
    for _ in range(qd): i = skip_name(d, i) + 4
    for _ in range(an):
        i = skip_name(d, i)
        typ, _, _, ln = struct.unpack(">HHIH", d[i:i + 10]); i += 10
        if typ == 1 and ln == 4: addrs.append(socket.inet_ntoa(d[i:i + 4]))
        i += ln
    return qid, rcode, addrs
def status():
    out = {}
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"): out[k] = int(v.split()[0])
    except OSError:
        pass
    return out
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
samples = open(samples_path, "w"); samples.write("t\tVmRSS\tRssAnon\tRssFile\tRssShmem\n")
sent = {}; qid = 0; n_sent = 0; n_blocked = 0; regress = 0; rcodes = set()
first_blocked = last_other = None; peak = 0; nsamp = 0; is_ready = False
t0 = time.time(); next_send = t0; next_rss = t0
while True:
    now = time.time()
    if now >= next_send:
        qid = (qid + 1) & 0xFFFF
        try: s.sendto(query(qid), ("127.0.0.1", port)); sent[qid] = now; n_sent += 1
        except OSError: pass
        next_send = max(next_send + 0.001, now)
    if now >= next_rss:
        st = status()
        if st:
            nsamp += 1; peak = max(peak, st.get("VmRSS", 0))
            samples.write("%.6f\t%d\t%d\t%d\t%d\n" % (now, st.get("VmRSS", 0), st.get("RssAnon", 0), st.get("RssFile", 0), st.get("RssShmem", 0)))
        next_rss = max(next_rss + 0.005, now)
    while True:
        try: d = s.recv(4096)
        except (BlockingIOError, InterruptedError): break
        except OSError: break   # ICMP unreachable before the server listens
        tr = time.time()
        try: rid, rcode, addrs = parse(d)
        except (IndexError, struct.error): continue
        ts = sent.pop(rid, None)
        if ts is None: continue
        rcodes.add(rcode)
        if not is_ready:
            open(ready, "w").close(); is_ready = True
        if "0.0.0.0" in addrs:
            n_blocked += 1
            if first_blocked is None: first_blocked = (tr, ts)
        elif first_blocked is None:
            last_other = (tr, ts)
        else:
            regress += 1   # not blocked after a blocked answer: should never happen
    now = time.time()
    if first_blocked and now > first_blocked[0] + post: break
    if now - t0 > timeout: break
    select.select([s], [], [], max(0.0, min(next_send, next_rss) - now))
samples.close()
f = lambda x, k: "%.6f" % x[k] if x else "NA"
print("\t".join(["blocked" if first_blocked else "timeout", f(first_blocked, 0), f(first_blocked, 1),
                 f(last_other, 0), f(last_other, 1), str(n_sent), str(n_blocked), str(regress),
                 str(peak), str(nsamp), ",".join(str(r) for r in sorted(rcodes))]))
EOF
# logtime LOG GEN -> epoch seconds of the server's "image swapped in generation=GEN" line
cat > "$BIN/logtime.py" <<'EOF'
import datetime, re, sys
pat = re.compile(r"^(\S+Z) .*image swapped in generation=%s\b" % re.escape(sys.argv[2]))
for line in open(sys.argv[1], errors="replace"):
    m = pat.match(line)
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
        print("%.6f" % t.replace(tzinfo=datetime.timezone.utc).timestamp()); sys.exit(0)
print("NA")
EOF

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

mem() {  # PID -> "VmRSS VmHWM RssAnon RssFile RssShmem" in kB, tab-separated
  awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} /^RssShmem/{s=$2}
       END{printf "%d\t%d\t%d\t%d\t%d", r, h, a, f, s}' "/proc/$1/status"
}
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="NA"||b=="NA") print "NA"; else printf "%.1f", (b-a)*1000 }'; }

# run_update DIR TAG -> runs `ralo update`, sets U_WALL_MS U_GEN U_RULES U_BYTES U_WHERE U_INNER_MS U_MAXRSS U_T0
run_update() {
  local dir=$1 tag=$2 t1 line
  U_T0=$EPOCHREALTIME
  if ! timeout 120 ${UPD_CPU:+taskset -c "$UPD_CPU"} /usr/bin/time -v -o "$dir/$tag.time" "$RALO" update --config "$dir/ralo.toml" \
        >"$dir/$tag.out" 2>"$dir/$tag.err"; then
    t1=$EPOCHREALTIME
    cat "$dir/$tag.out" "$dir/$tag.err" >&2 || true
    die "ralo update failed ($dir, $tag)"
  fi
  t1=$EPOCHREALTIME
  U_WALL_MS=$(ms_between "$U_T0" "$t1")
  # "generation 2: 1000001 rules, 8262315 bytes, live in 880 ms"
  line=$(grep -E '^generation [0-9]+: ' "$dir/$tag.out" | tail -1)
  [ -n "$line" ] || { cat "$dir/$tag.out" "$dir/$tag.err" >&2; die "no 'generation' line from ralo update ($dir, $tag)"; }
  U_GEN=$(awk '{sub(":","",$2); print $2}' <<<"$line")
  U_RULES=$(awk '{print $3}' <<<"$line")
  U_BYTES=$(awk '{print $5}' <<<"$line")
  U_WHERE=$(awk '{print $7}' <<<"$line")
  U_INNER_MS=$(awk '{print $(NF-1)}' <<<"$line")
  U_MAXRSS=$(awk -F': ' '/Maximum resident set size/{print $2}' "$dir/$tag.time")
}

start_server() {  # DIR LIST -> sets SPID
  local dir=$1 l=$2 st
  taskset -c "$SRV_CPU" "$RALO" serve --config "$dir/ralo.toml" 2>>"$dir/serve.log" & SPID=$!; PIDS+=("$SPID")
  st=$(python3 "$SHARED/bench/dnsprobe.py" "$P_RALO" "$(old_name "$l")" 60) ||
    { tail -20 "$dir/serve.log" >&2; die "ralo serve ($dir) gave no answer within 60 s"; }
  check "$l" "" || { tail -20 "$dir/serve.log" >&2; die "ralo serve ($dir) answers wrongly at start"; }
}

# check LIST NEWNAMES...: old blocked name and each NEWNAME -> NOERROR 0.0.0.0;
# an allowed name -> NOERROR 198.18.0.5
check() {
  local l=$1 n a bad=0; shift
  a=$(answer "$P_RALO" "$(old_name "$l")")
  [ "$a" = "NOERROR 0.0.0.0" ] || { echo "WRONG: listed $(old_name "$l") -> '$a'" >&2; bad=1; }
  for n in "$@"; do
    [ -n "$n" ] || continue
    a=$(answer "$P_RALO" "$n")
    [ "$a" = "NOERROR 0.0.0.0" ] || { echo "WRONG: added $n -> '$a'" >&2; bad=1; }
  done
  a=$(answer "$P_RALO" h00005.allowed.benchzone)
  [ "$a" = "NOERROR 198.18.0.5" ] || { echo "WRONG: allowed h00005.allowed.benchzone -> '$a'" >&2; bad=1; }
  return $bad
}

dnsperf_stats() {  # FILE -> sent completed lost p99_ms max_ms rcodes (tab-separated)
  local f=$1 sent done_q lost p99 max rc
  sent=$(awk '/Queries sent/{print $3}' "$f")
  done_q=$(awk '/Queries completed/{print $3}' "$f")
  lost=$(awk '/Queries lost/{print $3}' "$f")
  max=$(awk '/Average Latency/{for(i=1;i<=NF;i++) if($i=="max"){v=$(i+1); gsub(/[),]/,"",v); printf "%.3f", v*1000}}' "$f")
  p99=$(awk '/^> /{print $NF*1000}' "$f" | sort -g |
        awk '{a[NR]=$1} END{if(NR==0){print "NA"; exit} i=int(NR*0.99+0.5); if(i<1)i=1; if(i>NR)i=NR; printf "%.3f", a[i]}')
  rc=$(rcodes_of "$f")
  printf "%s\t%s\t%s\t%s\t%s\t%s" "${sent:-NA}" "${done_q:-NA}" "${lost:-NA}" "${p99:-NA}" "${max:-NA}" "${rc:-NA}"
}

for p in $P_RALO $P_NSD; do
  port_free "$p" || die "127.0.0.1:$p is in use (another benchmark running?); set P_RALO/P_NSD"
done

# ---------------------------------------------------------------- upstream: NSD
# authoritative for allowed.benchzone; the names added during the run live in
# that zone, so before the swap they get a fast NXDOMAIN, after it 0.0.0.0
start_nsd "$P_NSD" "$SHARED/bench/dnsprobe.py"

# ---------------------------------------------------------------- environment
printf "list\trep\tkind\twall_ms\tinner_ms\twhere\tgeneration\trules\tbytes\tupdater_maxrss_kb\n" > "$WORK/compile.tsv"
printf "list\trep\tgeneration\texec_to_blocked_ms\tlog_to_blocked_ms\tlast_unblocked_to_blocked_ms\tinner_ms\twall_ms\tpolls\tregressions\trss_before_kb\thwm_boot_kb\tanon_before_kb\tfile_before_kb\tshmem_before_kb\tpeak_sampled_kb\tsamples\thwm_swap_kb\trss_after_kb\tanon_after_kb\tfile_after_kb\tshmem_after_kb\n" > "$WORK/swap.tsv"
printf "list\trep\trun\tpublishes\tsent\tcompleted\tlost\tp99_ms\tmax_ms\trcodes\tpublish_ms\trss_after_kb\thwm_kb\n" > "$WORK/load.tsv"
printf "list\trep\tpublish\tgeneration\tinner_ms\trss_kb\thwm_kb\tanon_kb\tfile_kb\tshmem_kb\n" > "$WORK/leak.tsv"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -r)"
  echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version|version/{print; exit}')"
  echo "ralo: $("$RALO" --version 2>&1) sha256 $(sha256sum "$RALO" | cut -c1-16)"
  echo "tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo NA)" \
       "modified: $(git -C "$ROOT" --no-optional-locks status --porcelain -uno 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "params: LISTS='$LISTS' REPS=$REPS LOAD_DUR=$LOAD_DUR LOAD_QPS=$LOAD_QPS PUBLISHES=$PUBLISHES LEAK_SWAPS=$LEAK_SWAPS SRV_CPU=$SRV_CPU CLI_CPU=$CLI_CPU UPD_CPU=${UPD_CPU:-unpinned}"
} > "$WORK/env.txt"
cat "$WORK/env.txt"

# ---------------------------------------------------------------- runs
rm -rf "$WORK/run"
for rep in $(seq "$REPS"); do
  for l in $LISTS; do
    D=$WORK/run/$l-$rep
    mkdir -p "$D"
    cp "$(list_src "$l")" "$D/list.txt"
    cat > "$D/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:$P_RALO"]
spawn_updater = false
[upstream]
servers = ["127.0.0.1:$P_NSD"]
[paths]
state = "state"
runtime = "run"
[update]
max_drop = 1.0
[[lists]]
name = "$l"
path = "list.txt"
EOF
    # 1. cold compile: empty state, no server
    run_update "$D" cold
    [ "$U_WHERE" = stored ] || die "cold update in $D was '$U_WHERE', expected 'stored' (is another server on $D/run?)"
    printf "%s\t%s\tcold\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$l" "$rep" "$U_WALL_MS" "$U_INNER_MS" "$U_WHERE" \
      "$U_GEN" "$U_RULES" "$U_BYTES" "$U_MAXRSS" >> "$WORK/compile.tsv"
    echo "$l rep $rep cold: ${U_WALL_MS} ms wall, $U_RULES rules, $U_BYTES bytes, updater max RSS ${U_MAXRSS} kB"

    # 2./3. server boots from that image; one name is added and published
    start_server "$D" "$l"
    sleep 1
    before=$(mem "$SPID")
    echo 5 > "/proc/$SPID/clear_refs"   # reset VmHWM: what it reads next is the swap's peak
    new=swap-$l-$rep-0.allowed.benchzone
    add_name "$l" "$D/list.txt" "$new"
    rm -f "$D/ready"
    taskset -c "$CLI_CPU" python3 "$BIN/watch.py" "$P_RALO" "$new" "$SPID" "$POLL_TIMEOUT" 0.5 \
      "$D/ready" "$D/rss-samples.tsv" > "$D/watch.out" & WPID=$!; PIDS+=("$WPID")
    for _ in $(seq 100); do [ -e "$D/ready" ] && break; sleep 0.05; done
    [ -e "$D/ready" ] || die "the poller got no answer from ralo within 5 s ($D)"
    run_update "$D" swap
    [ "$U_WHERE" = live ] || die "update in $D was '$U_WHERE', expected 'live'"
    wait "$WPID" || true
    read -r wstat brecv bsend orecv osend polls nblk regress peak nsamp rcodes < "$D/watch.out"
    [ "$wstat" = blocked ] || die "the new name $new was not blocked within $POLL_TIMEOUT s ($D)"
    tlog=$(python3 "$BIN/logtime.py" "$D/serve.log" "$U_GEN")
    sleep 1
    after=$(mem "$SPID")
    check "$l" "$new" || die "wrong answers after the swap ($D)"
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" \
      "$l" "$rep" "$U_GEN" "$(ms_between "$U_T0" "$brecv")" "$(ms_between "$tlog" "$brecv")" \
      "$(ms_between "$orecv" "$brecv")" "$U_INNER_MS" "$U_WALL_MS" "$polls" "$regress" \
      "$(cut -f1 <<<"$before")" "$(cut -f2 <<<"$before")" "$(cut -f3-5 <<<"$before")" \
      "$peak" "$nsamp" "$(cut -f2 <<<"$after")" "$(cut -f1 <<<"$after")" "$(cut -f3-5 <<<"$after")" \
      >> "$WORK/swap.tsv"
    printf "%s\t%s\tupdate\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$l" "$rep" "$U_WALL_MS" "$U_INNER_MS" "$U_WHERE" \
      "$U_GEN" "$U_RULES" "$U_BYTES" "$U_MAXRSS" >> "$WORK/compile.tsv"
    echo "$l rep $rep swap: gen $U_GEN live in $U_INNER_MS ms (wall $U_WALL_MS); blocked $(ms_between "$U_T0" "$brecv") ms after exec," \
         "$(ms_between "$tlog" "$brecv") ms after the server's log line; server RSS kB before/peak/HWM/after:" \
         "$(cut -f1 <<<"$before")/$peak/$(cut -f2 <<<"$after")/$(cut -f1 <<<"$after"); regressions $regress"
    [ "$regress" = 0 ] || echo "ODD: $regress answers for $new were not blocked after the first blocked one ($D)" >&2

    # 4. fixed-rate load of blocked names, without and with publishes (1M list only)
    if [ "$l" = 1m ]; then
      added=("$new")
      for run in quiet publish; do
        pubs=0; [ $run = publish ] && pubs=$PUBLISHES
        out=$D/dnsperf-$run
        t_start=$EPOCHREALTIME
        taskset -c "$CLI_CPU" timeout $((LOAD_DUR + 30)) dnsperf -s 127.0.0.1 -p "$P_RALO" \
          -d "$DATA/q-blocked-1000000.txt" -l "$LOAD_DUR" -c 10 -Q "$LOAD_QPS" -t 2 -v >"$out" 2>&1 & DPID=$!; PIDS+=("$DPID")
        pub_ms=""
        for k in $(seq "$pubs"); do
          # publish k at k/(pubs+1) of the run
          at=$(awk -v s="$t_start" -v k="$k" -v n="$pubs" -v d="$LOAD_DUR" 'BEGIN{printf "%.6f", s + d*k/(n+1)}')
          wait_s=$(awk -v a="$at" -v b="$EPOCHREALTIME" 'BEGIN{w=a-b; printf "%.3f", (w>0?w:0)}')
          sleep "$wait_s"
          n=swap-$l-$rep-load$k.allowed.benchzone
          add_name "$l" "$D/list.txt" "$n"; added+=("$n")
          run_update "$D" "load$k"
          [ "$U_WHERE" = live ] || die "update during load in $D was '$U_WHERE'"
          pub_ms="$pub_ms${pub_ms:+,}$U_INNER_MS"
        done
        wait "$DPID" || true
        kill -0 "$SPID" 2>/dev/null || die "ralo serve died during the $run run ($D/serve.log)"
        m=$(mem "$SPID")
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$l" "$rep" "$run" "$pubs" "$(dnsperf_stats "$out")" \
          "${pub_ms:-NA}" "$(cut -f1 <<<"$m")" "$(cut -f2 <<<"$m")" >> "$WORK/load.tsv"
        echo "$l rep $rep load ($run, $pubs publishes): $(dnsperf_stats "$out" | tr '\t' ' ') [sent done lost p99 max rcodes]"
        grep -v '^> ' "$out" > "$out.tmp" && mv "$out.tmp" "$out"
      done
      check "$l" "${added[@]}" || die "wrong answers after the publishes under load ($D)"

      # leak check: LEAK_SWAPS more publishes in a row, RSS after each
      for k in $(seq "$LEAK_SWAPS"); do
        n=swap-$l-$rep-leak$k.allowed.benchzone
        add_name "$l" "$D/list.txt" "$n"; added+=("$n")
        run_update "$D" "leak$k"
        sleep 0.2
        printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$l" "$rep" "$k" "$U_GEN" "$U_INNER_MS" "$(mem "$SPID")" >> "$WORK/leak.tsv"
      done
      if [ "$LEAK_SWAPS" -gt 0 ]; then
        check "$l" "${added[@]}" || die "wrong answers after the leak-check publishes ($D)"
      fi
    fi
    stop_pid "$SPID"
    rm -f "$D/list.txt" "$D"/state/sources/* 2>/dev/null || true   # big copies; the image stays
  done
done
stop_pid "$NSD_PID"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/env.txt"

# ---------------------------------------------------------------- summary
python3 - "$WORK" <<'EOF' | tee "$WORK/summary.md"
import csv, statistics, sys
w = sys.argv[1]
def rows(n): return list(csv.DictReader(open("%s/%s.tsv" % (w, n)), delimiter="\t"))
def f(x):
    try: return float(x)
    except (TypeError, ValueError): return None
def med(xs):
    xs = [x for x in (f(v) for v in xs) if x is not None]
    return statistics.median(xs) if xs else None
def s(x, p=0): return "NA" if x is None else "%.*f" % (p, x)
def mb(x): return "NA" if x is None else "%.1f" % (x / 1024)
comp, swap, load, leak = rows("compile"), rows("swap"), rows("load"), rows("leak")
lists = list(dict.fromkeys(r["list"] for r in comp))
print("Medians over %d reps (min–max in brackets)." % len({r["rep"] for r in comp}))
print()
print("| list | rules | update | wall ms | `live in`/stored ms | image bytes | B/rule | updater max RSS MB |")
print("|---|---|---|---|---|---|---|---|")
for l in lists:
    for kind in ("cold", "update"):
        rs = [r for r in comp if r["list"] == l and r["kind"] == kind]
        if not rs: continue
        walls = [f(r["wall_ms"]) for r in rs]
        b = med(r["bytes"] for r in rs); n = med(r["rules"] for r in rs)
        print("| %s | %s | %s | %s [%s–%s] | %s | %s | %.2f | %s |" % (l, s(n), kind, s(med(walls)), s(min(walls)), s(max(walls)),
              s(med(r["inner_ms"] for r in rs)), s(b), b / n, mb(med(r["updater_maxrss_kb"] for r in rs))))
print()
print("| list | exec → first blocked answer ms | server log line → first blocked ms | `live in` ms | server RSS MB before | peak during (5 ms samples) | VmHWM during | after | regressions |")
print("|---|---|---|---|---|---|---|---|---|")
for l in lists:
    rs = [r for r in swap if r["list"] == l]
    e = [f(r["exec_to_blocked_ms"]) for r in rs]
    print("| %s | %s [%s–%s] | %s [%s–%s] | %s | %s | %s | %s | %s | %s |" % (l, s(med(e)), s(min(e)), s(max(e)),
          s(med(r["log_to_blocked_ms"] for r in rs), 1), s(min(f(r["log_to_blocked_ms"]) for r in rs), 1), s(max(f(r["log_to_blocked_ms"]) for r in rs), 1),
          s(med(r["inner_ms"] for r in rs)),
          mb(med(r["rss_before_kb"] for r in rs)), mb(med(r["peak_sampled_kb"] for r in rs)),
          mb(med(r["hwm_swap_kb"] for r in rs)), mb(med(r["rss_after_kb"] for r in rs)),
          sum(int(r["regressions"]) for r in rs)))
print()
print("RSS split before / after (median kB, anon+file+shmem): " + "; ".join(
    "%s %s+%s+%s / %s+%s+%s" % (l, *[s(med(r[k] for r in swap if r["list"] == l)) for k in
      ("anon_before_kb", "file_before_kb", "shmem_before_kb", "anon_after_kb", "file_after_kb", "shmem_after_kb")]) for l in lists))
if load:
    print()
    print("| run (1M, fixed rate) | publishes | sent | lost | p99 ms | max ms | rcodes | `live in` ms of the publishes |")
    print("|---|---|---|---|---|---|---|---|")
    for run in ("quiet", "publish"):
        rs = [r for r in load if r["run"] == run]
        if not rs: continue
        print("| %s | %s | %s | %s (sum %d) | %s [%s–%s] | %s [%s–%s] | %s | %s |" % (run, rs[0]["publishes"], s(med(r["sent"] for r in rs)),
              s(med(r["lost"] for r in rs)), sum(int(f(r["lost"]) or 0) for r in rs),
              s(med(r["p99_ms"] for r in rs), 3), s(min(f(r["p99_ms"]) for r in rs), 3), s(max(f(r["p99_ms"]) for r in rs), 3),
              s(med(r["max_ms"] for r in rs), 3), s(min(f(r["max_ms"]) for r in rs), 3), s(max(f(r["max_ms"]) for r in rs), 3),
              " ".join(sorted({c.split(":")[0] for r in rs for c in r["rcodes"].split(",")})),
              " ".join(r["publish_ms"] for r in rs)))
if leak:
    print()
    for rep in sorted({r["rep"] for r in leak}):
        rs = [r for r in leak if r["rep"] == rep]
        print("rep %s, %d more publishes: server VmRSS MB %s → %s (VmHWM %s)" % (rep, len(rs), mb(f(rs[0]["rss_kb"])),
              mb(f(rs[-1]["rss_kb"])), mb(f(rs[-1]["hwm_kb"]))))
EOF
echo
echo "raw: $WORK/{compile,swap,load,leak}.tsv  $WORK/env.txt  $WORK/run/"
