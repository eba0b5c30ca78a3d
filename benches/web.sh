#!/usr/bin/env bash
# ralo web's footprint on this machine, with the release binary:
#   - RSS of `ralo web` idle (empty history) and with 7 days of a busy
#     household's history (350,000 queries, built by benches/history.rs);
#   - the dashboard's first load: bytes and time of the page, its assets and
#     the API calls it makes, over loopback;
#   - the query-log filter over 350,000 rows, as the API answers it;
#   - bytes `ralo web` writes to disk per hour at 10 queries/s
#     (/proc/PID/io write_bytes over DUR seconds, scaled to an hour), with the
#     state folder on a disk, as on the Pi's SD card.
# Writes target/bench/web.md. DUR=600 by default (set DUR=120 for a check).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
DUR=${DUR:-600}
QPS=${QPS:-10}
out=target/bench/web.md
mkdir -p target/bench

cargo build --release --locked -q
bin=$PWD/target/release/ralo

# A history of 350k queries, made once by the criterion bench's builder.
hist=target/bench/history-350k.sqlite
if [ ! -s "$hist" ]; then
    RALO_HISTORY_NOW=1 RALO_HISTORY_KEEP=$PWD/$hist cargo bench --locked --bench history -- --warm-up-time 1 --measurement-time 1 'queries/none' >/dev/null
fi

# The state folder on a disk (target/ is), the runtime folder in /tmp.
site=$(mktemp -d -p target/bench web-site.XXXXXX)
site=$(realpath "$site")
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$site" "$run"' EXIT
printf '0.0.0.0 ads.example.com\n0.0.0.0 tracker.example.com\n' >"$site/ads.txt"
: >"$site/block.txt"
: >"$site/allow.txt"
cat >"$site/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["127.0.0.1:9"]
timeout_ms = 100
deadline_ms = 200
[paths]
state = "state"
runtime = "$run"
[web]
listen = "127.0.0.1:0"
flush_secs = 60
[[lists]]
name = "ads"
path = "ads.txt"
[[lists]]
name = "mine"
path = "block.txt"
household = true
[[allowlists]]
name = "ok"
path = "allow.txt"
household = true
EOF
echo "bench-password" | "$bin" web --set-password --config "$site/ralo.toml" >/dev/null

"$bin" serve --config "$site/ralo.toml" 2>"$site/serve.log" &
dns=$(ralo_udp_addr "$site/serve.log")

start_web() {
    "$bin" web --config "$site/ralo.toml" 2>"$site/web.log" &
    web_pid=$!
    web=""
    for _ in $(seq 100); do
        web=$(sed -n 's/.*web page at http:\/\/\([0-9.:]*\)\/admin\/.*/\1/p' "$site/web.log" | head -1)
        [ -n "$web" ] && break
        sleep 0.1
    done
    [ -n "$web" ] || { echo "ralo web did not start" >&2; cat "$site/web.log" >&2; exit 1; }
}
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
sid=""
login() {
    sid=$(curl -s -X POST "http://$web/api/auth" -H 'content-type: application/json' \
        -d '{"password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["sid"])')
}
# The page and everything the dashboard asks for on its first load.
first_load() {
    local bytes=0 secs=0 b t
    for path in /admin/ /admin/app.js /admin/app.css /admin/vendor/uPlot.iife.min.js /admin/vendor/uPlot.min.css \
        /api/auth /api/stats/summary /api/dns/blocking /api/history \
        "/api/stats/top_domains?blocked=false&count=10" "/api/stats/top_domains?blocked=true&count=10" \
        "/api/stats/top_clients?count=10" /api/stats/upstreams; do
        read -r b t < <(curl -s -o /dev/null -H "X-FTL-SID: $sid" -H 'accept-encoding: identity' \
            -w '%{size_download} %{time_total}\n' "http://$web$path")
        bytes=$((bytes + b))
        secs=$(python3 -c "print($secs + $t)")
    done
    echo "$bytes $secs"
}
filter_ms() {
    curl -s -o /dev/null -H "X-FTL-SID: $sid" -w '%{time_total}\n' "http://$web$1" |
        python3 -c 'import sys; print(round(float(sys.stdin.read()) * 1000, 1))'
}

# 1. Idle, empty history.
start_web
login
sleep 10
idle_rss=$(rss_mb "$web_pid")
read -r load_bytes load_secs < <(first_load)

# 2. Bytes written per hour at QPS queries/s.
io_writes() { awk '/^write_bytes/ { print $2 }' "/proc/$web_pid/io"; }
before=$(io_writes)
{ printf 'ads.example.com\ntracker.example.com\n'; seq 0 199 | sed 's/.*/host&.example.org/'; } >"$site/names.txt"
python3 benches/dns.py send "$dns" "$QPS" "$DUR" "$site/names.txt"
sleep 2
after=$(io_writes)
per_hour_kb=$(python3 -c "print(round(($after - $before) / $DUR * 3600 / 1024, 1))")
kill "$web_pid"; wait "$web_pid" 2>/dev/null || true

# 3. Seven days of history.
cp "$hist" "$site/state/history.sqlite"
rm -f "$site/state/history.sqlite-wal" "$site/state/history.sqlite-shm"
start_web
login
sleep 5
week_idle_rss=$(rss_mb "$web_pid")
read -r week_bytes week_secs < <(first_load)
f_none=$(filter_ms "/api/queries?length=100")
f_client=$(filter_ms "/api/queries?length=100&client_ip=192.168.1.20")
top_name=$(curl -s -H "X-FTL-SID: $sid" "http://$web/api/stats/top_domains?count=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["domains"][0]["domain"])')
f_name=$(filter_ms "/api/queries?length=100&domain=$top_name")
f_sub=$(filter_ms "/api/queries?length=100&domain=*metrics*")
f_blocked=$(filter_ms "/api/queries?length=100&outcome=blocked")
f_week=$(filter_ms "/api/queries?length=100&from=0&until=9999999999")
week_rss=$(rss_mb "$web_pid")

cat >"$out" <<EOF
# ralo web, $(date -u +%F), $(nproc) cores, $(uname -m)

| measure | value |
|---|---|
| RSS idle, empty history | $idle_rss MB |
| RSS idle, 7 days (350,000 queries, $(du -m "$hist" | cut -f1) MB file) | $week_idle_rss MB |
| RSS after the dashboard and six query-log filters over 7 days | $week_rss MB |
| dashboard first load, empty history: bytes, time (13 requests, loopback, no compression) | $load_bytes B, $(python3 -c "print(round($load_secs * 1000, 1))") ms |
| dashboard first load, 7 days | $week_bytes B, $(python3 -c "print(round($week_secs * 1000, 1))") ms |
| query log over 7 days, newest 100: no filter / client / name / \*substring\* / blocked / whole range | $f_none / $f_client / $f_name / $f_sub / $f_blocked / $f_week ms |
| bytes written per hour at $QPS queries/s (state on disk, flush every 60 s; $DUR s measured) | $per_hour_kb KB |
EOF
cat "$out"
