//! Helpers shared by the runtime `reliability_*` tests (each binary includes this module with
//! `mod reliability_support;`): panics caused on purpose, and knobs from the environment.
//! The tests that drive the server binary live in `server/tests/`.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

/// A knob from the environment, or `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// Marker in the message of every panic a test causes on purpose.
pub const EXPECTED_PANIC: &str = "reliability: expected panic";

/// Installs (once per process) a panic hook that stays silent for panics whose message
/// contains [`EXPECTED_PANIC`] and reports every other one as usual.
pub fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !msg.contains(EXPECTED_PANIC) {
                default(info);
            }
        }));
    });
}

/// Panics (with [`EXPECTED_PANIC`] and `what`) when dropped, after counting the drop.
pub struct PanicOnDrop {
    /// Named in the panic message.
    pub what: &'static str,
    /// Incremented before panicking.
    pub drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        panic!("{EXPECTED_PANIC}: drop of {}", self.what);
    }
}
