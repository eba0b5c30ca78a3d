#!/usr/bin/env bash
# What per-device groups cost the query path: ralo's CPU per answer with no
# groups, with 4 groups, 6 lists (two on a school-night schedule) and the
# load generator's address in a group, and with the same plus a list of
# adblock `$client` rules for other devices, measured in the same run,
# alternating, as benches/sidebyside.sh measures (server on CPU 1; dnsperf
# and the NSD upstream on CPU 0; utime+stime over answered queries).
#
#   sudo benches/groups.sh          # N=100000 REPS=3 DUR=6
#
# Mixes: "blocked" (every name on the first list, which applies to the
# client's group) and "cached" (10,000 names of the upstream's zone, asked
# once before the run so that every answer comes from the cache).
# Prints a table and writes target/bench/groups.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
N=${N:-100000}
REPS=${REPS:-3}
DUR=${DUR:-6}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
WORK=${WORK:-$ROOT/target/bench/groups}
DATA=${DATA:-$ROOT/target/bench/data}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
die() { echo "groups.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$HERE/lib.sh"

for tool in dnsperf nsd taskset; do
  command -v "$tool" >/dev/null || die "needs $tool (apt-get install dnsperf nsd util-linux)"
done
[ -f "$SHARED/bench/gen_data.py" ] || die "expected $SHARED/bench/gen_data.py"
mkdir -p "$WORK" "$DATA"
[ -s "$DATA/blocked-$N.hosts" ] && [ -s "$DATA/allowed.benchzone.zone" ] ||
  python3 "$SHARED/bench/gen_data.py" "$DATA" "$N" >/dev/null
(cd "$ROOT" && cargo build --release --locked --quiet)
RALO=$WORK/ralo
cp "$ROOT/target/release/ralo" "$RALO"

P_NSD=$(free_udp_port)
start_nsd "$P_NSD" "$SHARED/bench/dnsprobe.py"

# Five small lists beside the big one, from the big one's tail.
tail -n 3000 "$DATA/blocked-$N.hosts" > "$WORK/small.hosts"
for i in 1 2 3 4 5; do sed -n "$((i * 500)),$((i * 500 + 499))p" "$WORK/small.hosts" > "$WORK/small-$i.hosts"; done

# `$client` rules for devices other than the load generator.
{
  echo '||tracker.example^$client=192.168.1.64/28'
  echo "||ads.example^\$client='tv'|192.168.1.128/25"
  echo '@@||ok.example^$client=~192.168.1.50'
} > "$WORK/client.txt"

# config DIR PORT KIND: a config for KIND plain, grouped or scoped (grouped
# with the `$client` list).
config() {
  local dir=$1 port=$2 kind=$3
  bench_config "$dir" "$port" "$P_NSD" "$DATA/blocked-$N.hosts"
  if [ "$kind" != plain ]; then
    cat >> "$dir/ralo.toml" <<EOF
groups = ["default", "adults", "kids", "tv", "guests"]
[[clients]]
name = "bench"
ids = ["127.0.0.1", "192.168.1.50"]
[[clients]]
name = "tv"
ids = ["aa:bb:cc:dd:ee:ff", "192.168.1.60"]
[[groups]]
name = "adults"
clients = ["bench"]
[[groups]]
name = "kids"
clients = ["192.168.1.64/28"]
[[groups]]
name = "tv"
clients = ["tv"]
[[groups]]
name = "guests"
clients = ["192.168.1.128/25"]
EOF
    for i in 1 2 3 4 5; do
      local groups='["kids"]'
      case $i in 2) groups='["tv", "guests"]';; 3) groups='["adults"]';; esac
      cat >> "$dir/ralo.toml" <<EOF
[[lists]]
name = "small-$i"
path = "$WORK/small-$i.hosts"
groups = $groups
EOF
      [ "$i" -le 2 ] && echo 'schedule = ["mon-fri 21:00-07:00", "sat,sun 22:00-08:00"]' >> "$dir/ralo.toml"
    done
  fi
  if [ "$kind" = scoped ]; then
    cat >> "$dir/ralo.toml" <<EOF
[[lists]]
name = "client"
path = "$WORK/client.txt"
format = "adblock"
groups = ["adults", "kids", "tv"]
EOF
  fi
  "$RALO" update --config "$dir/ralo.toml" >/dev/null 2>&1 || die "update failed in $dir"
}

head -n 10000 "$DATA/q-blocked-$N.txt" > "$WORK/q-blocked.txt"
cp "$DATA/q-allowed.txt" "$WORK/q-cached.txt"

printf 'kind\tmix\trep\tanswered\tcpu_us_per_answer\n' > "$WORK/groups.tsv"
for rep in $(seq "$REPS"); do
  for kind in plain grouped scoped; do
    D=$WORK/$kind-$rep
    rm -rf "$D"
    PORT=$(free_udp_port)
    config "$D" "$PORT" "$kind"
    cpu_per_answer "$kind" "$rep" "$D" "$PORT" "$WORK/groups.tsv"
  done
done

echo
echo "| mix | no groups, CPU-µs/answer | 4 groups, 6 lists | ratio | with \$client rules | ratio |"
echo "|---|---|---|---|---|---|"
for mix in blocked cached; do
  med() { awk -F'\t' -v k="$1" -v m="$mix" '$1==k && $2==m {print $5}' "$WORK/groups.tsv" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
  p=$(med plain); g=$(med grouped); s=$(med scoped)
  printf '| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n' "$mix" "$p" "$g" "$(echo "$g / $p" | bc -l)" "$s" "$(echo "$s / $p" | bc -l)"
done
