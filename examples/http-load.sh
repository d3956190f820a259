#!/usr/bin/env bash
# http-load.sh — hyper's "hello world" HTTP/1 server on our runtime vs. on
# tokio, under the same wrk load, printed side by side.
#
# What it does:
#   1. builds the examples `http_hello` (hyper on `runtime`) and
#      `http_hello_tokio` (the same server on tokio) in release mode;
#   2. for each of RUNS rounds, starts each server in turn (ours first, then
#      tokio: alternating, so a change in the machine's load hits both) on an
#      ephemeral loopback port, warms it up for a second, then drives it with
#      wrk (Debian package `wrk`, installed with apt-get if missing) for the
#      chosen duration;
#   3. prints, per run and as medians with min–max over the runs: requests/s,
#      latency (p50, p99), the server's CPU time per request (user + system,
#      from /proc) and its voluntary context switches (times a server thread
#      blocked, mostly in epoll_wait) per 1,000 requests; for ours also the
#      runtime's own counters per request (task polls, parks, epoll_wait calls,
#      events per epoll_wait), which the server prints on SIGUSR1;
#   4. with --strace, one more run of each under `strace -f -c`, reported as
#      system calls per request (strace slows the servers down several times:
#      its requests/s mean nothing, the counts per request do);
#   5. with --callgrind, one more run of each under valgrind's callgrind,
#      reported as user-space instructions per request, in all and for the
#      functions that execute most (valgrind runs the server dozens of times
#      slower, so its requests/s mean nothing; but an instruction count does
#      not depend on what else the machine runs, which makes it the one
#      figure here that two runs reproduce closely; it says nothing about
#      the kernel's share);
#   6. with --perf, two more runs of each: one counting system calls per
#      request with `perf stat` on the kernel's tracepoints (no slowdown,
#      unlike strace), then one under `perf record` (sampling at
#      PERF_FREQ, default 5000 Hz), reported as CPU nanoseconds per request
#      by binary (kernel, the server, libc) and for the hottest symbols.
# Both servers get the same CPUs, the same number of worker threads and the
# same wrk settings. With `taskset` available and 2+ cores, the CPUs are
# split: the server is pinned to the first half, wrk to the second half
# (otherwise wrk and the server fight over the same cores and the figures
# swing wildly from run to run); WORKERS defaults to the server's share, wrk's
# threads to wrk's share. Compare the two columns with each other, not with
# figures taken on another machine, and look at the load average printed with
# them: on a busy machine requests/s mostly measures the neighbours, while CPU
# per request still says which server does more work.
#
# Usage:
#   examples/http-load.sh [--quick] [--runs N] [--duration SECS]
#                         [--connections N] [--threads N] [--no-pin]
#                         [--strace] [--callgrind] [--perf] [--bin-dir DIR]
#                         [--no-install]
#     --quick          1 run of 2 s per server (CI smoke run)
#     --runs N         rounds, each running ours then tokio (default 3)
#     --duration S     seconds of load per server and run (default 10)
#     --connections N  open connections (wrk -c, default 64)
#     --threads N      wrk threads (wrk -t, default: wrk's CPUs)
#     --no-pin         don't pin; server and wrk share all cores
#     --strace         also count system calls per request (needs strace)
#     --callgrind      also count user-space instructions per request (needs
#                      valgrind)
#     --perf           also profile CPU time per request (needs perf and
#                      kernel.perf_event_paranoid <= 2 or root)
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
runs=3
use_strace=0
use_perf=0
use_callgrind=0
connections=64
threads=""
bin_dir=""
install=1
pin=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) duration=2; runs=1 ;;
        --runs) runs="$2"; shift ;;
        --duration) duration="$2"; shift ;;
        --strace) use_strace=1 ;;
        --perf) use_perf=1 ;;
        --callgrind) use_callgrind=1 ;;
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
# `exec`, so that `on ... &` leaves `$!` naming the command itself and not a
# subshell waiting for it: killing the subshell would leave the server running.
on() {
    local cpus="$1"
    shift
    if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
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

if [ "$use_strace" = 1 ] && ! command -v strace >/dev/null 2>&1; then
    echo "http-load.sh: --strace needs strace (apt-get install -y strace)" >&2
    exit 3
fi

if [ "$use_callgrind" = 1 ] && ! command -v callgrind_control >/dev/null 2>&1; then
    echo "http-load.sh: --callgrind needs valgrind (apt-get install -y valgrind)" >&2
    exit 3
fi

if [ "$use_perf" = 1 ] && ! command -v perf >/dev/null 2>&1; then
    echo "http-load.sh: --perf needs perf (apt-get install -y linux-perf)" >&2
    exit 3
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
clk_tck="$(getconf CLK_TCK)"

# proc_cpu PID: user + system clock ticks of the whole process so far.
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# proc_vcs PID: voluntary context switches of all its threads so far.
proc_vcs() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'; }
# metrics PID LOG: ask our server for its counters (SIGUSR1), print the line.
metrics() {
    local before i
    before="$(grep -c '^metrics:' "$2" || true)"
    kill -USR1 "$1"
    for i in $(seq 1 50); do
        if [ "$(grep -c '^metrics:' "$2" || true)" -gt "$before" ]; then
            grep '^metrics:' "$2" | tail -1
            return
        fi
        sleep 0.1
    done
    echo "http-load.sh: no metrics from the server" >&2
}
# start NAME LOG [WRAPPER...]: start the example NAME on port 0 (pinned);
# sets server_pid and addr.
start() {
    local name="$1" log="$2" i
    addr=""
    shift 2
    on "$server_cpus" "$@" "$bin_dir/$name" 0 >"$log" 2>&1 &
    server_pid=$!
    for i in $(seq 1 100); do
        # (the log may not exist yet: the server's shell creates it)
        addr="$(sed -n 's|.*listening on \(http://[0-9.:]*\) (.*|\1|p' "$log" 2>/dev/null || true)"
        [ -n "$addr" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "http-load.sh: $name did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
}
stop() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# run_one NAME RUN: start NAME, warm it up, load it; keep wrk's output
# ($tmp/NAME.RUN.wrk) and the server's counters ($tmp/NAME.RUN.stats).
run_one() {
    local name="$1" run="$2" log="$tmp/$1.$2.log" cpu0 vcs0 m0="" m1=""
    start "$name" "$log"
    echo "http-load.sh: run $run, $name on $addr: $workers workers; wrk -t$threads -c$connections -d${duration}s" >&2
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d1s "$addr/" >/dev/null &    # warm-up
    wait $!
    cpu0="$(proc_cpu "$server_pid")"
    vcs0="$(proc_vcs "$server_pid")"
    if [ "$name" = http_hello ]; then m0="$(metrics "$server_pid" "$log")"; fi
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$addr/" \
        >"$tmp/$name.$run.wrk" &
    wait $!
    if [ "$name" = http_hello ]; then m1="$(metrics "$server_pid" "$log")"; fi
    echo "cpu $(( $(proc_cpu "$server_pid") - cpu0 )) vcs $(( $(proc_vcs "$server_pid") - vcs0 ))" \
        >"$tmp/$name.$run.stats"
    # The runtime's counters: "metrics: polls=N parks=N ..." before and after.
    if [ -n "$m0" ] && [ -n "$m1" ]; then
        paste <(echo "$m0" | tr ' ' '\n' | grep =) <(echo "$m1" | tr ' ' '\n' | grep =) \
            | awk -F'[=\t]' '{print $1, $4 - $2}' >>"$tmp/$name.$run.stats"
    fi
    stop
}

# field NAME RUN WHAT: one figure of one run.
field() {
    local f="$tmp/$1.$2.wrk" st="$tmp/$1.$2.stats" req
    req="$(awk '/requests in/ {print $1}' "$f")"
    case "$3" in
        rps) awk '/^Requests\/sec:/ {print $2}' "$f" ;;
        p50|p90|p99) awk -v p="${3#p}%" '$1 == p {print $2}' "$f" \
            | awk '/us$/ {printf "%.0f\n", $1} /ms$/ {printf "%.0f\n", $1 * 1000} /[0-9]s$/ {printf "%.0f\n", $1 * 1e6}' ;;
        requests) echo "$req" ;;
        cpu_us) awk -v r="$req" -v hz="$clk_tck" '$1 == "cpu" {printf "%.2f\n", $2 / hz * 1e6 / r}' "$st" ;;
        vcs_k) awk -v r="$req" '$1 == "cpu" {printf "%.1f\n", $4 * 1000 / r}' "$st" ;;
        polls|parks|epoll_waits|steals) awk -v r="$req" -v k="$3" '$1 == k {printf "%.3f\n", $2 / r}' "$st" ;;
        events_per_wait) awk '$1 == "epoll_waits" {w = $2} $1 == "epoll_events" {e = $2} END {if (w) printf "%.1f\n", e / w}' "$st" ;;
        errors) { grep -E '^ *(Socket errors|Non-2xx)' "$f" || true; } | sed 's/^ *//' | paste -sd';' - ;;
    esac
}

# summary NAME WHAT: "median (min–max)" over the runs.
summary() {
    local r vals=""
    for r in $(seq 1 "$runs"); do vals="$vals $(field "$1" "$r" "$2")"; done
    echo "$vals" | tr ' ' '\n' | grep . | sort -g \
        | awk '{v[NR] = $1} END {
            if (NR == 0) { print "-"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (NR == 1) print m; else printf "%s (%s–%s)\n", m, v[1], v[NR] }'
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$runs"); do
    run_one http_hello "$run"
    run_one http_hello_tokio "$run"
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "hyper 1.x hello world, HTTP/1.1 keep-alive; $workers server workers;" \
     "wrk -t$threads -c$connections, ${duration}s each; $placement"
echo "$runs run(s) each, alternating; load average before: $load_before, after: $load_after"
echo
printf '%-4s %-7s %12s %9s %9s %10s %10s %8s %8s %8s\n' \
    run server "requests/s" "p50 µs" "p99 µs" "CPU µs/req" "vcs/1k req" polls/req parks/req waits/req
for run in $(seq 1 "$runs"); do
    for name in http_hello http_hello_tokio; do
        label=ours
        [ "$name" = http_hello_tokio ] && label=tokio
        printf '%-4s %-7s %12s %9s %9s %10s %10s %8s %8s %8s\n' "$run" "$label" \
            "$(field "$name" "$run" rps)" "$(field "$name" "$run" p50)" "$(field "$name" "$run" p99)" \
            "$(field "$name" "$run" cpu_us)" "$(field "$name" "$run" vcs_k)" \
            "$(field "$name" "$run" polls)" "$(field "$name" "$run" parks)" "$(field "$name" "$run" epoll_waits)"
    done
done
echo
echo "medians (min–max):"
printf '%-22s %28s %28s\n' "" "ours" "tokio"
for what in rps p50 p99 cpu_us vcs_k; do
    case "$what" in
        rps) label="requests/s" ;;
        p50) label="latency p50 (µs)" ;;
        p99) label="latency p99 (µs)" ;;
        cpu_us) label="server CPU µs/request" ;;
        vcs_k) label="blocking/1k requests" ;;
    esac
    printf '%-22s %28s %28s\n' "$label" "$(summary http_hello "$what")" "$(summary http_hello_tokio "$what")"
done
for what in polls parks epoll_waits events_per_wait; do
    printf '%-22s %28s %28s\n' "ours: $what$( [ "$what" = events_per_wait ] || echo /req)" "$(summary http_hello "$what")" ""
done

# strace_one NAME: one run under strace -f -c; system calls per request.
strace_one() {
    local name="$1" log="$tmp/$1.strace.log" tracer req
    start "$name" "$log" strace -f -c -o "$tmp/$name.strace"
    tracer="$server_pid"
    server_pid="$(pgrep -P "$tracer" | head -1)"
    echo "http-load.sh: $name under strace on $addr" >&2
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" "$addr/" >"$tmp/$name.strace.wrk" &
    wait $!
    stop
    wait "$tracer" 2>/dev/null || true
    req="$(awk '/requests in/ {print $1}' "$tmp/$name.strace.wrk")"
    awk -v r="$req" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {
            errs = (NF == 6) ? $5 : 0
            printf "%s %.4f %.4f\n", $NF, $4 / r, errs / r }' "$tmp/$name.strace" >"$tmp/$name.syscalls"
    echo "$req" >"$tmp/$name.strace.requests"
}
if [ "$use_strace" = 1 ]; then
    strace_one http_hello
    strace_one http_hello_tokio
    echo
    echo "system calls per request under strace -f -c ($(cat "$tmp/http_hello.strace.requests") and" \
         "$(cat "$tmp/http_hello_tokio.strace.requests") requests; errors, e.g. EAGAIN, in brackets):"
    printf '%-16s %18s %18s\n' "" "ours" "tokio"
    for sc in recvfrom read sendmsg sendto writev write epoll_wait epoll_ctl futex sched_yield; do
        o="$(awk -v s="$sc" '$1 == s {printf "%s (%s)", $2, $3}' "$tmp/http_hello.syscalls")"
        t="$(awk -v s="$sc" '$1 == s {printf "%s (%s)", $2, $3}' "$tmp/http_hello_tokio.syscalls")"
        [ -z "$o$t" ] && continue
        printf '%-16s %18s %18s\n' "$sc" "${o:--}" "${t:--}"
    done
fi

# callgrind_one NAME: one run under callgrind, counting only while wrk's
# measured load runs (not start-up, not the warm-up); user-space
# instructions per request, in all and for the top functions.
callgrind_one() {
    local name="$1" log="$tmp/$1.cg.log" out="$tmp/$1.cg" req total
    start "$name" "$log" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out"
    echo "http-load.sh: $name under callgrind on $addr" >&2
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d2s "$addr/" >/dev/null &    # warm-up
    wait $!
    callgrind_control -i on "$server_pid" >/dev/null
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" "$addr/" >"$tmp/$name.cg.wrk" &
    wait $!
    callgrind_control -i off "$server_pid" >/dev/null
    stop    # callgrind writes its counts as the process ends
    req="$(awk '/requests in/ {print $1}' "$tmp/$name.cg.wrk")"
    total="$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')"
    echo "$req $total" >"$tmp/$name.cg.total"
    callgrind_annotate "$out" 2>/dev/null | sed -n '/file:function/,$p' \
        | awk -v r="$req" '$1 ~ /^[0-9,]+$/ {v = $1; gsub(",", "", v); $1 = ""; $2 = ""; sub(/^ +/, "")
              sub(/^[^:]*:/, ""); sub(/ \[.*$/, "")
              if (++n <= 10) printf "%6.0f  %s\n", v / r, substr($0, 1, 90)}' >"$tmp/$name.cg.top"
}
if [ "$use_callgrind" = 1 ]; then
    callgrind_one http_hello
    callgrind_one http_hello_tokio
    echo
    echo "user-space instructions per request under callgrind (counted over $(cut -d' ' -f1 "$tmp/http_hello.cg.total")" \
         "and $(cut -d' ' -f1 "$tmp/http_hello_tokio.cg.total") requests):"
    printf '%-22s %10s %10s\n' "" "ours" "tokio"
    printf '%-22s %10s %10s\n' "instructions/request" \
        "$(awk '{printf "%.0f", $2 / $1}' "$tmp/http_hello.cg.total")" \
        "$(awk '{printf "%.0f", $2 / $1}' "$tmp/http_hello_tokio.cg.total")"
    for name in http_hello http_hello_tokio; do
        echo
        echo "$name: functions executing the most instructions (self), per request:"
        cat "$tmp/$name.cg.top"
    done
fi

perf_syscalls="recvfrom sendmsg sendto writev epoll_wait epoll_ctl futex"
# perf_one NAME: one run sampled by perf; CPU ns per request by binary and
# by symbol (samples / frequency / requests).
perf_one() {
    local name="$1" log="$tmp/$1.perf.log" recorder counter req freq="${PERF_FREQ:-5000}"
    start "$name" "$log"
    echo "http-load.sh: $name under perf record on $addr" >&2
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d1s "$addr/" >/dev/null &    # warm-up
    wait $!
    # First the system calls, counted on the kernel's tracepoints: unlike
    # strace (or perf record, next), this does not slow the server down, and
    # so does not change how much work piles up between two epoll_wait calls.
    perf stat -x, -e "$(printf 'syscalls:sys_enter_%s,' $perf_syscalls | sed 's/,$//')" \
        -p "$server_pid" -o "$tmp/$name.perfstat" -- sleep "$duration" >/dev/null 2>&1 &
    counter=$!
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" "$addr/" >"$tmp/$name.stat.wrk" &
    wait $!
    wait "$counter" || true
    awk '/requests in/ {print $1}' "$tmp/$name.stat.wrk" >"$tmp/$name.stat.requests"
    # Then where the CPU time goes, sampled.
    perf record -q -F "$freq" -p "$server_pid" -o "$tmp/$name.perf" -- sleep "$duration" \
        >/dev/null 2>&1 &
    recorder=$!
    on "$wrk_cpus" wrk -t"$threads" -c"$connections" -d"${duration}s" "$addr/" >"$tmp/$name.perf.wrk" &
    wait $!
    wait "$recorder" || true
    stop
    req="$(awk '/requests in/ {print $1}' "$tmp/$name.perf.wrk")"
    echo "$req" >"$tmp/$name.perf.requests"
    perf report -i "$tmp/$name.perf" --stdio --no-children --sort dso -F sample,dso 2>/dev/null \
        | awk -v r="$req" -v f="$freq" '/^ *[0-9]+ / {printf "%s %.0f\n", $2, $1 / f / r * 1e9}' \
        >"$tmp/$name.by_dso"
    perf report -i "$tmp/$name.perf" --stdio --no-children --sort dso,sym -F sample,dso,sym 2>/dev/null \
        | awk -v r="$req" -v f="$freq" '/^ *[0-9]+ / && $2 != "[kernel.kallsyms]" {
              n = $1; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, "")
              printf "%6.0f  %s\n", n / f / r * 1e9, substr($0, 1, 90)}' \
        | sort -rn | head -10 >"$tmp/$name.by_sym"
}
if [ "$use_perf" = 1 ]; then
    perf_one http_hello
    perf_one http_hello_tokio
    echo
    echo "CPU ns per request under perf record (cpu-clock samples at ${PERF_FREQ:-5000} Hz;" \
         "$(cat "$tmp/http_hello.perf.requests") and $(cat "$tmp/http_hello_tokio.perf.requests") requests):"
    printf '%-22s %10s %10s\n' "" "ours" "tokio"
    for dso in '[kernel.kallsyms]' libc.so.6 '[vdso]'; do
        printf '%-22s %10s %10s\n' "$dso" \
            "$(awk -v d="$dso" '$1 == d {print $2}' "$tmp/http_hello.by_dso")" \
            "$(awk -v d="$dso" '$1 == d {print $2}' "$tmp/http_hello_tokio.by_dso")"
    done
    printf '%-22s %10s %10s\n' "the server binary" \
        "$(awk '$1 == "http_hello" {print $2}' "$tmp/http_hello.by_dso")" \
        "$(awk '$1 == "http_hello_tokio" {print $2}' "$tmp/http_hello_tokio.by_dso")"
    echo
    echo "system calls per request, counted by perf stat on the kernel's tracepoints" \
         "(a run of its own before the profiled one, $(cat "$tmp/http_hello.stat.requests") and" \
         "$(cat "$tmp/http_hello_tokio.stat.requests") requests; the counting window may differ" \
         "from wrk's by a few ms):"
    printf '%-22s %10s %10s\n' "" "ours" "tokio"
    for sc in $perf_syscalls; do
        o="$(awk -F, -v e="syscalls:sys_enter_$sc" -v r="$(cat "$tmp/http_hello.stat.requests")" \
            '$3 == e && $1 ~ /^[0-9]+$/ {printf "%.4f", $1 / r}' "$tmp/http_hello.perfstat")"
        t="$(awk -F, -v e="syscalls:sys_enter_$sc" -v r="$(cat "$tmp/http_hello_tokio.stat.requests")" \
            '$3 == e && $1 ~ /^[0-9]+$/ {printf "%.4f", $1 / r}' "$tmp/http_hello_tokio.perfstat")"
        [ "$o$t" = "0.00000.0000" ] && continue
        printf '%-22s %10s %10s\n' "$sc" "${o:--}" "${t:--}"
    done
    for name in http_hello http_hello_tokio; do
        echo
        echo "$name: hottest user-space symbols, ns/request:"
        cat "$tmp/$name.by_sym"
    done
fi

status=0
for run in $(seq 1 "$runs"); do
    for name in http_hello http_hello_tokio; do
        errors="$(field "$name" "$run" errors)"
        if [ -n "$errors" ]; then
            echo "$name (run $run): $errors"
            case "$errors" in *Non-2xx*) status=1 ;; esac
        fi
        if [ -z "$(field "$name" "$run" rps)" ]; then
            echo "$name (run $run): no result from wrk" >&2
            status=1
        fi
    done
done
exit "$status"
