#!/usr/bin/env bash
# The updater's peak memory and time for one `ralo update` of a big list,
# measured with /usr/bin/time -v (maximum resident set size, wall clock).
#
#   benches/updater.sh                 # N=1000000 REPS=3 RALO=target/release/ralo
#   RALO=/path/to/older/ralo benches/updater.sh   # the same for another build
#
# Per repetition, three updates of a hosts list of N names (gen_data.py,
# seeded) with no server running:
#   cold  empty state: no previous image to compare with
#   diff  one name appended: the previous image is read to report what the
#         new one adds and removes
#   url   the same list as a download from a local HTTP server (127.0.0.1),
#         stored as its last good copy, then compiled from that copy
# Prints one tab-separated line per run and the median per kind.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
N=${N:-1000000}
REPS=${REPS:-3}
RALO=${RALO:-$ROOT/target/release/ralo}
WORK=${WORK:-$(mktemp -d /tmp/ralo-updater.XXXXXX)}
DATA=${DATA:-$WORK/data}

die() { echo "updater.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "needs /usr/bin/time (apt-get install time)"
[ -f "$SHARED/bench/gen_data.py" ] || die "expected $SHARED/bench/gen_data.py"
if [ "$RALO" = "$ROOT/target/release/ralo" ]; then
  (cd "$ROOT" && cargo build --release --locked --quiet)
fi
[ -x "$RALO" ] || die "no binary at $RALO"

mkdir -p "$DATA"
LIST=$DATA/blocked-$N.hosts
[ -s "$LIST" ] || python3 "$SHARED/bench/gen_data.py" "$DATA" "$N" >/dev/null

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
WEB=$WORK/web
mkdir -p "$WEB"
cp "$LIST" "$WEB/list.txt"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$WEB" "$PORT" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/list.txt').read(1)" 2>/dev/null && break
  sleep 0.1
done

# config DIR SOURCE_LINES: a config for `ralo update` with one list.
config() {
  cat > "$1/ralo.toml" <<EOF
[server]
listen = ["127.0.0.1:0"]
spawn_updater = false
[paths]
state = "state"
runtime = "run"
[update]
max_drop = 1.0
[[lists]]
name = "big"
$2
EOF
}

# run DIR KIND REP: one update under /usr/bin/time; prints its line.
run() {
  "/usr/bin/time" -v -o "$1/$2.time" "$RALO" update --config "$1/ralo.toml" >"$1/$2.log" 2>&1 ||
    die "ralo update failed in $1 ($2): $(tail -3 "$1/$2.log")"
  local kb wall
  kb=$(awk -F': ' '/Maximum resident set size/{print $2}' "$1/$2.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$1/$2.time")
  printf '%s\t%s\t%s\t%.1f\n' "$2" "$3" "$wall" "$(echo "$kb / 1024" | bc -l)" | tee -a "$WORK/runs.tsv"
}

: > "$WORK/runs.tsv"
printf 'kind\trep\twall\tpeak_rss_mb\n'
for rep in $(seq "$REPS"); do
  D=$WORK/run-$rep
  rm -rf "$D" && mkdir -p "$D"
  cp "$LIST" "$D/list.txt"
  config "$D" 'path = "list.txt"'
  run "$D" cold "$rep"
  echo "0.0.0.0 appended-$rep.example" >> "$D/list.txt"
  run "$D" diff "$rep"
  U=$WORK/url-$rep
  rm -rf "$U" && mkdir -p "$U"
  config "$U" "url = \"http://127.0.0.1:$PORT/list.txt\"
allow_http = true"
  run "$U" url "$rep"
done

echo "median of $REPS (binary: $RALO):"
for kind in cold diff url; do
  awk -F'\t' -v k="$kind" '$1==k{print $4}' "$WORK/runs.tsv" | sort -n |
    awk -v k="$kind" '{v[NR]=$1} END{printf "  %s: peak RSS %.1f MB\n", k, v[int((NR+1)/2)]}'
  awk -F'\t' -v k="$kind" '$1==k{print $3}' "$WORK/runs.tsv" | sort |
    awk '{v[NR]=$1} END{printf "        wall %s\n", v[int((NR+1)/2)]}'
done
echo "runs: $WORK/runs.tsv"
