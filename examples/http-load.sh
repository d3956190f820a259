#!/usr/bin/env bash
# http-load.sh — hyper's "hello world" HTTP/1 server on our runtime vs. on
# tokio, under the same wrk load, printed side by side.
#
# What it does:
#   1. builds the examples `http_hello` (hyper on `runtime`) and
#      `http_hello_tokio` (the same server on tokio) in release mode;
#   2. starts each in turn on an ephemeral loopback port, warms it up for a
#      second, then drives it with wrk (Debian package `wrk`, installed with
#      apt-get if missing) for the chosen duration;
#   3. prints requests/s and latency (average, p50, p90, p99, max) for both,
#      and the errors wrk saw, if any.
# Both servers get the same CPUs, the same number of worker threads and the
# same wrk settings. With `taskset` available and 2+ cores, the CPUs are
# split: the server is pinned to the first half, wrk to the second half
# (otherwise wrk and the server fight over the same cores and the figures
# swing wildly from run to run); WORKERS defaults to the server's share, wrk's
# threads to wrk's share. Compare the two columns with each other, not with
# figures taken on another machine.
#
# Usage:
#   examples/http-load.sh [--quick] [--duration SECS] [--connections N]
#                         [--threads N] [--no-pin] [--bin-dir DIR]
#                         [--no-install]
#     --quick          2 s per server instead of 10 s (CI smoke run)
#     --duration S     seconds of load per server (default 10)
#     --connections N  open connections (wrk -c, default 64)
#     --threads N      wrk threads (wrk -t, default: wrk's CPUs)
#     --no-pin         don't pin; server and wrk share all cores
#     --bin-dir DIR    use already-built example binaries from DIR
#                      (e.g. target/debug/examples) instead of building
#     --no-install     fail instead of installing wrk when it is missing
#   WORKERS=N examples/http-load.sh    # worker threads of both servers
#                                      # (default: the server's CPUs)
#
# Exit status: 0 when both servers answered every request with 200.
set -euo pipefail

cd "$(dirname "$0")/.."

duration=10
connections=64
threads=""
bin_dir=""
install=1
pin=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) duration=2 ;;
        --duration) duration="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --bin-dir) bin_dir="$2"; shift ;;
        --no-install) install=0 ;;
        --no-pin) pin=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "http-load.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
cores="$(nproc)"
server_cpus=""
wrk_cpus=""
if [ "$pin" = 1 ] && [ "$cores" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    half=$((cores / 2))
    server_cpus="0-$((half - 1))"
    wrk_cpus="$half-$((cores - 1))"
    workers="${WORKERS:-$half}"
    threads="${threads:-$((cores - half))}"
    placement="server on CPUs $server_cpus, wrk on CPUs $wrk_cpus"
else
    workers="${WORKERS:-$cores}"
    threads="${threads:-2}"
    placement="server and wrk share $cores CPUs"
fi
export WORKERS="$workers"
# on CPUS CMD...: run CMD pinned to CPUS (or unpinned when CPUS is empty).
on() {
    local cpus="$1"
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$install" = 0 ]; then
        echo "http-load.sh: wrk is not installed (apt-get install -y wrk)" >&2
        exit 3
    fi
    echo "http-load.sh: installing wrk" >&2
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get install -y -q wrk >/dev/null 2>&1 \
        || { $sudo_cmd apt-get update -q >/dev/null && $sudo_cmd apt-get install -y -q wrk >/dev/null; }
fi

if [ -z "$bin_dir" ]; then
    echo "http-load.sh: building the examples (release)" >&2
    cargo build --release -q -p examples --example http_hello --example http_hello_tokio
    bin_dir="$(cargo metadata --format-version 1 --no-deps \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/examples"
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# run_one NAME: start the example NAME on port 0, load it, keep wrk's output.
run_one() {
    local name="$1" log="$tmp/$1.log" addr="" i
    on "$server_cpus" "$bin_dir/$name" 0 >"$log" 2>&1 &
    server_pid=$!
    for i in $(seq 1 100); do
        addr="$(sed -n 's|.*listening on \(http://[0-9.:]*\) (.*|\1|p' "$log")"
        [ -n "$addr" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "http-load.sh: $name did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "http-load.sh: $name on $addr: $workers workers; wrk -t$threads -c$connections -d${duration}s" >&2
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d1s "$addr/" >/dev/null    # warm-up
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$addr/" \
        >"$tmp/$name.wrk"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# field NAME WHAT: one figure from wrk's report.
field() {
    local f="$tmp/$1.wrk"
    case "$2" in
        rps) awk '/^Requests\/sec:/ {print $2}' "$f" ;;
        avg) awk '$1 == "Latency" {print $2; exit}' "$f" ;;
        max) awk '$1 == "Latency" {print $4; exit}' "$f" ;;
        p50|p75|p90|p99) awk -v p="${2#p}%" '$1 == p {print $2}' "$f" ;;
        requests) awk '/requests in/ {print $1}' "$f" ;;
        errors) { grep -E '^ *(Socket errors|Non-2xx)' "$f" || true; } | sed 's/^ *//' | paste -sd';' - ;;
    esac
}

run_one http_hello
run_one http_hello_tokio

echo
echo "hyper 1.x hello world, HTTP/1.1 keep-alive; $workers server workers;" \
     "wrk -t$threads -c$connections, ${duration}s each; $placement"
printf '%-14s %18s %18s\n' "" "runtime" "tokio"
for what in rps requests avg p50 p90 p99 max; do
    label="$what"
    case "$what" in
        rps) label="requests/s" ;;
        requests) label="requests" ;;
        avg) label="latency avg" ;;
        max) label="latency max" ;;
        *) label="latency $what" ;;
    esac
    printf '%-14s %18s %18s\n' "$label" "$(field http_hello "$what")" "$(field http_hello_tokio "$what")"
done

status=0
for name in http_hello http_hello_tokio; do
    errors="$(field "$name" errors)"
    if [ -n "$errors" ]; then
        echo "$name: $errors"
        case "$errors" in *Non-2xx*) status=1 ;; esac
    fi
    if [ -z "$(field "$name" rps)" ]; then
        echo "$name: no result from wrk" >&2
        status=1
    fi
done
exit "$status"
