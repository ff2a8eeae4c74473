//! Fault injection for crash tests: `OPSYNC_FAILPOINT=NAME[:N]` kills the process with SIGKILL
//! (as `kill -9` would, with no destructor or handler running) the Nth time (default: the first)
//! the named point is reached. The points sit between the commits a crash could separate:
//!
//! - `batch_recorded`: a batch is in the ledger, not yet in the target;
//! - `batch_committed`: a batch is in the target and in the ledger;
//! - `swap_recorded`: a file target's new file hash is in the ledger, the file not yet renamed;
//! - `swapped`: the files are in place, the run not yet finished in the ledger.
//!
//! Unset, each point costs one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static POINT: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn point() -> &'static Option<(String, u64)> {
    POINT.get_or_init(|| {
        let spec = std::env::var("OPSYNC_FAILPOINT").ok()?;
        let (name, n) = match spec.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().ok()?),
            None => (spec, 1),
        };
        Some((name, n))
    })
}

/// Die here if the fail point is set to this name and this is its Nth hit.
pub fn hit(name: &str) {
    let Some((wanted, n)) = point() else {
        return;
    };
    if wanted != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own process id, with a signal that cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
