//! Build cost: clean release build time and normal-dependency count of our `runtime` crate
//! versus tokio, each built the same way: a throw-away crate in a fresh target directory under
//! the system temp dir, depending on the runtime with the features a TCP service needs, built
//! offline from the local registry cache when it can (online as a fallback), starting from this
//! workspace's `Cargo.lock` so both sides resolve the versions the suite measures.
//!
//! Two probes per side:
//! - `Lib`: the crate only re-exports the runtime, so the time is the runtime's own (and its
//!   dependencies'); what a generic API leaves for the user's crate to compile is not counted.
//! - `Echo`: a TCP echo server with a read timeout and a client that checks one round trip, as
//!   a user would write it. Generic code the runtime leaves to be monomorphized in the user's
//!   crate (spawn, the task harness, timeouts) is counted here, so moving work out of the
//!   runtime into its users cannot make our side look cheaper. The built program is run once,
//!   and must exit 0, so a probe that compiles but does not work fails the row.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Our features equivalent to [`TOKIO_FEATURES`]: the executor (both flavours, always built;
/// `JoinSet`, `LocalSet`, `task_local!`, `spawn_blocking` are in tokio's `rt` too), `net`
/// (TCP, UDP, Unix sockets, `AsyncFd`) and `time`. `combinator::race` (always built) stands
/// for `select!`; `signal` is left out, as it is on tokio's side.
pub const OUR_FEATURES: &[&str] = &["net", "time"];
/// The tokio features of the library probe (the echo probe adds `io-util`, for
/// `AsyncReadExt`/`AsyncWriteExt`, which ours has as inherent methods).
pub const TOKIO_FEATURES: &[&str] = &["rt-multi-thread", "net", "time", "macros"];

/// What the throw-away crate contains.
#[derive(Clone, Copy)]
pub enum Probe {
    /// `pub use <runtime>;`: the runtime's own build.
    Lib,
    /// A TCP echo program with a timeout, run once after the build.
    Echo,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The tokio version this workspace locked (so both sides build what the suite measures).
fn locked_tokio_version() -> Option<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"tokio\"" {
            let v = lines.next()?;
            return v
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string);
        }
    }
    None
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(format!(
            "{what} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Distinct crates in `cargo tree -e normal` output, minus the root.
fn count_deps(tree: &str) -> usize {
    let set: BTreeSet<&str> = tree
        .lines()
        .map(|l| l.trim_end_matches(" (*)").trim())
        .filter(|l| !l.is_empty())
        .collect();
    set.len().saturating_sub(1)
}

/// User plus system CPU seconds of every finished and waited-for child process (cargo, and
/// through it every rustc and build script it ran).
fn children_cpu_seconds() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// `cargo build --release` (offline first, online as a fallback): [wall seconds, CPU seconds].
/// The CPU time is the steadier figure on a shared machine (other builds stretch the wall
/// time, much less the work done); the wall time is what a user waits for.
fn timed_build(dir: &Path, target: &Path) -> Result<[f64; 2], String> {
    let attempt = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(dir)
            .arg("build")
            .arg("--release")
            .arg("--target-dir")
            .arg(target);
        if offline {
            cmd.arg("--offline");
        }
        let cpu = children_cpu_seconds();
        let t = Instant::now();
        run(&mut cmd, "cargo build")
            .map(|_| [t.elapsed().as_secs_f64(), children_cpu_seconds() - cpu])
    };
    attempt(true).or_else(|_| {
        let _ = std::fs::remove_dir_all(target);
        attempt(false)
    })
}

fn quoted(features: &[&str]) -> String {
    features
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dependency line of the probe's manifest.
fn dependency(ours: bool, probe: Probe) -> String {
    if ours {
        let path = root().join("runtime");
        format!(
            "runtime = {{ path = {:?}, default-features = false, features = [{}] }}",
            path.display().to_string(),
            quoted(OUR_FEATURES)
        )
    } else {
        let version = locked_tokio_version().map_or_else(|| "1".to_string(), |v| format!("={v}"));
        let mut features = TOKIO_FEATURES.to_vec();
        if let Probe::Echo = probe {
            features.push("io-util");
        }
        format!(
            "tokio = {{ version = \"{version}\", features = [{}] }}",
            quoted(&features)
        )
    }
}

/// The echo probe's `main.rs`: a server that echoes with a 10 s read timeout, and a client
/// that sends one line through it and checks the answer.
fn echo_source(ours: bool) -> &'static str {
    if ours {
        r#"use std::time::Duration;
use runtime::net::{TcpListener, TcpStream};
use runtime::time::timeout;

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    loop {
        match timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    runtime::Runtime::new()?.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        runtime::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                runtime::spawn(echo(stream));
            }
        });
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(b"ping\n").await?;
        let mut got = [0u8; 5];
        let mut n = 0;
        while n < got.len() {
            match timeout(Duration::from_secs(10), client.read(&mut got[n..])).await? {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(e),
            }
        }
        assert_eq!(&got[..n], b"ping\n");
        Ok(())
    })
}
"#
    } else {
        r#"use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    loop {
        match timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(echo(stream));
        }
    });
    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"ping\n").await?;
    let mut got = [0u8; 5];
    let mut n = 0;
    while n < got.len() {
        match timeout(Duration::from_secs(10), client.read(&mut got[n..])).await? {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(e),
        }
    }
    assert_eq!(&got[..n], b"ping\n");
    Ok(())
}
"#
    }
}

/// [clean release build wall seconds, CPU seconds, dependency count] of one probe on one side.
pub fn measure(ours: bool, probe: Probe) -> Result<Vec<f64>, String> {
    let side = if ours { "ours" } else { "tokio" };
    let tmp = std::env::temp_dir().join(format!("bench-build-{side}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let krate = tmp.join("crate");
    std::fs::create_dir_all(krate.join("src")).map_err(|e| e.to_string())?;
    let result = (|| {
        let name = format!("{side}-build-cost");
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n{}\n\n[profile.release]\ndebug = 1\n\n[workspace]\n",
            dependency(ours, probe)
        );
        std::fs::write(krate.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        let (file, source) = match probe {
            Probe::Lib => (
                "src/lib.rs",
                if ours {
                    "pub use runtime;\n"
                } else {
                    "pub use tokio;\n"
                },
            ),
            Probe::Echo => ("src/main.rs", echo_source(ours)),
        };
        std::fs::write(krate.join(file), source).map_err(|e| e.to_string())?;
        // Start from the workspace's lock file so the same versions are resolved.
        let _ = std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock"));
        let target = tmp.join("target");
        let [wall, cpu] = timed_build(&krate, &target)?;
        if let Probe::Echo = probe {
            run(
                &mut Command::new(target.join("release").join(&name)),
                "the echo probe",
            )?;
        }
        let tree = run(
            Command::new(cargo()).current_dir(&krate).args([
                "tree",
                "-e",
                "normal",
                "--prefix",
                "none",
                "--offline",
            ]),
            "cargo tree",
        )?;
        // `count_deps` drops the probe crate; the runtime itself is not counted either.
        Ok(vec![wall, cpu, count_deps(&tree).saturating_sub(1) as f64])
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
