//! Network benchmarks: server processes (ours, tokio, raw epoll) driven by the same load
//! generator ([`bench::client`]) over loopback, client and server pinned to different CPUs.

use crate::Imp;
use bench::client::{self, Batch, PipelineOpts, Until};
use bench::sys;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Process ids of the running servers, so that the watchdog can kill them before exiting.
static SERVER_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills every server still running (used when the suite must exit at once).
pub fn kill_all_servers() {
    let pids = SERVER_PIDS.lock().map(|p| p.clone()).unwrap_or_default();
    for pid in pids {
        // SAFETY: kill(2) on a child we started and have not reaped yet.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

/// Benchmark groups that need the server processes.
pub const GROUPS: [&str; 3] = ["net", "fairness", "memory"];

/// How the network benchmarks are set up.
pub struct NetConfig {
    /// Worker thread counts of the servers (throughput and latency run once per count; the
    /// other benchmarks use the first).
    pub workers: Vec<usize>,
    /// CPUs this process may use.
    pub cpus: Vec<usize>,
    /// Measured time per throughput / latency / churn sample.
    pub duration: Duration,
    /// Connections held open by the memory benchmark.
    pub idle_conns: usize,
}

/// Where the client and a server with a given number of workers run.
pub struct Pinning {
    /// CPUs for the client threads (empty: not pinned).
    pub client_cpus: Vec<usize>,
    /// CPUs for the server process (empty: not pinned).
    pub server_cpus: Vec<usize>,
}

impl Pinning {
    /// Client threads: one per client CPU.
    pub fn client_threads(&self) -> usize {
        self.client_cpus.len().max(1)
    }
}

impl NetConfig {
    /// `workers` empty: 1 and 2 workers where there are at least 2 CPUs, else 1.
    pub fn new(workers: &[usize], duration: Duration, idle_conns: usize) -> NetConfig {
        let cpus = sys::allowed_cpus();
        let workers = if workers.is_empty() {
            if cpus.len() >= 2 {
                vec![1, 2]
            } else {
                vec![1]
            }
        } else {
            workers.to_vec()
        };
        NetConfig {
            workers,
            cpus,
            duration,
            idle_conns,
        }
    }

    /// A server with `workers` threads gets the last `workers` CPUs and the client the
    /// others, so they never compete for a core; where that leaves the client no CPU, both
    /// share all of them (and the table says so).
    pub fn pinning(&self, workers: usize) -> Pinning {
        let n = self.cpus.len();
        if n < 2 {
            return Pinning {
                client_cpus: Vec::new(),
                server_cpus: Vec::new(),
            };
        }
        if workers < n {
            Pinning {
                client_cpus: self.cpus[..n - workers].to_vec(),
                server_cpus: self.cpus[n - workers..].to_vec(),
            }
        } else {
            Pinning {
                client_cpus: self.cpus.clone(),
                server_cpus: self.cpus.clone(),
            }
        }
    }

    /// A short description of the pinning of every worker count, for the results header.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .workers
            .iter()
            .map(|&w| {
                let p = self.pinning(w);
                if p.server_cpus.is_empty() {
                    format!("{w} worker(s) unpinned")
                } else if p.server_cpus == p.client_cpus {
                    format!(
                        "{w} worker(s): server and client share CPUs {}",
                        cpu_list(&p.server_cpus)
                    )
                } else {
                    format!(
                        "{w} worker(s): server on CPU {}, client on {}",
                        cpu_list(&p.server_cpus),
                        cpu_list(&p.client_cpus)
                    )
                }
            })
            .collect();
        parts.join("; ")
    }
}

/// `[0, 1, 2, 5]` as `0-2,5`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The target directory's profile folder holding our binaries (`target/release`).
fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "no parent dir of current_exe".into())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Newest modification time of the files under `dirs`.
fn newest_source(dirs: &[PathBuf]) -> Option<SystemTime> {
    fn walk(p: &Path, best: &mut Option<SystemTime>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, best);
                } else if let Some(t) = mtime(&path) {
                    *best = Some(best.map_or(t, |b| b.max(t)));
                }
            }
        } else if let Some(t) = mtime(p) {
            *best = Some(best.map_or(t, |b| b.max(t)));
        }
    }
    let mut best = None;
    for d in dirs {
        walk(d, &mut best);
    }
    best
}

fn cargo_build(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let dir = bin_dir()?;
    let mut cmd = Command::new(&cargo);
    cmd.arg("build").args(args).current_dir(workspace_root());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // Build into the target directory this binary runs from.
    if let Some(target) = dir.parent() {
        cmd.arg("--target-dir").arg(target);
    }
    let shown: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!("bench: running {cargo} {}", shown.join(" "));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo build {}` failed ({status})",
            args.join(" ")
        ));
    }
    Ok(())
}

/// The comparison servers of this crate (`src/bin`).
const BENCH_SERVERS: [&str; 6] = [
    "ours_bare_server",
    "raw_epoll_server",
    "tokio_server",
    "seed_oneshot",
    "seed_exclusive",
    "seed_acceptor",
];

/// Makes sure the server binaries exist next to this one, building them if missing
/// (or older than their sources), and says so.
pub fn ensure_binaries(need_ours: bool) -> Result<(), String> {
    let dir = bin_dir()?;
    let root = workspace_root();
    let bench_src = newest_source(&[root.join("bench/src"), root.join("bench/Cargo.toml")]);
    let stale_ours = BENCH_SERVERS
        .iter()
        .any(|b| match (mtime(&dir.join(b)), bench_src) {
            (None, _) => true,
            (Some(t), Some(src)) => t < src,
            _ => false,
        });
    if stale_ours {
        eprintln!("bench: the bench crate's servers are missing or older than their sources: building them");
        cargo_build(&["-p", "bench", "--bins"])?;
    }
    if need_ours {
        let server = dir.join("server");
        let src = newest_source(&[
            root.join("server/src"),
            root.join("server/Cargo.toml"),
            root.join("runtime/src"),
            root.join("runtime/Cargo.toml"),
        ]);
        let why = match (mtime(&server), src) {
            (None, _) => Some("missing"),
            (Some(b), Some(s)) if b < s => Some("older than its sources"),
            _ => None,
        };
        if let Some(why) = why {
            eprintln!(
                "bench: our server binary {} is {why}: building it",
                server.display()
            );
            cargo_build(&["-p", "server"])?;
        }
        if !server.exists() {
            return Err(format!(
                "{} still missing after the build",
                server.display()
            ));
        }
    }
    Ok(())
}

/// A server process under test; killed when dropped.
pub struct ServerProc {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl ServerProc {
    /// Starts the server of `imp` on a free loopback port, pinned to `cfg.server_cpus`, and
    /// waits until it answers a correctness probe.
    pub fn start(imp: Imp, cfg: &NetConfig, nworkers: usize) -> Result<ServerProc, String> {
        let dir = bin_dir()?;
        let port = free_port()?;
        let (bin, extra): (&str, &[&str]) = match imp {
            Imp::Ours => ("server", &["--max-connections", "100000"]),
            Imp::Tokio => ("tokio_server", &[]),
            Imp::TokioPooled => ("tokio_server", &["--pooled"]),
            Imp::OursBare => ("ours_bare_server", &[]),
            Imp::Raw => ("raw_epoll_server", &[]),
            Imp::RawFair => ("raw_epoll_server", &["--fair-bytes", "16384"]),
            Imp::RawFair256 => ("raw_epoll_server", &["--fair-bytes", "262144"]),
            Imp::SeedOneshot => ("seed_oneshot", &[]),
            Imp::SeedExclusive => ("seed_exclusive", &[]),
            Imp::SeedAcceptor => ("seed_acceptor", &[]),
        };
        let workers = nworkers.to_string();
        let log =
            std::env::temp_dir().join(format!("bench-{}-{bin}-{port}.log", std::process::id()));
        let logf = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(dir.join(bin));
        cmd.arg(port.to_string())
            .args(["--workers", &workers])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf);
        let cpus = cfg.pinning(nworkers).server_cpus;
        if !cpus.is_empty() {
            use std::os::unix::process::CommandExt;
            // SAFETY: the closure runs in the forked child before exec; it only calls
            // sched_setaffinity (async-signal-safe) on a set built before the fork.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for &c in &cpus {
                // SAFETY: `set` is a valid cpu_set_t.
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            // SAFETY: see above; `set` is moved into the closure, nothing is allocated there.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_file(&log);
            format!("cannot start {}: {e}", dir.join(bin).display())
        })?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if let Ok(mut pids) = SERVER_PIDS.lock() {
            pids.push(child.id());
        }
        let mut srv = ServerProc { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = srv.child.try_wait() {
                return Err(format!(
                    "{bin} exited at start-up ({status}): {}",
                    srv.log_tail()
                ));
            }
            if client::wait_listening(addr, Duration::from_millis(50)) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{bin} not listening on {addr} after 10 s: {}",
                    srv.log_tail()
                ));
            }
        }
        client::probe(addr).map_err(|e| format!("{bin} failed the correctness probe: {e}"))?;
        Ok(srv)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the server wrote to stderr.
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        if tail.is_empty() {
            "(no output)".into()
        } else {
            format!("stderr: {tail}")
        }
    }

    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "server exited during the run ({status}): {}",
                self.log_tail()
            )),
            _ => Ok(()),
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let pid = self.child.id();
        if let Ok(mut pids) = SERVER_PIDS.lock() {
            pids.retain(|&p| p != pid);
        }
        // SIGTERM first (graceful), then SIGKILL if it lingers.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Long-lived servers shared by the throughput, latency, fairness and churn benchmarks.
pub struct Net {
    /// Setup.
    pub cfg: NetConfig,
    servers: HashMap<(Imp, usize), Result<ServerProc, String>>,
    batches: Vec<Batch>,
    single: Vec<Batch>,
    long: Vec<Batch>,
}

/// Connections of the throughput benchmark.
pub const TP_CONNS: usize = 64;
/// Lines per pipelined batch.
pub const TP_DEPTH: usize = 16;
/// Connections of the latency benchmark.
pub const LAT_CONNS: usize = 16;
/// Concurrent connects of the churn benchmark.
pub const CHURN_CONCURRENCY: usize = 16;
/// Heavy connections of the fairness (loaded-latency) benchmarks.
pub const HEAVY_CONNS: usize = 64;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize] as f64 / 1e3
}

impl Net {
    /// Prepares the workload; servers start on first use.
    pub fn new(cfg: NetConfig) -> Net {
        Net {
            cfg,
            servers: HashMap::new(),
            batches: client::make_batches(256, TP_DEPTH, 1),
            single: client::make_batches(1024, 1, 2),
            long: client::make_long_batches(64, 16, 1024, 4096, 3),
        }
    }

    fn server(&mut self, imp: Imp, workers: usize) -> Result<&mut ServerProc, String> {
        if !self.servers.contains_key(&(imp, workers)) {
            // One server process at a time: an idle one still holds memory and threads.
            self.servers.clear();
            let s = ServerProc::start(imp, &self.cfg, workers);
            self.servers.insert((imp, workers), s);
        }
        match self.servers.get_mut(&(imp, workers)) {
            Some(Ok(s)) => {
                s.check_alive()?;
                Ok(s)
            }
            Some(Err(e)) => Err(e.clone()),
            None => Err("server not started".into()),
        }
    }

    /// Stops all servers.
    pub fn stop_all(&mut self) {
        self.servers.clear();
    }

    /// [lines/s, server CPU seconds per million replies, p99 µs of a batch's round trip]
    pub fn throughput(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        let duration = self.cfg.duration;
        let pin = self.cfg.pinning(workers);
        let srv = self.server(imp, workers)?;
        let (addr, pid) = (srv.addr, srv.pid());
        let opts = PipelineOpts {
            addr,
            conns: TP_CONNS,
            batches: &self.batches,
            duration,
            record_rtt: true,
            threads: pin.client_threads(),
            cpus: &pin.client_cpus,
            unbounded: false,
        };
        let cpu0 = sys::cpu_seconds(pid).map_err(|e| e.to_string())?;
        let mut r = client::pipelined(&opts).map_err(|e| format!("throughput: {e}"))?;
        let cpu1 = sys::cpu_seconds(pid).map_err(|e| e.to_string())?;
        if r.rtts_ns.is_empty() {
            return Err("throughput: no batch completed".into());
        }
        r.rtts_ns.sort_unstable();
        let secs = r.elapsed.as_secs_f64();
        Ok(vec![
            r.replies as f64 / secs,
            (cpu1 - cpu0) / r.replies as f64 * 1e6,
            percentile(&r.rtts_ns, 0.99),
        ])
    }

    /// [p50 µs, p99 µs] of single-line round trips.
    pub fn latency(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        let duration = self.cfg.duration;
        let pin = self.cfg.pinning(workers);
        let addr = self.server(imp, workers)?.addr;
        let opts = PipelineOpts {
            addr,
            conns: LAT_CONNS,
            batches: &self.single,
            duration,
            record_rtt: true,
            threads: pin.client_threads(),
            cpus: &pin.client_cpus,
            unbounded: false,
        };
        let mut r = client::pipelined(&opts).map_err(|e| format!("latency: {e}"))?;
        if r.rtts_ns.is_empty() {
            return Err("latency: no round trip completed".into());
        }
        r.rtts_ns.sort_unstable();
        Ok(vec![
            percentile(&r.rtts_ns, 0.50),
            percentile(&r.rtts_ns, 0.99),
        ])
    }

    /// Loaded latency with a bounded window per heavy client.
    pub fn loaded_window(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        self.loaded(imp, workers, false)
    }

    /// Loaded latency with unbounded pipelining by the heavy clients.
    pub fn loaded_stream(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        self.loaded(imp, workers, true)
    }

    /// [light p50 µs, light p99 µs, heavy reply MB/s]: one light client doing single-line
    /// round trips while [`HEAVY_CONNS`] heavy clients send long lines to the same server.
    /// The light client starts once the heavy load runs and stops before it ends.
    fn loaded(&mut self, imp: Imp, workers: usize, unbounded: bool) -> Result<Vec<f64>, String> {
        let duration = self.cfg.duration;
        let pin = self.cfg.pinning(workers);
        let addr = self.server(imp, workers)?.addr;
        let ramp = Duration::from_millis(100);
        let heavy = PipelineOpts {
            addr,
            conns: HEAVY_CONNS,
            batches: &self.long,
            duration: duration + 2 * ramp,
            record_rtt: false,
            threads: pin.client_threads(),
            cpus: &pin.client_cpus,
            unbounded,
        };
        let light = PipelineOpts {
            addr,
            conns: 1,
            batches: &self.single,
            duration,
            record_rtt: true,
            threads: 1,
            cpus: &pin.client_cpus,
            unbounded: false,
        };
        let (h, l) = std::thread::scope(|s| {
            let h = s.spawn(|| client::pipelined(&heavy));
            // Not synchronisation: the light client's samples should all be under load.
            std::thread::sleep(ramp);
            let l = client::pipelined(&light);
            let h = h
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("client thread panicked")));
            (h, l)
        });
        let h = h.map_err(|e| format!("heavy clients: {e}"))?;
        let mut l = l.map_err(|e| format!("light client: {e}"))?;
        if l.rtts_ns.is_empty() {
            return Err("light client: no round trip completed".into());
        }
        l.rtts_ns.sort_unstable();
        Ok(vec![
            percentile(&l.rtts_ns, 0.50),
            percentile(&l.rtts_ns, 0.99),
            h.bytes as f64 / h.elapsed.as_secs_f64() / 1e6,
        ])
    }

    /// [connections/s]: connect, one line, verified reply, close.
    pub fn churn(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        let duration = self.cfg.duration;
        let cpus = self.cfg.pinning(workers).client_cpus;
        let addr = self.server(imp, workers)?.addr;
        let r = std::thread::scope(|s| {
            s.spawn(|| {
                client::one_line_conns(
                    addr,
                    CHURN_CONCURRENCY,
                    Until::Elapsed(duration),
                    false,
                    &cpus,
                )
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("client thread panicked")))
        })
        .map_err(|e| format!("churn: {e}"))?;
        Ok(vec![r.completed as f64 / r.elapsed.as_secs_f64()])
    }

    /// [bytes of server RSS per idle connection]: a fresh server, `idle_conns` connections
    /// each answered one line and then left idle.
    pub fn memory(&mut self, imp: Imp, workers: usize) -> Result<Vec<f64>, String> {
        self.servers.clear();
        let mut srv = ServerProc::start(imp, &self.cfg, workers)?;
        let n = self.cfg.idle_conns;
        let cpus = self.cfg.pinning(workers).client_cpus;
        let addr = srv.addr;
        // The probe in `start` has warmed the server up (threads running, first buffers).
        std::thread::sleep(Duration::from_millis(100));
        let before = sys::rss_bytes(srv.pid()).map_err(|e| e.to_string())?;
        let r = std::thread::scope(|s| {
            s.spawn(|| client::one_line_conns(addr, 256, Until::Count(n), true, &cpus))
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("client thread panicked")))
        })
        .map_err(|e| format!("memory: {e} ({})", srv.log_tail()))?;
        std::thread::sleep(Duration::from_millis(200));
        srv.check_alive()?;
        let after = sys::rss_bytes(srv.pid()).map_err(|e| e.to_string())?;
        if r.kept.len() != n {
            return Err(format!(
                "memory: only {} of {n} connections stayed open",
                r.kept.len()
            ));
        }
        drop(r);
        Ok(vec![(after as f64 - before as f64) / n as f64])
    }
}
