//! End to end: every example of ours in `examples/examples/` runs its
//! `--self-test` (server on port 0, driven by an in-process client, checked)
//! and exits 0 within a time limit. The examples are built once, with the
//! same cargo that runs this test, and run from the build directory.
//!
//! Also a short smoke run of `examples/http-load.sh` (wrk against hyper on
//! our runtime and on tokio) when `wrk` is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The examples with a `--self-test` mode covered here.
const EXAMPLES: &[&str] = &[
    "echo",
    "chat",
    "proxy",
    "timers",
    "http_hello",
    "http_hello_tokio",
    "raw_epoll",
    "blocking_server",
    "global_queue",
    "udp_echo",
    "async_fd_timerfd",
    "unix_echo",
];

/// How long one self-test may take (they take well under a second each
/// on an idle machine).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long building the examples may take (hyper and tokio from scratch on
/// a 2-core machine take a minute or two).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// `target/<profile>` of this test binary (`.../target/debug/deps/<exe>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps")
        .to_path_buf()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Runs `cmd` with output captured to files (no pipe to fill up), killing
/// it after `limit`. Returns (success, stdout + stderr).
fn run_with_timeout(mut cmd: Command, limit: Duration, what: &str) -> (bool, String) {
    let dir = std::env::temp_dir();
    let tag = format!(
        "ecosystem-{}-{}",
        std::process::id(),
        what.replace(['/', ' '], "_")
    );
    let out_path = dir.join(format!("{tag}.out"));
    let out = std::fs::File::create(&out_path).expect("create output file");
    let err = out.try_clone().expect("dup output file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    match status {
        Some(s) => (s.success(), format!("{s}\n{output}")),
        None => (false, format!("timed out after {limit:?}\n{output}")),
    }
}

/// Builds the examples once per test process, with the same profile as
/// this test binary.
fn build_examples() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile = profile_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args(["build", "-q", "-p", "examples"]);
        for name in EXAMPLES {
            cmd.args(["--example", name]);
        }
        if profile.file_name().and_then(|n| n.to_str()) == Some("release") {
            cmd.arg("--release");
        }
        let (ok, output) = run_with_timeout(cmd, BUILD_TIMEOUT, "cargo build");
        assert!(ok, "building the examples failed: {output}");
        profile.join("examples")
    })
}

fn self_test(name: &str) {
    let dir = build_examples();
    let mut cmd = Command::new(dir.join(name));
    cmd.arg("--self-test");
    let (ok, output) = run_with_timeout(cmd, RUN_TIMEOUT, name);
    assert!(ok, "example {name} --self-test failed: {output}");
    assert!(
        output.contains(&format!("{name}: self-test passed")),
        "example {name} did not report success: {output}"
    );
}

/// The book's starting point: the original sample's design on raw epoll.
#[test]
fn example_raw_epoll() {
    self_test("raw_epoll");
}

/// The book's thread-per-connection baseline.
#[test]
fn example_blocking_server() {
    self_test("blocking_server");
}

/// The book's first multithreaded executor: one global queue, N threads.
#[test]
fn example_global_queue() {
    self_test("global_queue");
}

#[test]
fn example_echo() {
    self_test("echo");
}

#[test]
fn example_chat() {
    self_test("chat");
}

#[test]
fn example_proxy() {
    self_test("proxy");
}

#[test]
fn example_timers() {
    self_test("timers");
}

#[test]
fn example_http_hello() {
    self_test("http_hello");
}

#[test]
fn example_http_hello_tokio() {
    self_test("http_hello_tokio");
}

#[test]
fn example_udp_echo() {
    self_test("udp_echo");
}

#[test]
fn example_unix_echo() {
    self_test("unix_echo");
}

#[test]
fn example_async_fd_timerfd() {
    self_test("async_fd_timerfd");
}

/// `examples/http-load.sh --quick` on the binaries built above: both servers
/// serve wrk's load with only 200s. Skipped (with a note) without `wrk`.
#[test]
fn http_load_script_smoke() {
    let has_wrk = Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !has_wrk {
        eprintln!("http_load_script_smoke: skipped, wrk is not installed (apt-get install wrk)");
        return;
    }
    let dir = build_examples();
    let mut cmd = Command::new("bash");
    cmd.current_dir(workspace_root())
        .arg("examples/http-load.sh")
        .args(["--quick", "--no-install", "--bin-dir"])
        .arg(dir);
    let (ok, output) = run_with_timeout(cmd, RUN_TIMEOUT, "http-load.sh");
    assert!(ok, "http-load.sh --quick failed: {output}");
    let rps: Vec<f64> = output
        .lines()
        .find(|l| l.starts_with("requests/s"))
        .unwrap_or_else(|| panic!("no requests/s line: {output}"))
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert_eq!(rps.len(), 2, "{output}");
    assert!(rps.iter().all(|&r| r > 0.0), "{output}");
}
