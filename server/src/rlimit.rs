//! Raising the soft limit on open files.
//!
//! Every connection is a file descriptor, and the usual soft `RLIMIT_NOFILE` of 1024 would cap
//! the server far below its default `--max-connections` of 10,000. The hard limit (often
//! 524288 or more) is what an unprivileged process may raise itself to, so the server does that
//! at start-up, the way most servers do, and the binary warns when even the hard limit is too
//! low for `--max-connections`.

use std::io;

/// The open-files limit before and after [`raise_nofile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NofileLimit {
    /// Soft limit found at start-up.
    pub before: u64,
    /// Soft limit now in force.
    pub after: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
pub fn raise_nofile() -> io::Result<NofileLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; setrlimit only reads it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim = raised;
    }
    // `rlim_t` is u64 on every 64-bit Linux target; the conversion keeps 32-bit ones building.
    #[allow(clippy::useless_conversion)]
    Ok(NofileLimit {
        before: u64::from(before),
        after: u64::from(lim.rlim_cur),
        hard: u64::from(lim.rlim_max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_soft_to_hard() {
        let lim = raise_nofile().expect("getrlimit/setrlimit");
        assert_eq!(lim.after, lim.hard);
        assert!(lim.before <= lim.after);
        // Idempotent.
        let again = raise_nofile().expect("second call");
        assert_eq!(again.before, again.after);
    }
}
