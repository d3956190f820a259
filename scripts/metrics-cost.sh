#!/usr/bin/env bash
# What do the runtime's metrics cost? Builds twice — as it is, and with
# `--cfg runtime_no_metrics` (every counter update compiled out) — and compares:
#
# 1. instructions (stable on a noisy machine): the fixed workload
#    bench/src/bin/metrics_workload.rs (~220,000 polls on a current-thread
#    runtime) under valgrind's callgrind, 3 runs per build, medians;
# 2. with --time: the executor benchmarks' times, both builds alternating,
#    ROUNDS times (default 3, ~1 min each). Expect several % of noise per row
#    on a shared machine; look at the median of the overheads.
#
# Usage: scripts/metrics-cost.sh [--time [ROUNDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "metrics-cost: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build -q --release -p bench --bin metrics_workload
RUSTFLAGS="--cfg runtime_no_metrics" cargo build -q --release -p bench --bin metrics_workload --target-dir target/nometrics
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 | sed -n 's/.*Collected : //p'; }
with_i=(); without_i=()
for _ in 1 2 3; do
  with_i+=("$(count target/release/metrics_workload)")
  without_i+=("$(count target/nometrics/release/metrics_workload)")
done
python3 - "${with_i[*]}" "${without_i[*]}" <<'PY'
import statistics, sys
w = statistics.median(int(x) for x in sys.argv[1].split())
wo = statistics.median(int(x) for x in sys.argv[2].split())
print(f"instructions, ~220k polls: with metrics {w:,}  without {wo:,}  overhead {(w / wo - 1) * 100:.2f}%")
print(f"  (runs: with {sys.argv[1]}; without {sys.argv[2]})")
PY

[ "${1:-}" = "--time" ] || exit 0
rounds="${2:-3}"

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
