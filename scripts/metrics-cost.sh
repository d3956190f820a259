#!/usr/bin/env bash
# What do the runtime's metrics cost? Builds the benchmark suite twice — as it
# is, and with `--cfg runtime_no_metrics` (every counter update compiled out) —
# and runs the executor benchmarks with each build, alternating, ROUNDS times.
# Prints, per benchmark, the median of "ours" over all rounds for both builds
# and the overhead of keeping metrics. On a noisy machine expect a few % of
# noise either way; look at the median of the overheads, not one row.
#
# Usage: scripts/metrics-cost.sh [ROUNDS]   (default 3; each round ~1 min)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build -q --release -p bench
RUSTFLAGS="--cfg runtime_no_metrics" cargo build -q --release -p bench --target-dir target/nometrics
with=target/release/bench
without=target/nometrics/release/bench

for i in $(seq "$rounds"); do
  for build in with without; do
    bin=$with
    [ "$build" = without ] && bin=$without
    "$bin" --only executor --runs 5 --out "$out/$build-$i" >/dev/null 2>&1 || {
      echo "metrics-cost: the $build-metrics run $i failed" >&2
      exit 1
    }
  done
done

python3 - "$out" "$rounds" <<'PY'
import csv, statistics, sys, os
out, rounds = sys.argv[1], int(sys.argv[2])
vals = {}
for build in ("with", "without"):
    for i in range(1, rounds + 1):
        path = next(os.path.join(out, f"{build}-{i}", f) for f in os.listdir(os.path.join(out, f"{build}-{i}")) if f.endswith(".csv"))
        for row in csv.DictReader(open(path)):
            if row["implementation"] == "ours" and row["samples"]:
                vals.setdefault(row["benchmark"], {}).setdefault(build, []).extend(float(x) for x in row["samples"].split())
print(f"{'benchmark':26} {'with metrics':>14} {'without':>14} {'overhead':>9}")
overheads = []
for name, v in vals.items():
    w, wo = statistics.median(v["with"]), statistics.median(v["without"])
    o = (w / wo - 1) * 100
    overheads.append(o)
    print(f"{name:26} {w:14.1f} {wo:14.1f} {o:8.1f}%")
print(f"{'median overhead':58} {statistics.median(overheads):8.1f}%")
PY
