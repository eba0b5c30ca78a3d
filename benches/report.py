#!/usr/bin/env python3
"""The side-by-side table, from what benches/sidebyside.sh recorded.

Usage: report.py WORK LAT_QPS

Reads WORK/results.tsv (one line per server, list size, mix, repetition),
WORK/startup.tsv (one line per server start) and WORK/swap.tsv (one line per
list swap); writes WORK/sidebyside.csv (one line per server, size and mix)
and prints the same table as Markdown. Medians over repetitions; the ratios
to dnsmasq and to unbound are medians of per-repetition ratios, so both
servers of a ratio were measured in the same stretch of time.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

MIXES = ["blocked", "allowed", "mix30"]
SERVERS = ["ralo", "dnsmasq", "unbound"]
COLUMNS = ["server", "n", "mix", "reps", "cpu_us_per_answer", "ratio_to_dnsmasq",
           "ratio_to_unbound", "qps", "lost_pct_sat", "lost_fixed", "p50_ms", "p99_ms", "rss_mb", "hwm_mb",
           "updater_rss_mb", "first_answer_s", "swap_s", "swap_silent_s", "publish_to_answer_ms", "rcodes"]


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, places=0):
    if x is None:
        return "NA"
    # round first so that a tiny negative value prints as 0, not -0
    return "%.*f" % (places, round(x, places) + 0.0)


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main():
    work, rate = sys.argv[1], sys.argv[2]
    results = read(os.path.join(work, "results.tsv"))
    starts = read(os.path.join(work, "startup.tsv"))
    swaps = read(os.path.join(work, "swap.tsv"))
    if not results:
        sys.exit("report.py: %s/results.tsv has no runs" % work)

    runs = defaultdict(list)
    cpu = {}
    for r in results:
        runs[(r["server"], r["N"], r["mix"])].append(r)
        cpu[(r["server"], r["N"], r["mix"], r["rep"])] = num(r["cpu_us_per_answer"])
    first = defaultdict(list)
    for r in starts:
        first[(r["server"], r["N"])].append(num(r["first_answer_s"]))
    swap = defaultdict(list)
    silent = defaultdict(list)
    publish = defaultdict(list)
    for r in swaps:
        swap[(r["server"], r["N"])].append(num(r["swap_s"]))
        silent[(r["server"], r["N"])].append(num(r["swap_silent_s"]))
        publish[(r["server"], r["N"])].append(num(r["publish_to_answer_ms"]))

    def order(key):
        srv, n, mix = key
        rank = SERVERS.index(srv) if srv in SERVERS else len(SERVERS)
        return (int(n), MIXES.index(mix), rank, srv)

    rows = []
    for key in sorted(runs, key=order):
        srv, n, mix = key
        rs = runs[key]
        def ratios(to):
            return [cpu[(srv, n, mix, r["rep"])] / cpu[(to, n, mix, r["rep"])]
                    for r in rs
                    if cpu.get((to, n, mix, r["rep"])) and cpu.get((srv, n, mix, r["rep"])) is not None]
        codes = sorted({c.split(":")[0] for r in rs for c in r["rcodes"].split(",") if c and c != "NA"})
        rows.append({
            "server": srv, "n": n, "mix": mix, "reps": str(len(rs)),
            "cpu_us_per_answer": fmt(med([num(r["cpu_us_per_answer"]) for r in rs]), 3),
            "ratio_to_dnsmasq": fmt(med(ratios("dnsmasq")), 3),
            "ratio_to_unbound": fmt(med(ratios("unbound")), 3),
            "qps": fmt(med([num(r["qps"]) for r in rs])),
            "lost_pct_sat": fmt(med([num(r["lost_pct"]) for r in rs]), 2),
            "lost_fixed": fmt(med([num(r["lost_fixed"]) for r in rs])),
            "p50_ms": fmt(med([num(r["p50_ms_fixed"]) for r in rs]), 3),
            "p99_ms": fmt(med([num(r["p99_ms_fixed"]) for r in rs]), 3),
            "rss_mb": fmt(max(num(r["rss_mb"]) or 0 for r in rs)),
            "hwm_mb": fmt(max(num(r["hwm_mb"]) or 0 for r in rs)),
            "updater_rss_mb": fmt(max(num(r["updater_rss_mb"]) or 0 for r in rs)) if srv == "ralo" else "NA",
            "first_answer_s": fmt(med(first[(srv, n)]), 3),
            "swap_s": fmt(med(swap[(srv, n)]), 3),
            "swap_silent_s": fmt(med(silent[(srv, n)]), 3),
            "publish_to_answer_ms": fmt(med(publish[(srv, n)]), 1),
            "rcodes": "+".join(codes) or "NA",
        })

    with open(os.path.join(work, "sidebyside.csv"), "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        for row in rows:
            f.write(",".join(row[c] for c in COLUMNS) + "\n")

    reps = max(len(v) for v in runs.values())
    print("Medians over %d repetition(s). CPU-us/answer: server utime+stime over answered "
          "queries in the saturating run. Ratios: that over dnsmasq's and over unbound's in the "
          "same repetition. "
          "p50/p99 and lost: the fixed-rate run at %s qps. RSS: the server process after "
          "the runs (max over repetitions); for ralo + its updater process. First answer: "
          "exec to the first correct answer. List swap: from the list change (ralo: the "
          "file edit its updater watches; dnsmasq: edit + SIGHUP; unbound: edit + "
          "unbound-control reload) to the first answer from the new list; silent: the "
          "longest stretch without any answer in that time (1 ms polls); publish: for ralo, "
          "from the server's log line for the new image to that answer." % (reps, rate))
    print()
    print("| server | N | mix | CPU-us/answer | ratio to dnsmasq | ratio to unbound | p50 ms | p99 ms "
          "| lost | RSS MB | first answer s | list swap s | silent s | publish to answer ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        rss = row["rss_mb"]
        if row["updater_rss_mb"] != "NA":
            rss = "%s + %s" % (rss, row["updater_rss_mb"])
        print("| %s |" % " | ".join([
            row["server"], row["n"], row["mix"], row["cpu_us_per_answer"], row["ratio_to_dnsmasq"],
            row["ratio_to_unbound"], row["p50_ms"], row["p99_ms"], row["lost_fixed"], rss, row["first_answer_s"],
            row["swap_s"], row["swap_silent_s"], row["publish_to_answer_ms"]]))
    odd = [r for r in rows if r["rcodes"] not in ("NOERROR", "NA")]
    for r in odd:
        print("\nnote: %s N=%s %s answered %s in the saturating runs" % (r["server"], r["n"], r["mix"], r["rcodes"]))


if __name__ == "__main__":
    main()
