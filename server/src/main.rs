//! `server`: the reverse server's command line, start-up and shutdown.
//!
//! # Start-up order
//!
//! 1. Parse arguments (clap: a usage error exits 2 with one message, `--help`/`--version`
//!    exit 0).
//! 2. Raise `RLIMIT_NOFILE` (warn if even the hard limit is below `--max-connections`).
//! 3. Bind, still without a runtime, so "address in use" exits 1 with one line.
//! 4. Build the runtime with `--workers` threads, start the accept loop, and subscribe to
//!    SIGINT, SIGTERM and SIGHUP *before* printing the startup line: whoever waits for that
//!    line (a person, a test) may signal the process right after reading it.
//!
//! # Shutdown
//!
//! The first SIGINT, SIGTERM or SIGHUP (the terminal went away) cancels the shared
//! [`CancellationToken`](runtime::cancel::CancellationToken): the accept loop stops, and every
//! connection answers what it has received and closes without losing a reply (see
//! `server/PROTOCOL.md`). The main task waits until no connection is open or
//! `--shutdown-timeout` passes, prints the summary and exits 0. A second signal of any of the
//! three during that wait prints the summary and exits at once with 128 + its number.
//!
//! Other signals keep their default action: SIGPIPE is ignored (Rust's start-up code does
//! that; a write to a closed socket is an error of that connection), SIGUSR1, SIGUSR2 and
//! SIGALRM end the process at once without a summary, SIGQUIT ends it with a core dump.
//!
//! The process leaves with `std::process::exit` rather than by dropping the runtime: the
//! connections still open after the timeout are meant to be cut off, not waited for.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use runtime::combinator::race;
use runtime::signal::{signal, Signal, SignalKind};

use server::framing::{Framing, Limits};
use server::{Config, Shared};

/// A TCP server that answers every line with its reversal.
///
/// Lines end in LF or CR LF; each gets back its content reversed (by character if it is
/// UTF-8, else by byte) with the same terminator. A line `exit` closes the connection.
/// `--framing` selects the binary alternatives. SIGINT, SIGTERM or SIGHUP stops the server
/// gracefully; a second one stops it at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// TCP port to listen on (0 picks a free one)
    #[arg(default_value_t = 9090)]
    port: u16,

    /// Address to listen on, e.g. 0.0.0.0 or :: for all interfaces
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = parse_bind)]
    bind: IpAddr,

    /// How requests are delimited
    #[arg(long, value_enum, default_value_t = Framing::Line)]
    framing: Framing,

    /// Worker threads [default: number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,

    /// Longest line content accepted, in bytes (line framing)
    #[arg(long, value_name = "BYTES", default_value_t = server::framing::DEFAULT_MAX_LINE)]
    max_line: usize,

    /// Longest frame body accepted, in bytes (length framing)
    #[arg(long, value_name = "BYTES", default_value_t = server::framing::DEFAULT_MAX_FRAME as u32)]
    max_frame: u32,

    /// Connections served at once; more are refused
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_max_connections)]
    max_connections: usize,

    /// Close connections idle this many seconds (fractions allowed; 0 = never)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_secs,
          allow_negative_numbers = true)]
    idle_timeout: Duration,

    /// After SIGINT/SIGTERM/SIGHUP, exit at the latest after this many seconds
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs,
          allow_negative_numbers = true)]
    shutdown_timeout: Duration,

    /// After closing a connection, read (and discard) what the client still sends for up to
    /// this many seconds, so the close cannot destroy replies in flight
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs,
          allow_negative_numbers = true)]
    linger: Duration,

    /// Log more (-v: every connection, -vv: debugging details)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// How long exit waits for the log to reach stderr.
const EXIT_FLUSH: Duration = Duration::from_millis(500);

fn parse_bind(s: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ip);
    }
    // Also accept a host name such as `localhost`, resolved once at start-up.
    match (s, 0).to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| format!("`{s}` resolves to no address")),
        Err(_) => Err(format!("`{s}` is not an IP address or known host name")),
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if secs < 0.0 {
        return Err(format!("`{s}`: a number of seconds must not be negative"));
    }
    // A bound keeps `Duration::from_secs_f64` (and deadline arithmetic) far from overflow.
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{s}` is out of range (0 to 1e9 seconds)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::logger::init(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            log::error!("error: {msg}");
            server::logger::flush(EXIT_FLUSH);
            ExitCode::from(1)
        }
    }
}

/// Starts the server; returns only on start-up failure (the normal way out is
/// `process::exit` after a signal).
fn run(cli: Cli) -> Result<(), String> {
    match server::rlimit::raise_nofile() {
        Ok(lim) => {
            log::trace!("open files limit: {} -> {}", lim.before, lim.after);
            // Listener, epoll and a few others need descriptors too.
            if lim.after < cli.max_connections as u64 + 32 {
                log::warn!(
                    "warning: open files limit is {} (hard limit {}), below --max-connections {}",
                    lim.after,
                    lim.hard,
                    cli.max_connections
                );
            }
        }
        Err(e) => log::warn!("warning: cannot raise the open files limit: {e}"),
    }

    let addr = SocketAddr::new(cli.bind, cli.port);
    let listener = server::server::bind(addr).map_err(|e| bind_error(addr, &e))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;

    let workers = match cli.workers {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let rt = runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;

    let config = Config {
        framing: cli.framing,
        limits: Limits {
            max_line: cli.max_line,
            max_frame: cli.max_frame as usize,
        },
        max_connections: cli.max_connections,
        idle_timeout: (!cli.idle_timeout.is_zero()).then_some(cli.idle_timeout),
        linger: cli.linger,
    };
    let shared = Arc::new(Shared::new(config));
    let shutdown_timeout = cli.shutdown_timeout;

    let code = rt.block_on(async move {
        let listener = runtime::net::TcpListener::from_std(listener)
            .map_err(|e| format!("cannot register the listener: {e}"))?;

        // Subscribed before anyone is told we run: a signal from then on is never missed.
        let mut signals = Signals::new().map_err(|e| format!("cannot handle signals: {e}"))?;

        // The accept loop runs here, on `block_on`'s thread, while the connections it spawns
        // run on the workers (tokio's servers are shaped the same way). Measured with the
        // suite's `churn` row (16 clients connecting, sending a line and closing, one worker):
        // with the accept loop spawned onto the worker instead, that one thread accepted and
        // served and made 23.7k connections/s against tokio's 50.2k; here 37.8k against
        // 37.7k in the same run. Throughput and latency rows did not move.
        let accept_loop = server::server::serve(listener, Arc::clone(&shared));
        if log::log_enabled!(log::Level::Debug) {
            runtime::spawn(report_metrics(Duration::from_secs(5)));
        }
        log::info!(
            "listening on {local}, {workers} worker{}, {} framing",
            if workers == 1 { "" } else { "s" },
            shared.config.framing
        );

        // The accept loop only ends once shutdown is under way, so the first signal always
        // wins this race; dropping the loop then closes the listener (no new connections).
        let first = race(
            async {
                accept_loop.await;
                std::future::pending::<i32>().await
            },
            signals.next(),
        )
        .await;
        Ok::<i32, String>(shut_down(&shared, &mut signals, first, shutdown_timeout).await)
    })?;
    // The summary should reach stderr when stderr works; exit must not hang when it does not.
    server::logger::flush(EXIT_FLUSH);
    std::process::exit(code)
}

/// Drains connections after the first signal; returns the exit code.
async fn shut_down(shared: &Shared, signals: &mut Signals, first: i32, timeout: Duration) -> i32 {
    log::info!(
        "{} received: stopping (up to {timeout:?}; signal again to exit now)",
        signal_name(first)
    );
    shared.shutdown.cancel();

    let drained = async {
        while shared.stats.open.load(Relaxed) > 0 {
            // Polling is fine here: it runs only during shutdown, for a few seconds at most.
            runtime::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let code = race(
        async {
            let second = signals.next().await;
            log::info!("second {}: exiting now", signal_name(second));
            128 + second
        },
        async {
            if runtime::time::timeout(timeout, drained).await.is_err() {
                log::info!(
                    "shutdown timeout: closing {} connections",
                    shared.stats.open.load(Relaxed)
                );
            }
            0
        },
    )
    .await;
    // Make room for the summary in the log queue (bounded: stderr may be blocked for good).
    server::logger::flush(EXIT_FLUSH);
    log::info!(
        "{}; {}{}",
        shared.stats.snapshot().summary(shared.config.framing),
        server::stats::runtime_line(&runtime::Handle::current().metrics()),
        match server::logger::dropped() {
            0 => String::new(),
            n => format!("; {n} log lines lost (stderr full or gone)"),
        }
    );
    code
}

/// With `-v`: the runtime's counters every few seconds, to watch a loaded server.
async fn report_metrics(every: Duration) {
    let mut ticks = runtime::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        log::debug!(
            "{}",
            server::stats::runtime_line(&runtime::Handle::current().metrics())
        );
    }
}

/// The signals that stop the server, each counted from subscription on.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next of them; returns its number.
    async fn next(&mut self) -> i32 {
        let Signals {
            interrupt,
            terminate,
            hangup,
        } = self;
        race(
            async {
                interrupt.recv().await;
                libc::SIGINT
            },
            race(
                async {
                    terminate.recv().await;
                    libc::SIGTERM
                },
                async {
                    hangup.recv().await;
                    libc::SIGHUP
                },
            ),
        )
        .await
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

fn bind_error(addr: SocketAddr, e: &io::Error) -> String {
    let hint = match e.kind() {
        ErrorKind::AddrInUse => " (is another server running on that port?)",
        ErrorKind::PermissionDenied if addr.port() < 1024 => {
            " (ports below 1024 need privileges; pick a port of 1024 or above)"
        }
        ErrorKind::AddrNotAvailable => " (that address is not one of this machine's)",
        _ => "",
    };
    format!("cannot listen on {addr}: {e}{hint}")
}
