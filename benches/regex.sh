#!/usr/bin/env bash
# What regex rules cost: ralo's CPU per answer with the N-name list alone,
# and with the same list plus 200 Pi-hole-style regexes (a `format =
# "regex"` list), measured in the same run, alternating, as
# benches/sidebyside.sh measures (server on CPU 1; dnsperf and the NSD
# upstream on CPU 0; utime+stime over answered queries); and what they cost
# the updater: the compile time (`ralo update`, wall clock) and the bytes
# of the image's regex sections.
#
#   sudo benches/regex.sh           # N=1000000 REPS=3 DUR=6
#
# Mixes: "blocked" (names of the big list: the rules on names decide, the
# DFA is not run) and "cached" (10,000 names of the upstream's zone, asked
# once before the run so that every answer comes from the cache; none is
# matched by a regex, so each name runs the DFA once, on its first answer).
# The regexes come from a generator below: made-up variations of the
# shapes public Pi-hole regex collections use (`^ad[sxv]?[0-9]*\.`,
# `^(.+[_.-])?telemetry[_.-]`, `(^|\.)tiktokv?\.com$`).
# Prints tables and writes target/bench/regex/regex.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
N=${N:-1000000}
REPS=${REPS:-3}
DUR=${DUR:-6}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
WORK=${WORK:-$ROOT/target/bench/regex}
DATA=${DATA:-$ROOT/target/bench/data}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
die() { echo "regex.sh: $*" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. "$HERE/lib.sh"

for tool in dnsperf nsd taskset bc; do
  command -v "$tool" >/dev/null || die "needs $tool (apt-get install dnsperf nsd util-linux bc)"
done
[ -f "$SHARED/bench/gen_data.py" ] || die "expected $SHARED/bench/gen_data.py"
mkdir -p "$WORK" "$DATA"
[ -s "$DATA/blocked-$N.hosts" ] && [ -s "$DATA/allowed.benchzone.zone" ] ||
  python3 "$SHARED/bench/gen_data.py" "$DATA" "$N" >/dev/null
(cd "$ROOT" && cargo build --release --locked --quiet)
RALO=$WORK/ralo
cp "$TARGET/release/ralo" "$RALO"

# 200 regexes: 5 shapes over words and brands, each shape with variations.
python3 - "$WORK/pihole.regex" <<'PY'
import sys
words = ["ads", "adserver", "adtrack", "advert", "affiliate", "analytic",
         "banner", "beacon", "clicks", "collect", "counter", "crashlytic",
         "events", "logs", "metric", "pixel", "promo", "sentry", "stats",
         "survey", "tagging", "telemetry", "tracker", "tracking", "usage",
         "audience", "insight", "measure", "ping", "report"]
brands = ["tiktok", "xiaomi", "samsungads", "rokutv", "hotjar", "mixpanel",
          "appsflyer", "branchio", "adjust", "criteo", "taboola", "outbrain",
          "yandexads", "baiduads", "huaweiads", "oppomobile", "vivoglobal",
          "moatads", "scorecard", "quantserve", "chartbeat", "newrelic",
          "segmentio", "amplitude", "brazeio", "onesignal", "pubmatic",
          "smartadserver", "inmobi", "unityads", "vungle", "chartboost",
          "applovin", "ironsrc", "startapp", "mopub", "flurry", "kochava",
          "singular", "tenjin"]
tlds = ["com", "net", "cn", "io", "ru", "org", "tv"]
out = []
for i, w in enumerate(words):
    out.append(rf"^{w}s?[0-9]*[_.-]")
    out.append(rf"^(.+[_.-])?{w}[_.-]")
    out.append(rf"(^|\.){w}[0-9]*\.{tlds[i % len(tlds)]}$")
for i, b in enumerate(brands):
    t = tlds[i % len(tlds)]
    out.append(rf"(^|\.){b}(cdn|v)?\.{t}$")
    out.append(rf"^(ads?|track|metrics)[0-9]*\.{b}\.{tlds[(i + 1) % len(tlds)]}$")
    out.append(rf"(^|\.){b}-?(analytics|telemetry|logs?)\.")
out.append(r"^ad([sxv]?[0-9]*|system)[_.-]([^.[:space:]]+\.){1,}|[_.-]ad([sxv]?[0-9]*|system)[_.-]")
out.append(r"^ad[sxv]?[0-9]*\.;querytype=A,AAAA,HTTPS")
assert len(out) >= 200, len(out)
with open(sys.argv[1], "w") as f:
    f.write("# made-up Pi-hole-style regexes for benches/regex.sh\n")
    f.write("\n".join(out[:200]) + "\n")
PY

P_NSD=$(free_udp_port)
start_nsd "$P_NSD" "$SHARED/bench/dnsprobe.py"

# config DIR PORT KIND: a config for KIND plain or regex.
config() {
  local dir=$1 port=$2 kind=$3
  bench_config "$dir" "$port" "$P_NSD" "$DATA/blocked-$N.hosts"
  if [ "$kind" = regex ]; then
    cat >> "$dir/ralo.toml" <<EOF
[[lists]]
name = "regex"
path = "$WORK/pihole.regex"
format = "regex"
EOF
  fi
  local t0 t1
  t0=$(date +%s.%N)
  "$RALO" update --config "$dir/ralo.toml" >"$dir/update.log" 2>&1 || die "update failed in $dir"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l > "$dir/update.secs"
}

# The regex sections' bytes (pattern table, DFA) of DIR's image.
sections() {
  python3 - "$1/state/image.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(256)
_, table = struct.unpack_from("<QQ", b, 208)
_, dfa = struct.unpack_from("<QQ", b, 224)
count, = struct.unpack_from("<I", b, 248)
print(f"{count}\t{table}\t{dfa}")
PY
}

head -n 10000 "$DATA/q-blocked-$N.txt" > "$WORK/q-blocked.txt"
cp "$DATA/q-allowed.txt" "$WORK/q-cached.txt"

printf 'kind\tmix\trep\tanswered\tcpu_us_per_answer\n' > "$WORK/regex.tsv"
printf 'kind\trep\tupdate_s\timage_bytes\tpatterns\ttable_bytes\tdfa_bytes\n' > "$WORK/update.tsv"
for rep in $(seq "$REPS"); do
  for kind in plain regex; do
    D=$WORK/$kind-$rep
    rm -rf "$D"
    PORT=$(free_udp_port)
    config "$D" "$PORT" "$kind"
    printf '%s\t%s\t%.2f\t%s\t%s\n' "$kind" "$rep" "$(cat "$D/update.secs")" \
      "$(stat -c %s "$D/state/image.bin")" "$(sections "$D")" >> "$WORK/update.tsv"
    cpu_per_answer "$kind" "$rep" "$D" "$PORT" "$WORK/regex.tsv"
  done
done

med() { sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo
echo "| mix | $N names, CPU-µs/answer | plus 200 regexes | ratio |"
echo "|---|---|---|---|"
for mix in blocked cached; do
  p=$(awk -F'\t' -v m="$mix" '$1=="plain" && $2==m {print $5}' "$WORK/regex.tsv" | med)
  r=$(awk -F'\t' -v m="$mix" '$1=="regex" && $2==m {print $5}' "$WORK/regex.tsv" | med)
  printf '| %s | %.3f | %.3f | %.3f |\n' "$mix" "$p" "$r" "$(echo "$r / $p" | bc -l)"
done
echo
echo "| image | ralo update, s | image bytes | regex patterns | pattern table bytes | DFA bytes |"
echo "|---|---|---|---|---|---|"
for kind in plain regex; do
  s=$(awk -F'\t' -v k="$kind" '$1==k {print $3}' "$WORK/update.tsv" | med)
  awk -F'\t' -v k="$kind" -v s="$s" '$1==k && !done {printf "| %s | %s | %s | %s | %s | %s |\n", k, s, $4, $5, $6, $7; done=1}' "$WORK/update.tsv"
done
