//! Ctrl-C and SIGTERM end a run cleanly: the first signal sets a flag that the run checks between
//! rows and batches, so it stops at a batch boundary, records itself as interrupted and exits;
//! a second signal ends the process at once (every committed batch is whole either way).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Install the handlers (once, at start-up). Failing to install them is not fatal: the run then
/// ends as any killed process does, and the next run completes its work.
pub fn install() {
    #[cfg(unix)]
    let armed = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal of either kind exits at once with the conventional code; the first
        // only arms that.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, armed.clone());
        let _ = signal_hook::flag::register(sig, armed.clone());
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { signal_hook::low_level::register(sig, move || SIGNAL.store(sig, Ordering::SeqCst)) };
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}

/// The name of a signal, for messages.
pub fn name(sig: i32) -> &'static str {
    #[cfg(unix)]
    {
        if sig == signal_hook::consts::SIGINT {
            return "Ctrl-C (SIGINT)";
        }
        if sig == signal_hook::consts::SIGTERM {
            return "SIGTERM";
        }
    }
    "a signal"
}
