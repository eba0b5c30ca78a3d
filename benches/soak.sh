#!/usr/bin/env bash
# A soak: ralo serve (with its updater child) for DUR seconds at QPS queries
# a second of a realistic mix, while
#   - a list is edited (and so republished) every minute,
#   - the updater child is killed every 5 minutes (the server restarts it),
#   - the upstream is stopped (SIGSTOP: silent) for 60 s, twice.
# dnsperf sends the load in one-minute runs, so each minute's answers,
# losses and response codes are known, and a probe asks a blocked and a
# cached name every second during the outages. Reports the server's RSS and
# open files at start and end. Run as root (installs dnsperf with apt-get
# when missing); everything goes to 127.0.0.1.
#   sudo benches/soak.sh                    # 30 minutes at 500 q/s
#   sudo DUR=300 QPS=200 benches/soak.sh    # a short check
# Writes target/bench/soak.md (and soak.csv, one row a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DUR=${DUR:-1800}
QPS=${QPS:-500}
DATA=${DATA:-../shared/data}
out=target/bench/soak.md
csv=target/bench/soak.csv
mkdir -p target/bench

missing=()
command -v dnsperf >/dev/null || missing+=(dnsperf)
command -v dig >/dev/null || missing+=(dnsutils)
if [ "${#missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -r "$DATA/domains/hagezi-light.domains.txt" ] || {
    echo "soak: $DATA/domains/hagezi-light.domains.txt is missing (the shared data folder beside the checkout)" >&2
    exit 1
}
cargo build --release --locked -q
bin=$PWD/target/release/ralo

site=$(realpath "$(mktemp -d -p target/bench soak-site.XXXXXX)")
run=$(mktemp -d -p /dev/shm ralo-soak.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$site" "$run"
}
trap cleanup EXIT

# The upstream (benches/dns.py): A and AAAA answers, TTL 300 s.
upstream_port=$(free_udp_port)
python3 benches/dns.py respond "$upstream_port" &
upstream_pid=$!
pids+=("$upstream_pid")

# Lists: hagezi light (176k names) and a small one edited every minute.
cp "$DATA/domains/hagezi-light.domains.txt" "$site/hagezi.txt"
echo "0.0.0.0 edited-0.soak.test" >"$site/edited.txt"
cat >"$site/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["127.0.0.1:$upstream_port"]
[paths]
state = "state"
runtime = "$run"
[[lists]]
name = "hagezi"
path = "hagezi.txt"
[[lists]]
name = "edited"
path = "edited.txt"
EOF

# The mix: 30 % names on the list, 70 % of 5,000 popular names not on it
# (answered from the cache once asked).
python3 - "$site/hagezi.txt" "$DATA/popular/tranco-top50k.domains.txt" "$site/queries.txt" <<'PY'
import random, sys
random.seed(7)
listed = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
on_list = set(listed)
popular = [l.strip() for l in open(sys.argv[2]) if l.strip() and l.strip() not in on_list][:5000]
with open(sys.argv[3], "w") as out:
    for _ in range(200000):
        name = random.choice(listed) if random.random() < 0.3 else random.choice(popular)
        out.write(f"{name} {'AAAA' if random.random() < 0.2 else 'A'}\n")
with open(sys.argv[3].replace("queries.txt", "probes.txt"), "w") as out:
    out.write(f"{listed[0]} {popular[0]}\n")
PY

"$bin" serve --config "$site/ralo.toml" 2>"$site/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
dns=$(ralo_udp_addr "$site/serve.log" "image swapped in")
host=${dns%:*}
port=${dns##*:}
# The probes: a listed name, and a popular one the load keeps cached.
read -r probe_blocked probe_cached <"$site/probes.txt"
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
updater() { pgrep -n -P "$serve_pid" -f "update --watch" || true; }

# Warm the cache with one pass over the popular names.
dnsperf -s "$host" -p "$port" -d "$site/queries.txt" -n 1 -Q 5000 -l 60 >/dev/null 2>&1 || true
rss_start=$(rss_kb "$serve_pid")
fds_start=$(fds "$serve_pid")

outages="$((DUR / 3)) $((2 * DUR / 3))"
echo "minute,sent,answered,lost,noerror,nxdomain,servfail,refused,upstream,updater_kills,edits" >"$csv"
probe_blocked_ok=0 probe_cached_ok=0 probe_total=0 kills=0 edits=0
minutes=$((DUR / 60))
for minute in $(seq 1 "$minutes"); do
    t0=$(( (minute - 1) * 60 ))
    # Events of this minute, in the background, timed within it.
    edits=$((edits + 1))
    (sleep 20; echo "0.0.0.0 edited-$minute.soak.test" >>"$site/edited.txt") &
    upstream_state=up
    for o in $outages; do
        if [ "$t0" -le "$o" ] && [ "$o" -lt "$((t0 + 60))" ]; then upstream_state=stopped; fi
    done
    if [ "$upstream_state" = stopped ]; then
        kill -STOP "$upstream_pid"
        (
            for _ in $(seq 55); do
                b=$(dig +short +time=1 +tries=1 -p "$port" @"$host" "$probe_blocked" A 2>/dev/null | tail -1 || true)
                c=$(dig +short +time=1 +tries=1 -p "$port" @"$host" "$probe_cached" A 2>/dev/null | tail -1 || true)
                echo "$b,$c"
                sleep 1
            done
        ) >"$site/probe-$minute.txt" &
        probe_pid=$!
    fi
    if [ $((minute % 5)) -eq 0 ] && pid=$(updater) && [ -n "$pid" ]; then
        kill -KILL "$pid" && kills=$((kills + 1))
    fi
    dnsperf -s "$host" -p "$port" -d "$site/queries.txt" -l 60 -Q "$QPS" -c 10 -t 5 >"$site/perf-$minute.txt" 2>&1 || true
    if [ "$upstream_state" = stopped ]; then
        kill -CONT "$upstream_pid"
        wait "$probe_pid" || true
        probe_total=$((probe_total + $(wc -l <"$site/probe-$minute.txt")))
        probe_blocked_ok=$((probe_blocked_ok + $(grep -c '^0\.0\.0\.0,' "$site/probe-$minute.txt" || true)))
        probe_cached_ok=$((probe_cached_ok + $(grep -c ',192\.0\.2\.1$' "$site/probe-$minute.txt" || true)))
    fi
    sent=$(awk '/Queries sent:/ { print $3 }' "$site/perf-$minute.txt")
    done_=$(awk '/Queries completed:/ { print $3 }' "$site/perf-$minute.txt")
    lost=$(awk '/Queries lost:/ { print $3 }' "$site/perf-$minute.txt")
    code() { awk -v c="$1" '/Response codes/ { for (i = 1; i < NF; i++) if ($i == c) { print $(i + 1); exit } }' "$site/perf-$minute.txt"; }
    echo "$minute,$sent,$done_,$lost,$(code NOERROR),$(code NXDOMAIN),$(code SERVFAIL),$(code REFUSED),$upstream_state,$kills,$edits" >>"$csv"
    kill -0 "$serve_pid" || { echo "ralo serve died in minute $minute" >&2; tail -50 "$site/serve.log" >&2; exit 1; }
done
rss_end=$(rss_kb "$serve_pid")
fds_end=$(fds "$serve_pid")
generation=$("$bin" stats --config "$site/ralo.toml" 2>/dev/null | awk '/image generation/ { print $3 }')
swaps=$(grep -c "image swapped in" "$site/serve.log")
restarts=$(grep -c 'child started.*updater' "$site/serve.log")
blocked_edit=$(dig +short -p "$port" @"$host" "edited-$minutes.soak.test" A)

python3 - "$csv" "$out" "$DUR" "$QPS" "$rss_start" "$rss_end" "$fds_start" "$fds_end" \
    "$probe_total" "$probe_blocked_ok" "$probe_cached_ok" "$generation" "$swaps" "$restarts" "$blocked_edit" <<'PY'
import csv, sys
(path, out, dur, qps, rss0, rss1, fd0, fd1, probes, pb, pc, gen, swaps, restarts, edit) = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
num = lambda r, k: int(r[k] or 0)
up = [r for r in rows if r["upstream"] == "up"]
down = [r for r in rows if r["upstream"] != "up"]
total = lambda rs, k: sum(num(r, k) for r in rs)
with open(out, "w") as f:
    f.write(f"# ralo soak: {int(dur) // 60} minutes at {qps} queries/s\n\n")
    f.write("| measure | value |\n|---|---|\n")
    f.write(f"| queries sent / answered / lost, upstream up ({len(up)} min) | {total(up,'sent')} / {total(up,'answered')} / {total(up,'lost')} |\n")
    f.write(f"| queries sent / answered / lost, upstream stopped ({len(down)} min) | {total(down,'sent')} / {total(down,'answered')} / {total(down,'lost')} |\n")
    f.write(f"| SERVFAIL with the upstream up / stopped | {total(up,'servfail')} / {total(down,'servfail')} |\n")
    f.write(f"| probes while stopped: blocked name answered 0.0.0.0 / cached name answered | {pb} / {probes}, {pc} / {probes} |\n")
    f.write(f"| server RSS start / end | {int(rss0)/1024:.1f} MB / {int(rss1)/1024:.1f} MB |\n")
    f.write(f"| server open files start / end | {fd0} / {fd1} |\n")
    f.write(f"| images swapped in / generation at the end | {swaps} / {gen} |\n")
    f.write(f"| updater started (1 + restarts after kills) | {restarts} |\n")
    f.write(f"| the last minute's edit blocked at the end | {'yes' if edit.strip() == '0.0.0.0' else 'no: ' + repr(edit)} |\n")
print(open(out).read())
PY
