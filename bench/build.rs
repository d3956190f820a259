//! Records the compiler and the locked tokio version, so that the results header can say
//! what the numbers were measured with.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (unknown version)".into());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={version}");
    // The workspace's lock file pins the tokio the comparison servers were built with.
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let mut tokio = "unknown".to_string();
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"tokio\"" {
            if let Some(v) = lines
                .next()
                .and_then(|v| v.trim().strip_prefix("version = "))
            {
                tokio = v.trim_matches('"').to_string();
            }
            break;
        }
    }
    println!("cargo:rustc-env=BENCH_TOKIO_VERSION={tokio}");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
