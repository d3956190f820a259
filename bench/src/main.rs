//! The benchmark suite: our runtime vs tokio (and, for the network, a raw-epoll limit).
//!
//! `cargo run --release -p bench -- [--quick] [--only NAME[,NAME]] [--runs N]`
//!
//! See `bench/README.md` for the method and how to read the table.

#![deny(clippy::undocumented_unsafe_blocks)]

mod build_cost;
mod exec;
mod net;
mod ours;
mod report;
mod rt;
mod stall;
use stall::timer_behind_long_poll;
mod timers;

use report::Row;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Which implementation a sample was taken on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Imp {
    /// Our runtime (and, for the network, our `server`).
    Ours,
    /// tokio (and `tokio_server`).
    Tokio,
    /// `raw_epoll_server`: no runtime at all.
    Raw,
    /// `raw_epoll_server --fair-bytes 16384`: the same, yielding after 16 KiB per connection (our server's bound).
    RawFair,
    /// `raw_epoll_server --fair-bytes 262144`: yielding after 256 KiB, our server's former bound.
    RawFair256,
    /// `tokio_server --pooled`: tokio with our buffer policy (no buffer held while idle).
    TokioPooled,
    /// `ours_bare_server`: the same handler as `TokioPooled`, on our runtime.
    OursBare,
    /// `seed_oneshot`: one epoll thread, a work queue, EPOLLONESHOT re-arming.
    SeedOneshot,
    /// `seed_exclusive`: per-thread epolls sharing the listener with EPOLLEXCLUSIVE.
    SeedExclusive,
    /// `seed_acceptor`: an acceptor handing connections round-robin to per-thread epolls.
    SeedAcceptor,
}

impl Imp {
    /// Every implementation, in the order of the table's columns.
    pub const ALL: [Imp; 10] = [
        Imp::Ours,
        Imp::OursBare,
        Imp::Tokio,
        Imp::TokioPooled,
        Imp::Raw,
        Imp::RawFair,
        Imp::RawFair256,
        Imp::SeedOneshot,
        Imp::SeedExclusive,
        Imp::SeedAcceptor,
    ];

    fn name(self) -> &'static str {
        match self {
            Imp::Ours => "ours",
            Imp::Tokio => "tokio",
            Imp::Raw => "raw-epoll",
            Imp::RawFair => "raw-fair16k",
            Imp::RawFair256 => "raw-fair256k",
            Imp::TokioPooled => "tokio-pooled",
            Imp::OursBare => "ours-bare",
            Imp::SeedOneshot => "seed-a-oneshot",
            Imp::SeedExclusive => "seed-b-exclusive",
            Imp::SeedAcceptor => "seed-c-acceptor",
        }
    }
}

/// One reported metric of a benchmark.
#[derive(Clone, Copy)]
pub struct MetricDef {
    /// Short name.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Whether a larger value is better.
    pub higher_is_better: bool,
}

const fn lower(name: &'static str, unit: &'static str) -> MetricDef {
    MetricDef {
        name,
        unit,
        higher_is_better: false,
    }
}
const fn higher(name: &'static str, unit: &'static str) -> MetricDef {
    MetricDef {
        name,
        unit,
        higher_is_better: true,
    }
}

/// Per implementation: one `Vec` of metric values per measured repetition, or the error.
type Samples = Result<Vec<Vec<f64>>, String>;

type RunFn<'a> = Box<dyn FnMut(Imp) -> Result<Vec<f64>, String> + 'a>;

struct Bench<'a> {
    group: &'static str,
    name: &'static str,
    params: String,
    metrics: Vec<MetricDef>,
    imps: Vec<Imp>,
    /// Measured repetitions and warm-up repetitions, if not the suite's.
    reps: Option<(usize, usize)>,
    run: RunFn<'a>,
}

struct Opts {
    quick: bool,
    only: Vec<String>,
    runs: usize,
    out: Option<PathBuf>,
    /// `--server-workers 1,2`: every multi-worker network benchmark runs once per count.
    server_workers: Vec<usize>,
    /// `--exec-workers N`: workers of the executor and timer benchmarks.
    exec_workers: usize,
    list: bool,
    /// `--drive ADDR`: only generate throughput load against a server started elsewhere.
    drive: Option<std::net::SocketAddr>,
    /// `--seconds S`: length of --drive, or of each network sample when given.
    seconds: Option<f64>,
}

const USAGE: &str = "usage: cargo run --release -p bench -- [options]

  --quick             short run (about a minute): 1 measured run, shorter samples, no build cost
  --only NAME[,NAME]  only benchmarks whose name or group contains NAME (repeatable)
                      groups: executor, timer, net, build
  --runs N            measured repetitions per benchmark (default 5, after 1 warm-up)
  --server-workers N[,N..]  worker threads of the servers; throughput and latency run once
                      per count (default 1,2 where there are 2 CPUs or more); the others use
                      the first
  --out DIR           where CSV/Markdown/SVG go (default: book/src/measurements)
  --exec-workers N    worker threads of the executor and timer benchmarks (default 4)
  --list              list the benchmarks and exit
  --drive ADDR        only drive the throughput load (verified) at a server you started,
                      e.g. to profile it: `perf record -g -p PID` meanwhile
  --seconds S         how long --drive runs (default 10), or, without --drive, each network
                      sample (default 2, 0.3 with --quick)
";

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        only: Vec::new(),
        runs: 5,
        out: None,
        server_workers: Vec::new(),
        exec_workers: 4,
        list: false,
        drive: None,
        seconds: None,
    };
    let mut runs_set = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--only" => o.only.extend(val()?.split(',').map(str::to_string)),
            "--runs" => {
                o.runs = val()?.parse().map_err(|e| format!("--runs: {e}"))?;
                runs_set = true;
            }
            "--out" => o.out = Some(PathBuf::from(val()?)),
            "--server-workers" => {
                o.server_workers = val()?
                    .split(',')
                    .map(|w| match w.trim().parse() {
                        Ok(0) | Err(_) => Err(format!("--server-workers: bad count {w:?}")),
                        Ok(n) => Ok(n),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--exec-workers" => {
                o.exec_workers = match val()?.parse() {
                    Ok(0) | Err(_) => return Err("--exec-workers needs a positive number".into()),
                    Ok(n) => n,
                }
            }
            "--list" => o.list = true,
            "--drive" => o.drive = Some(val()?.parse().map_err(|e| format!("--drive: {e}"))?),
            "--seconds" => {
                let s: f64 = val()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !(s > 0.0 && s.is_finite()) {
                    return Err("--seconds must be positive".into());
                }
                o.seconds = Some(s);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.quick && !runs_set {
        o.runs = 1;
    }
    if o.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(o)
}

fn exec_bench<'a>(name: &'static str, params: &str, f: impl Fn(Imp) -> f64 + 'a) -> Bench<'a> {
    Bench {
        group: "executor",
        name,
        params: params.to_string(),
        metrics: vec![lower("time", "µs/iter")],
        imps: vec![Imp::Ours, Imp::Tokio],
        reps: None,
        run: Box::new(move |imp| Ok(vec![f(imp)])),
    }
}

/// Dispatches a generic benchmark function to the runtime of `imp`.
macro_rules! on {
    ($imp:expr, $f:ident, $arg:expr) => {
        match $imp {
            Imp::Ours => $f::<ours::Ours>($arg),
            _ => $f::<rt::Tokio>($arg),
        }
    };
}

fn benches<'a>(o: &Opts, net: &'a Rc<RefCell<Option<net::Net>>>) -> Vec<Bench<'a>> {
    use exec::*;
    let q = o.quick;
    let n = |full: usize, quick: usize| if q { quick } else { full };
    let nw = num_workers();
    let w = format!("{nw} workers");
    let mut v = vec![
        {
            let it = n(50, 5);
            exec_bench(
                "spawn_many_local",
                &format!("{w}, {NUM_SPAWN} spawns"),
                move |i| on!(i, spawn_many_local, it),
            )
        },
        {
            let it = n(50, 5);
            exec_bench(
                "spawn_many_remote_idle",
                &format!("{w}, {NUM_SPAWN} spawns"),
                move |i| on!(i, spawn_many_remote_idle, it),
            )
        },
        {
            let it = n(20, 2);
            exec_bench(
                "spawn_many_remote_busy1",
                &format!("{w}, {NUM_SPAWN} spawns, {} busy", 2 * nw),
                move |i| on!(i, spawn_many_remote_busy1, it),
            )
        },
        {
            let it = n(50, 5);
            exec_bench(
                "spawn_many_remote_busy2",
                &format!("{w}, 1000 spawns, {nw} busy chains"),
                move |i| on!(i, spawn_many_remote_busy2, it),
            )
        },
        {
            let it = n(100, 10);
            exec_bench("ping_pong", &format!("{w}, 1000 round trips"), move |i| {
                on!(i, ping_pong, it)
            })
        },
        {
            let it = n(10, 2);
            exec_bench(
                "yield_many",
                &format!("{w}, 200 tasks × 1000 yields"),
                move |i| on!(i, yield_many, it),
            )
        },
        {
            let it = n(300, 30);
            exec_bench("chained_spawn", &format!("{w}, chain of 1000"), move |i| {
                on!(i, chained_spawn, it)
            })
        },
        {
            let it = n(50, 5);
            exec_bench(
                "ct_spawn_many_local",
                &format!("current-thread, {NUM_SPAWN} spawns"),
                move |i| on!(i, ct_spawn_many_local, it),
            )
        },
        {
            let it = n(50, 5);
            exec_bench(
                "ct_spawn_many_remote",
                &format!("current-thread, {NUM_SPAWN} spawns"),
                move |i| on!(i, ct_spawn_many_remote, it),
            )
        },
        Bench {
            group: "timer",
            name: "sleep_many",
            params: format!("{w}, 100000 sleeps of 1–100 ms"),
            metrics: vec![
                lower("total", "ms"),
                lower("lateness p50", "ms"),
                lower("lateness p99", "ms"),
            ],
            imps: vec![Imp::Ours, Imp::Tokio],
            reps: None,
            run: Box::new(|imp| Ok(on!(imp, sleep_many_100k, ()).to_vec())),
        },
        {
            let rounds = n(9, 3);
            Bench {
                group: "timer",
                name: "timer_behind_long_poll",
                params: format!("2 workers, one in a 400 ms poll, 10 ms sleep, {rounds} rounds"),
                metrics: vec![lower("lateness p50", "ms"), lower("lateness max", "ms")],
                imps: vec![Imp::Ours, Imp::Tokio],
                reps: None,
                run: Box::new(move |imp| Ok(on!(imp, timer_behind_long_poll, rounds).to_vec())),
            }
        },
        {
            let iters = n(400_000, 100_000);
            Bench {
                group: "timer",
                name: "timeout_ready",
                params: format!("{w}, {iters} timeouts"),
                metrics: vec![lower("time", "ns/op")],
                imps: vec![Imp::Ours, Imp::Tokio],
                reps: None,
                run: Box::new(move |imp| Ok(vec![on!(imp, timeout_ready_n, iters)])),
            }
        },
    ];
    let (dur, idle, workers, first) = net
        .borrow()
        .as_ref()
        .map(|n| {
            let c = &n.cfg;
            (c.duration, c.idle_conns, c.workers.clone(), c.workers[0])
        })
        .unwrap_or_default();
    type NetFn = fn(&mut net::Net, Imp, usize) -> Result<Vec<f64>, String>;
    let netrun = |f: NetFn, w: usize| -> RunFn<'a> {
        Box::new(move |imp| match net.borrow_mut().as_mut() {
            Some(n) => f(n, imp, w),
            None => Err("network benchmarks not set up".into()),
        })
    };
    let three = vec![Imp::Ours, Imp::Tokio, Imp::Raw];
    let ws = |w: usize| format!("{w} worker{}", if w == 1 { "" } else { "s" });
    for &w in &workers {
        v.push(Bench {
            group: "net",
            name: "throughput",
            params: format!(
                "{}, {} conns × {} pipelined lines, {:.1} s",
                ws(w),
                net::TP_CONNS,
                net::TP_DEPTH,
                dur.as_secs_f64()
            ),
            metrics: vec![
                higher("lines", "/s"),
                lower("server CPU", "s/M replies"),
                lower("batch round trip p99", "µs"),
            ],
            imps: vec![
                Imp::Ours,
                Imp::Tokio,
                Imp::Raw,
                Imp::SeedOneshot,
                Imp::SeedExclusive,
                Imp::SeedAcceptor,
            ],
            reps: None,
            run: netrun(net::Net::throughput, w),
        });
    }
    for &w in &workers {
        v.push(Bench {
            group: "net",
            name: "latency",
            params: format!(
                "{}, {} conns × 1 line in flight, {:.1} s",
                ws(w),
                net::LAT_CONNS,
                dur.as_secs_f64()
            ),
            metrics: vec![lower("p50", "µs"), lower("p99", "µs")],
            imps: three.clone(),
            reps: None,
            run: netrun(net::Net::latency, w),
        });
    }
    for (name, what, f) in [
        (
            "loaded_window",
            "each sends 16 lines of 1–4 KiB and waits for the replies",
            net::Net::loaded_window as NetFn,
        ),
        (
            "loaded_stream",
            "each streams lines of 1–4 KiB without waiting (unbounded pipelining)",
            net::Net::loaded_stream as NetFn,
        ),
    ] {
        v.push(Bench {
            group: "fairness",
            name,
            params: format!(
                "{}, 1 light client (1 line in flight) + {} heavy clients: {what}; {:.1} s",
                ws(first),
                net::HEAVY_CONNS,
                dur.as_secs_f64()
            ),
            metrics: vec![
                lower("light p50", "µs"),
                lower("light p99", "µs"),
                higher("heavy replies", "MB/s"),
            ],
            imps: vec![
                Imp::Ours,
                Imp::Tokio,
                Imp::Raw,
                Imp::RawFair256,
                Imp::RawFair,
            ],
            reps: None,
            run: netrun(f, first),
        });
    }
    v.push(Bench {
        group: "net",
        name: "churn",
        params: format!(
            "{}, {} at once: connect, 1 line, close; {:.1} s",
            ws(first),
            net::CHURN_CONCURRENCY,
            dur.as_secs_f64()
        ),
        metrics: vec![higher("connections", "/s")],
        imps: three,
        reps: None,
        run: netrun(net::Net::churn, first),
    });
    v.push(Bench {
        group: "memory",
        name: "idle_memory",
        params: format!(
            "{}, {idle} idle conns (1 line each), fresh server",
            ws(first)
        ),
        metrics: vec![lower("server RSS", "B/conn")],
        imps: vec![
            Imp::Ours,
            Imp::OursBare,
            Imp::Tokio,
            Imp::TokioPooled,
            Imp::Raw,
        ],
        // Every sample starts a fresh server, so there is nothing to warm up.
        reps: Some((o.runs, 0)),
        run: netrun(net::Net::memory, first),
    });
    let features = |f: &[&str]| f.join(",");
    for (name, probe, what) in [
        ("build_cost", build_cost::Probe::Lib, "the runtime alone"),
        (
            "build_echo",
            build_cost::Probe::Echo,
            "a TCP echo with a timeout",
        ),
    ] {
        v.push(Bench {
            group: "build",
            name,
            params: format!(
                "clean `cargo build --release` of {what}, 3 runs; ours: {}, tokio: {}{}",
                features(build_cost::OUR_FEATURES),
                features(build_cost::TOKIO_FEATURES),
                if matches!(probe, build_cost::Probe::Echo) {
                    ",io-util"
                } else {
                    ""
                }
            ),
            metrics: vec![
                lower("build time", "s"),
                lower("build CPU time", "s"),
                lower("dependencies", "crates"),
            ],
            imps: vec![Imp::Ours, Imp::Tokio],
            // Three builds each (the median is the figure), alternating sides; nothing to warm.
            reps: Some((3, 0)),
            run: Box::new(move |imp| build_cost::measure(imp == Imp::Ours, probe)),
        });
    }
    v
}

fn sleep_many_100k<R: rt::Rt>((): ()) -> [f64; 3] {
    timers::sleep_many::<R>(100_000)
}

fn timeout_ready_n<R: rt::Rt>(iters: usize) -> f64 {
    timers::timeout_ready::<R>(iters)
}

/// What is being measured now, since when, and how long it may take.
static WATCH: std::sync::Mutex<Option<(String, Instant, Duration)>> = std::sync::Mutex::new(None);

fn watch(what: Option<(String, Duration)>) {
    if let Ok(mut w) = WATCH.lock() {
        *w = what.map(|(s, limit)| (s, Instant::now(), limit));
    }
}

/// A hung sample (a deadlock in a runtime, a server that stopped answering in a way the
/// client's own timeouts miss) must not hang the suite: report it, kill the servers, exit 1.
fn start_watchdog() {
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_secs(1));
        let hung = WATCH
            .lock()
            .ok()
            .and_then(|w| w.clone())
            .filter(|(_, since, limit)| since.elapsed() > *limit);
        if let Some((what, _, limit)) = hung {
            eprintln!(
                "\nbench: FAILED: {what} did not finish within {} s; giving up",
                limit.as_secs()
            );
            net::kill_all_servers();
            std::process::exit(1);
        }
    });
}

fn selected(b: &Bench<'_>, o: &Opts) -> bool {
    if o.only.is_empty() {
        // `--quick` skips the build cost (it takes minutes); ask for it with --only build.
        return !(o.quick && b.group == "build");
    }
    o.only
        .iter()
        .any(|s| b.name.contains(s.as_str()) || b.group == s)
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: built without --release; the numbers mean little");
    }
    if let Some(addr) = o.drive {
        std::process::exit(drive(addr, o.seconds.unwrap_or(10.0)));
    }
    exec::EXEC_WORKERS.store(o.exec_workers, std::sync::atomic::Ordering::Relaxed);
    exec::SAMPLE_BUDGET_MS.store(
        if o.quick { 250 } else { 1000 },
        std::sync::atomic::Ordering::Relaxed,
    );
    let net_cell: Rc<RefCell<Option<net::Net>>> = Rc::new(RefCell::new(None));
    let duration = o.seconds.map_or_else(
        || Duration::from_millis(if o.quick { 300 } else { 2000 }),
        Duration::from_secs_f64,
    );
    // 10,000 idle connections need that many descriptors here and in the server; where the
    // hard limit is lower, measure with fewer (the parameter column shows how many).
    let idle_conns = match bench::sys::raise_nofile() {
        Ok(n) if n < 10_500 => {
            let fewer = (n.saturating_sub(500) as usize).max(100);
            eprintln!(
                "bench: RLIMIT_NOFILE hard limit is {n}: idle_memory uses {fewer} connections"
            );
            fewer
        }
        Ok(_) => 10_000,
        Err(e) => {
            eprintln!("bench: cannot raise RLIMIT_NOFILE ({e}): idle_memory uses 500 connections");
            500
        }
    };
    let cfg = net::NetConfig::new(&o.server_workers, duration, idle_conns);
    *net_cell.borrow_mut() = Some(net::Net::new(cfg));
    let mut all = benches(&o, &net_cell);
    if o.list {
        for b in &all {
            println!("{:<10} {:<24} {}", b.group, b.name, b.params);
        }
        return;
    }
    all.retain(|b| selected(b, &o));
    if all.is_empty() {
        eprintln!("bench: --only matched no benchmark (try --list)");
        std::process::exit(2);
    }
    let mut failures: Vec<String> = Vec::new();
    if all.iter().any(|b| net::GROUPS.contains(&b.group)) {
        if let Err(e) = net::ensure_binaries(true) {
            eprintln!("bench: {e}");
            failures.push(format!("server binaries: {e}"));
        }
    }
    start_watchdog();
    let load_start = bench::sys::load_average();
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    for b in all.iter_mut() {
        let (runs, warmup) = b.reps.unwrap_or((o.runs, 1));
        eprint!("bench: {:<24}", b.name);
        let t = Instant::now();
        let mut samples: Vec<(Imp, Samples)> =
            b.imps.iter().map(|&i| (i, Ok(Vec::new()))).collect();
        for rep in 0..(warmup + runs) {
            // Alternate the order every repetition so no implementation always goes first.
            let k = samples.len();
            for j in 0..k {
                let idx = (j + rep) % k;
                let imp = samples[idx].0;
                if samples[idx].1.is_err() {
                    continue;
                }
                let limit = Duration::from_secs(if b.group == "build" { 1200 } else { 120 });
                watch(Some((format!("{} on {}", b.name, imp.name()), limit)));
                // A panic (ours or tokio) fails that implementation's column, not the suite.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (b.run)(imp)))
                    .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&*p))));
                watch(None);
                let slot = &mut samples[idx].1;
                match r {
                    Ok(v) if v.len() == b.metrics.len() && v.iter().all(|x| x.is_finite()) => {
                        if rep >= warmup {
                            if let Ok(s) = slot {
                                s.push(v);
                            }
                        }
                    }
                    Ok(v) => *slot = Err(format!("bad sample {v:?}")),
                    Err(e) => *slot = Err(e),
                }
            }
            eprint!(".");
        }
        eprintln!(" {:.1} s", t.elapsed().as_secs_f64());
        for (imp, s) in &samples {
            if let Err(e) = s {
                eprintln!("bench: {} on {}: FAILED: {e}", b.name, imp.name());
                failures.push(format!("{} ({}): {e}", b.name, imp.name()));
            }
        }
        for (m, metric) in b.metrics.iter().enumerate() {
            rows.push(Row {
                group: b.group,
                bench: b.name,
                params: b.params.clone(),
                metric: *metric,
                results: samples
                    .iter()
                    .map(|(imp, s)| {
                        (
                            *imp,
                            s.as_ref()
                                .map(|v| v.iter().map(|x| x[m]).collect())
                                .map_err(Clone::clone),
                        )
                    })
                    .collect(),
            });
        }
    }
    if let Some(n) = net_cell.borrow_mut().as_mut() {
        n.stop_all();
    }
    let machine = bench::sys::machine_description();
    let date = today();
    let mode = if o.quick { "--quick" } else { "full" };
    let load = |l: Option<f64>| l.map_or_else(|| "?".to_string(), |l| format!("{l:.1}"));
    let mut header = format!(
        "{date} · {machine} · {} · tokio {} · {mode} run, {} measured repetitions · \
         executor benchmarks: {} workers · load average {} → {}",
        env!("BENCH_RUSTC_VERSION"),
        env!("BENCH_TOKIO_VERSION"),
        o.runs,
        exec::num_workers(),
        load(load_start),
        load(bench::sys::load_average())
    );
    if rows.iter().any(|r| net::GROUPS.contains(&r.group)) {
        if let Some(n) = net_cell.borrow().as_ref() {
            header.push_str(&format!(" · servers: {}", n.cfg.describe()));
        }
    }
    println!("\n{header}\n");
    print!("{}", report::text_table(&rows));
    println!("\n{}", report::LEGEND);
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    if let Err(e) = write_files(&o, &rows, &header) {
        eprintln!("bench: cannot write results: {e}");
        failures.push(e);
    }
    if !failures.is_empty() {
        eprintln!(
            "\nbench: {} FAILURE(S) — this run is not valid:",
            failures.len()
        );
        for f in &failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}

/// `--drive`: the throughput workload against an external server, pinned like the suite.
fn drive(addr: std::net::SocketAddr, seconds: f64) -> i32 {
    let cfg = net::NetConfig::new(&[1], Duration::from_secs_f64(seconds), 0);
    let pin = cfg.pinning(1);
    let batches = bench::client::make_batches(256, net::TP_DEPTH, 1);
    let opts = bench::client::PipelineOpts {
        addr,
        conns: net::TP_CONNS,
        batches: &batches,
        duration: cfg.duration,
        record_rtt: false,
        threads: pin.client_threads(),
        cpus: &pin.client_cpus,
        unbounded: false,
    };
    eprintln!(
        "bench: driving {addr} for {seconds} s: {} conns × {} lines, client on CPUs {:?}",
        net::TP_CONNS,
        net::TP_DEPTH,
        pin.client_cpus
    );
    match bench::client::pipelined(&opts) {
        Ok(r) => {
            let secs = r.elapsed.as_secs_f64();
            println!(
                "{} replies verified in {secs:.2} s: {:.0} lines/s, {:.1} MB/s",
                r.replies,
                r.replies as f64 / secs,
                r.bytes as f64 / secs / 1e6
            );
            0
        }
        Err(e) => {
            eprintln!("bench: FAILED: {e}");
            1
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

fn write_files(o: &Opts, rows: &[Row], header: &str) -> Result<(), String> {
    let dir = o.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../book/src/measurements")
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir.canonicalize().unwrap_or(dir);
    // A full run owns `results.*`; quick and partial runs write beside it, never over it.
    let stem = if o.quick {
        "quick"
    } else if !o.only.is_empty() {
        "partial"
    } else {
        "results"
    };
    let write = |ext: &str, s: &str| {
        let p = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&p, s).map_err(|e| format!("{}: {e}", p.display()))
    };
    write("csv", &report::csv(rows))?;
    write(
        "md",
        &report::markdown(rows, &format!("Measured {header}.")),
    )?;
    let header_line = format!("Measured {header}.");
    for (group, md) in report::markdown_groups(rows, &header_line) {
        write(&format!("{group}.md"), &md)?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    report::svg(rows, &svg, header)?;
    eprintln!("bench: wrote {}/{stem}.{{csv,md,svg}}", dir.display());
    Ok(())
}

/// Today's date (UTC) as YYYY-MM-DD, without a date crate.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
