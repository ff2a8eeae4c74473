//! The `opsync` binary: parse the command line, run one command, turn the outcome into an exit code.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
