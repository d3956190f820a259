//! End to end: every example of ours in `examples/examples/` runs its
//! `--self-test` (server on port 0, driven by an in-process client, checked)
//! and exits 0 within a time limit.
//!
//! The binaries are cargo's own: a workspace `cargo test` builds every
//! example (to check it compiles) into `target/<profile>/examples/` before it
//! runs any test, so this file never runs `cargo build` itself. Run alone
//! (`cargo test -p tests --test ecosystem_examples`), nothing builds them, so
//! a binary that is missing or older than the sources fails the test with
//! the command to build it, rather than testing stale code.
//!
//! Also a short smoke run of `examples/http-load.sh` (wrk against hyper on
//! our runtime and on tokio): opt-in, as it needs `wrk`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long one self-test may take (they take well under a second each
/// on an idle machine).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
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

/// The newest modification time under `path` (a file or a directory tree).
fn newest_mtime(path: &Path) -> SystemTime {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut newest = meta.modified().expect("mtime");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir").flatten() {
            newest = newest.max(newest_mtime(&entry.path()));
        }
    }
    newest
}

/// The example binary cargo built, checked to be newer than every source it
/// is built from (the examples, the runtime, the lock file).
fn example_binary(name: &str) -> PathBuf {
    let profile = profile_dir();
    let bin = profile.join("examples").join(name);
    let release = if profile.file_name().and_then(|n| n.to_str()) == Some("release") {
        " --release"
    } else {
        ""
    };
    let build = format!(
        "build the examples with `cargo build -p examples --examples{release}` \
         (a workspace `cargo test` does it)"
    );
    let built = match std::fs::metadata(&bin).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}: {build}", bin.display()),
    };
    let root = workspace_root();
    let own = format!("examples/examples/{name}.rs");
    let sources = [own.as_str(), "examples/src", "examples/Cargo.toml"];
    for source in sources
        .into_iter()
        .chain(["runtime/src", "runtime/Cargo.toml", "Cargo.lock"])
    {
        let changed = newest_mtime(&root.join(source));
        assert!(
            built >= changed,
            "{} is older than {source}: {build}",
            bin.display()
        );
    }
    bin
}

fn self_test(name: &str) {
    let mut cmd = Command::new(example_binary(name));
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

/// The book's "Build it yourself": a whole runtime in one file.
#[test]
fn example_mini_runtime() {
    self_test("mini_runtime");
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

/// The book's write-cost table: every way of writing delivers the bytes.
#[test]
fn example_write_syscalls() {
    self_test("write_syscalls");
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
fn example_local_counter() {
    self_test("local_counter");
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

/// `examples/http-load.sh --quick` on cargo's example binaries: both servers
/// serve wrk's load with only 200s.
#[test]
#[ignore = "needs wrk: scripts/install-tools.sh"]
fn http_load_script_smoke() {
    let server = example_binary("http_hello");
    example_binary("http_hello_tokio");
    let dir = server.parent().expect("target/<profile>/examples");
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
