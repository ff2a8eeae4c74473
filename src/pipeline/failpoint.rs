//! Fault injection for crash tests: `OPSYNC_FAILPOINT=NAME[:N]` kills the process with SIGKILL
//! (as `kill -9` would, with no destructor or handler running) the Nth time (default: the first)
//! the named point is reached. The points sit between the commits a crash could separate:
//!
//! - `batch_recorded`: a batch is in the ledger, not yet in the target;
//! - `batch_committed`: a batch is in the target and in the ledger;
//! - `swap_recorded`: a file target's new file hash is in the ledger, the file not yet renamed;
//! - `swapped`: the files are in place, the run not yet finished in the ledger.
//!
//! `OPSYNC_FAILPOINT=NAME:N:error` makes the Nth hit of a point that can fail return an error
//! instead (see [`error`]), for the tests of a step failing part-way:
//!
//! - `rename`: a file target is about to rename one of its files into place.
//! - `out_rename`: `--out`'s finished file is about to be renamed into place.
//!
//! Unset, each point costs one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static POINT: OnceLock<Option<(String, u64, bool)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn point() -> &'static Option<(String, u64, bool)> {
    POINT.get_or_init(|| {
        let spec = std::env::var("OPSYNC_FAILPOINT").ok()?;
        let mut parts = spec.split(':');
        let name = parts.next()?.to_string();
        let n = match parts.next() {
            Some(n) => n.parse().ok()?,
            None => 1,
        };
        let error = match parts.next() {
            Some("error") => true,
            Some(_) => return None,
            None => false,
        };
        Some((name, n, error))
    })
}

/// Whether this is the Nth hit of the point named, counted.
fn reached(name: &str, error: bool) -> bool {
    match point() {
        Some((wanted, n, e)) if wanted == name && *e == error => HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n,
        _ => false,
    }
}

/// An injected error, if the fail point is set to fail with one at this hit.
pub fn error(name: &str) -> Option<std::io::Error> {
    reached(name, true).then(|| std::io::Error::other(format!("injected failure at fail point {name}")))
}

/// Die here if the fail point is set to this name and this is its Nth hit.
pub fn hit(name: &str) {
    if reached(name, false) {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own process id, with a signal that cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
