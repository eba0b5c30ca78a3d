#!/usr/bin/env bash
# How often a household waits: the share of questions answered from the
# cache (< 2 ms) and the latency percentiles, per server, for one
# household-like trace replayed against several caching servers at once.
#
#   sudo benches/household.sh          # DUR=600, about 12 minutes
#   DUR=60 benches/household.sh        # a quick check
#
# Method. benches/household.rs (`household run`) starts one upstream per
# server on 127.0.0.1: every A/AAAA answer 30 ms late, TTL 10–300 s by a
# hash of the name, the same for every server. The servers (each on its own
# port, all at once, all on CPU $SRV_CPU; the program on CPU $CLI_CPU):
#   ralo-plain       release ralo, [cache] prefetch = false, optimistic = false
#   ralo-prefetch    release ralo, prefetch only (prefetch_after = 2,
#                    optimistic = false)
#   ralo-optimistic  release ralo, defaults: prefetch, and expired entries
#                    answered at once for up to optimistic_max_age (1 h)
#   dnsmasq          --cache-size=10000, no prefetch (it has none)
#   unbound          prefetch: yes, "." forwarded to its upstream
# No server has a blocklist, so every answer is a cache hit or a forward.
# Each server gets its own replay socket sending the same trace at the same
# instants: Poisson arrivals at QPS (20) a second for DUR (600) s, 80 % A
# and 20 % AAAA, names drawn from the Tranco top 50k
# (../shared/data/popular, see its SOURCES.md) with the rank-k name
# weighted 1/k^ZIPF, seeded (SEED).
#
# ZIPF = 1.2: campus-scale DNS traces (Jung et al., "DNS performance and
# the effectiveness of caching", 2002) show Zipf-like name popularity with
# exponents near 1, over thousands of users. A household is a handful of
# devices whose apps and services keep asking the same names, so its head
# is heavier: at 1.2 the ten most asked names take about half of the
# questions and ten minutes hold about 2,200 distinct names, the order of
# what a home network asks in a whole day. At 1.0 (a campus) the same ten
# minutes hold about twice the names and over a third of the measured
# questions are first questions. Set ZIPF to see another household.
#
# Warm-up: the first fifth of the trace (WARMUP, 120 s of 600) is sent but
# not measured, so that the caches hold the popular names and the first
# expiries have begun (TTLs reach 300 s). Compulsory misses (the first
# question for a name and type in the whole trace) are counted apart: no
# cache can avoid them, so the share "excluding compulsory misses" is the
# one that tells the caches apart. Latency is send to answer at the
# client; no answer within 2 s counts as lost (and against every share).
#
# Env: DUR=600 WARMUP=DUR/5 QPS=20 ZIPF=1.2 SEED=1 SRV_CPU=1 CLI_CPU=0
#      SERVERS="ralo-plain ralo-prefetch ralo-optimistic dnsmasq unbound"
#      SHARED=../shared (beside the checkout)  SKIP_BUILD=1 (use the last build)
# Output in target/bench/household/: summary.md (the trace, what an ideal
# cache would do with it, the table, then each server's own counters),
# queries.tsv (every query: server, time, name, type, TTL, first ask,
# measured, µs or failure), configs and logs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
DUR=${DUR:-600}
WARMUP=${WARMUP:-$((DUR / 5))}
QPS=${QPS:-20}
ZIPF=${ZIPF:-1.2}
SEED=${SEED:-1}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
SERVERS=${SERVERS:-"ralo-plain ralo-prefetch ralo-optimistic dnsmasq unbound"}
WORK=$ROOT/target/bench/household
NAMES=$SHARED/data/popular/tranco-top50k.domains.txt
PATH=$PATH:/usr/sbin:/sbin
PIDS=()
RUNDIR=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$RUNDIR" ] || rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "household.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$HERE/lib.sh"

[ -f "$NAMES" ] || die "the names are missing: expected $NAMES
  (the shared data folder beside the checkout; set SHARED=path/to/shared)"
for v in DUR WARMUP QPS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
[ "$WARMUP" -lt "$DUR" ] || die "WARMUP ($WARMUP) must be shorter than DUR ($DUR)"
for s in $SERVERS; do
  case $s in ralo-plain|ralo-prefetch|ralo-optimistic|dnsmasq|unbound) ;;
    *) die "SERVERS: unknown '$s'";; esac
done
uses() { [[ " $SERVERS " == *" $1 "* ]]; }
for tool in taskset python3; do
  command -v "$tool" >/dev/null || die "needs $tool"
done
uses dnsmasq && { command -v dnsmasq >/dev/null || die "needs dnsmasq (apt-get install dnsmasq-base)"; }
uses unbound && { command -v unbound >/dev/null || die "needs unbound (apt-get install unbound)"; }

# ---------------------------------------------------------------- build
rm -rf "$WORK"
mkdir -p "$WORK"
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$ROOT" && cargo build --release --locked --quiet) || die "cargo build --release failed"
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[ -x "$TARGET/release/ralo" ] || die "no $TARGET/release/ralo"
cp "$TARGET/release/ralo" "$WORK/ralo"   # private copies: a rebuild during the run changes nothing
BENCH=$(cd "$ROOT" && cargo bench --locked --bench household --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "household" and m.get("executable"):
        print(m["executable"])') || true
if [ -z "$BENCH" ] || [ ! -x "$BENCH" ]; then
  die "could not build the household bench (cargo bench --bench household --no-run)"
fi
cp "$BENCH" "$WORK/household"

# ---------------------------------------------------------------- run
RUNDIR=$(mktemp -d -p /dev/shm ralo-household.XXXXXX)   # ralo's counters on tmpfs, as on the Pi
declare -A PORT PID_OF
args=()
for s in $SERVERS; do
  PORT[$s]=$(free_udp_port)
  args+=(--server "$s=127.0.0.1:${PORT[$s]}")
done
taskset -c "$CLI_CPU" "$WORK/household" run --names "$NAMES" --out "$WORK" --dur "$DUR" \
  --warmup "$WARMUP" --qps "$QPS" --zipf "$ZIPF" --seed "$SEED" "${args[@]}" \
  >"$WORK/household.out" 2>"$WORK/household.err" &
HPID=$!; PIDS+=("$HPID")
for _ in $(seq 100); do [ -s "$WORK/upstreams.tsv" ] && break; sleep 0.1; done
[ -s "$WORK/upstreams.tsv" ] || { cat "$WORK/household.err" >&2; die "the bench program did not start"; }
upstream_of() { awk -v s="$1" '$1 == s {print $2}' "$WORK/upstreams.tsv"; }

start_ralo() {  # NAME PREFETCH OPTIMISTIC
  local d=$WORK/$1
  mkdir -p "$d"
  cat > "$d/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:${PORT[$1]}"]
spawn_updater = false
spawn_web = false
[upstream]
servers = ["127.0.0.1:$(upstream_of "$1")"]
[paths]
state = "state"
runtime = "$RUNDIR/$1"
[cache]
entries = 20000
prefetch = $2
optimistic = $3
EOF
  "$WORK/ralo" update --config "$d/ralo.toml" >"$d/update.log" 2>&1 || die "ralo update failed in $d"
  taskset -c "$SRV_CPU" "$WORK/ralo" serve --config "$d/ralo.toml" 2>"$d/serve.log" &
  PID_OF[$1]=$!; PIDS+=("$!")
}
start_dnsmasq() {
  local d=$WORK/dnsmasq
  mkdir -p "$d"
  taskset -c "$SRV_CPU" dnsmasq -k --no-resolv --no-hosts --no-poll --user=root --pid-file= \
    --listen-address=127.0.0.1 --bind-interfaces --port="${PORT[dnsmasq]}" \
    --server="127.0.0.1#$(upstream_of dnsmasq)" --cache-size=10000 --dns-forward-max=1000 \
    --log-facility="$d/dnsmasq.log" 2>"$d/stderr.log" &
  PID_OF[dnsmasq]=$!; PIDS+=("$!")
}
start_unbound() {
  local d=$WORK/unbound
  mkdir -p "$d"
  unbound_conf "$d" "${PORT[unbound]}" . "127.0.0.1@$(upstream_of unbound)" "  prefetch: yes
  msg-cache-size: 64m
  rrset-cache-size: 128m"
  taskset -c "$SRV_CPU" unbound -d -c "$d/unbound.conf" 2>"$d/stderr.log" &
  PID_OF[unbound]=$!; PIDS+=("$!")
}
for s in $SERVERS; do
  case $s in
    ralo-plain) start_ralo "$s" false false;;
    ralo-prefetch) start_ralo "$s" true false;;
    ralo-optimistic) start_ralo "$s" true true;;
    dnsmasq) start_dnsmasq;;
    unbound) start_unbound;;
  esac
done

echo "household.sh: $SERVERS; $DUR s of trace (the first $WARMUP s not measured)" >&2
wait "$HPID" || { cat "$WORK/household.err" >&2; die "the bench program failed"; }

# ---------------------------------------------------------------- counters
{
  echo
  echo "Servers' own counters after the run:"
  for s in $SERVERS; do
    echo
    echo "$s:"
    echo '```'
    case $s in
      ralo-*) "$WORK/ralo" stats --config "$WORK/$s/ralo.toml" 2>&1 |
                grep -E 'by outcome|fetched again|in-flight cap' || true;;
      dnsmasq) kill -USR1 "${PID_OF[dnsmasq]}"; sleep 0.5
               grep -E 'cache size|queries forwarded|answered locally' "$WORK/dnsmasq/dnsmasq.log" | tail -n 3 || true;;
      unbound) unbound-control -c "$WORK/unbound/unbound.conf" stats_noreset 2>&1 |
                 grep -E '^total\.num\.(queries|cachehits|cachemiss|prefetch|expired)=' || true;;
    esac
    echo '```'
  done
} > "$WORK/counters.md"
cat "$WORK/counters.md" >> "$WORK/summary.md"

echo
cat "$WORK/summary.md"
echo
echo "household.sh: wrote $WORK/summary.md and $WORK/queries.tsv" >&2
