//! The `opsync` binary: parse the command line, run one command, turn the outcome into an exit code.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (libmimalloc-sys names only some options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

use clap::Parser;
use opsync::cli::Cli;
use opsync::output::Output;

fn main() -> ExitCode {
    // `opsync rejects | head` should end quietly when `head` stops reading, as other Unix tools
    // do, instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A run frees and refills the same buffers every batch (ten thousand records, a few tens of
    // milliseconds); mimalloc's default hands freed pages back to the kernel after 10 ms (100 ms for
    // its arenas), so each batch paid for zeroed pages again (5% of an unchanged re-run's CPU). A
    // second keeps them for the next batch and still returns memory a long run no longer uses.
    // SAFETY: setting an allocator option is allowed at any time; no thread has started yet.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000);
    }
    opsync::pipeline::interrupt::install();
    let cli = Cli::parse();
    let out = Output::new(&cli.global);
    match opsync::cmd::dispatch(cli, &out) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            out.error(&err);
            ExitCode::from(opsync::cmd::exit_code(&err))
        }
    }
}
