//! Build cost: clean release build time and normal-dependency count of our `runtime` crate
//! versus tokio with `rt-multi-thread,net,time,macros`. Each build runs in a fresh target
//! directory under the system temp dir, offline from the local registry cache when it can.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

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

/// Timed `cargo build --release` (offline first, online as a fallback).
fn timed_build(dir: &Path, extra: &[&str], target: &Path) -> Result<f64, String> {
    let attempt = |offline: bool| {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(dir)
            .arg("build")
            .arg("--release")
            .args(extra)
            .arg("--target-dir")
            .arg(target);
        if offline {
            cmd.arg("--offline");
        }
        let t = Instant::now();
        run(&mut cmd, "cargo build").map(|_| t.elapsed().as_secs_f64())
    };
    attempt(true).or_else(|_| {
        let _ = std::fs::remove_dir_all(target);
        attempt(false)
    })
}

/// [clean release build seconds, dependency count] of our runtime.
pub fn ours() -> Result<Vec<f64>, String> {
    let tmp = std::env::temp_dir().join(format!("bench-build-ours-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let secs = timed_build(&root(), &["-p", "runtime"], &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    let tree = run(
        Command::new(cargo())
            .current_dir(root())
            .args(["tree", "-p", "runtime", "-e", "normal", "--prefix", "none"]),
        "cargo tree",
    )?;
    Ok(vec![secs?, count_deps(&tree) as f64])
}

/// [clean release build seconds, dependency count] of tokio with the features a server uses.
pub fn tokio() -> Result<Vec<f64>, String> {
    let tmp = std::env::temp_dir().join(format!("bench-build-tokio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("crate/src")).map_err(|e| e.to_string())?;
    let version = locked_tokio_version().map_or_else(|| "1".to_string(), |v| format!("={v}"));
    let manifest = format!(
        "[package]\nname = \"tokio-build-cost\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ntokio = {{ version = \"{version}\", features = [\"rt-multi-thread\", \"net\", \"time\", \"macros\"] }}\n\n\
         [profile.release]\ndebug = 1\n\n[workspace]\n"
    );
    let krate = tmp.join("crate");
    std::fs::write(krate.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(krate.join("src/lib.rs"), "pub use tokio;\n").map_err(|e| e.to_string())?;
    // Start from the workspace's lock file so the same versions are resolved.
    let _ = std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock"));
    let result = (|| {
        let secs = timed_build(&krate, &[], &tmp.join("target"))?;
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
        // Minus our wrapper crate: `count_deps` already drops one root; tokio itself stays out too.
        Ok(vec![secs, count_deps(&tree).saturating_sub(1) as f64])
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
