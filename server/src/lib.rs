//! The reverse server: a TCP service that answers each line (or frame) with its reversal,
//! built on the `runtime` crate. The protocol is specified in `server/PROTOCOL.md`.
//!
//! # Layout
//!
//! The crate is a library plus a thin binary (`src/main.rs`, command line and signals), so
//! the pieces can be tested on their own and reused by the benchmarks:
//!
//! - [`framing`]: the protocol as pure, synchronous decoders over byte buffers. No sockets,
//!   no time; exhaustively unit- and property-tested. Public, with the reversal oracle
//!   ([`framing::reversed`]) the tests and the benchmark check replies against.
//! - `conn` (private): one connection, as plain `async` code over a `TcpStream`: wait until
//!   readable holding no buffer, read everything there is, decode, write the batched replies,
//!   repeat; then close without losing a reply.
//! - [`server`]: binding, the accept loop and `--max-connections`.
//! - `pool` (private): per-thread read/output buffer pools, so idle connections own no buffers.
//! - [`stats`]: counters for the exit summary.
//! - [`logger`]: the `log` backend that keeps stderr from ever affecting the service.
//! - [`rlimit`]: raising the open-files limit at start-up.
//!
//! Only what the binary needs is public besides [`framing`].
//!
//! # Running one in-process
//!
//! ```no_run
//! use std::sync::Arc;
//! use server::{Config, Shared};
//!
//! let rt = runtime::Runtime::new()?;
//! let listener = server::server::bind("127.0.0.1:0".parse().unwrap())?;
//! let shared = Arc::new(Shared::new(Config::default()));
//! rt.block_on(async move {
//!     let listener = runtime::net::TcpListener::from_std(listener)?;
//!     server::server::serve(listener, shared).await;
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

mod conn;
pub mod framing;
pub mod logger;
mod pool;
pub mod rlimit;
pub mod server;
pub mod stats;

use std::time::Duration;

use framing::{Framing, Limits};
use runtime::cancel::CancellationToken;
use stats::Stats;

/// Default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default `--idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default `--shutdown-timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--linger`: how long a connection closed by the server keeps reading (and
/// discarding) what the client still sends, so that the close does not turn into a reset that
/// could destroy replies the client has not read yet.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);

/// Everything that shapes how connections are served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Which framing the server speaks.
    pub framing: Framing,
    /// `--max-line` and `--max-frame`.
    pub limits: Limits,
    /// Connections beyond this many open ones are refused.
    pub max_connections: usize,
    /// Close connections that make no progress for this long; `None` never does.
    pub idle_timeout: Option<Duration>,
    /// Upper bound on the lingering close outside shutdown (see [`DEFAULT_LINGER`]).
    pub linger: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            framing: Framing::default(),
            limits: Limits::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            linger: DEFAULT_LINGER,
        }
    }
}

/// State shared by the accept loop and every connection.
#[derive(Debug)]
pub struct Shared {
    /// The configuration, fixed at start-up.
    pub config: Config,
    /// Counters for the summary.
    pub stats: Stats,
    /// Cancelled on SIGINT, SIGTERM or SIGHUP: the accept loop and every connection finish.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// Fresh state for a server with `config`.
    pub fn new(config: Config) -> Shared {
        Shared {
            config,
            stats: Stats::default(),
            shutdown: CancellationToken::new(),
        }
    }
}
