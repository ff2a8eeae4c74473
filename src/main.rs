//! The `opsync` binary: parse the command line, run one command, turn the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;
use opsync::cli::Cli;
use opsync::output::Output;

fn main() -> ExitCode {
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
