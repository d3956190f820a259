#!/usr/bin/env bash
# The scaling table on a many-core machine, as one prepared script (issue 15, item 5).
#
#   bench/scaling.sh [--tiny] [--no-build] [OUT_DIR]
#
# Runs, from the workspace root:
#   1. the network throughput and latency benchmarks with 1, 2, 4, 8, 16 server workers
#      (counts above the machine's CPUs are dropped; the server gets the last W CPUs and the
#      client the others, both share all CPUs when W = CPUs), ours, tokio, raw epoll and the
#      three seed designs;
#   2. the executor and timer benchmarks with workers = CPUs;
# and writes their tables (CSV, Markdown, SVG) and a description of the machine (lscpu,
# kernel, rustc, tokio version, memory, load) into OUT_DIR (default
# bench/scaling-<UTC time>). Budget on 16 cores: about 6–7 minutes after the build.
#
# --tiny: a check of the script itself on a small machine (1 and 2 workers, short samples).
# --no-build: use the binaries already in target/release (a machine without the registry).
set -euo pipefail

tiny=0
build=1
out=""
for a in "$@"; do
    case "$a" in
        --tiny) tiny=1 ;;
        --no-build) build=0 ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "scaling.sh: unknown option $a" >&2; exit 2 ;;
        *) out="$a" ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cores=$(nproc)
out=${out:-bench/scaling-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ "$tiny" = 1 ]; then
    counts="1 2"
    runs=1
    seconds=0.3
else
    counts="1 2 4 8 16"
    runs=2
    seconds=2
fi
workers=""
for w in $counts; do
    if [ "$w" -le "$cores" ]; then workers="${workers:+$workers,}$w"; fi
done

{
    echo "# Machine"
    echo
    echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
    echo "kernel: $(uname -srvm)"
    echo "CPUs (nproc): $cores"
    echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
    echo "tokio: $(awk '/^name = "tokio"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "server worker counts: $workers; executor workers: $cores; samples: $runs measured (+1 warm-up) of ${seconds} s"
    echo
    echo '## lscpu'
    echo
    echo '```'
    lscpu 2>/dev/null || cat /proc/cpuinfo
    echo '```'
    echo
    echo '## memory'
    echo
    echo '```'
    free -h 2>/dev/null || head -3 /proc/meminfo
    echo '```'
} > "$out/machine.md"

if [ "$build" = 1 ]; then
    nice cargo build --release -p server -p bench --bins 2>&1 | tail -3
fi
for b in target/release/bench target/release/server; do
    [ -x "$b" ] || { echo "scaling.sh: $b missing (build first, or drop --no-build)" >&2; exit 1; }
done

status=0
start=$(date +%s)
echo "scaling.sh: network, workers $workers" >&2
target/release/bench --only throughput,latency --server-workers "$workers" --runs "$runs" \
    --seconds "$seconds" --out "$out/network" 2>&1 | tee "$out/network.log" || status=1
echo "scaling.sh: executor and timers, $cores workers" >&2
quick=""
if [ "$tiny" = 1 ]; then quick="--quick"; fi
target/release/bench --only executor,timer --exec-workers "$cores" --runs "$runs" $quick \
    --out "$out/executor" 2>&1 | tee "$out/executor.log" || status=1
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); took $(( $(date +%s) - start )) s" >> "$out/machine.md"
echo "scaling.sh: results in $out (status $status)" >&2
exit $status
