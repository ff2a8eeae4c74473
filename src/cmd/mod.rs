//! One file per subcommand: each parses nothing (clap did), calls into the library, and prints
//! through [`crate::output`]. This is the edge where errors gain context and become exit codes.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod explain;
mod extract;
mod inspect;
mod load;
mod out;
mod preview;
mod reconcile;
mod rejects;
mod run;
mod runs;
mod schema;
mod test;
mod transform;
mod validate;

use std::path::Path;

use anyhow::Context;

use crate::cli::{Cli, Command, RunsCommand};
use crate::config::{ConfigError, LoadedJob};
use crate::ledger::LockHeld;
use crate::output::Output;
use crate::pipeline::PipelineError;

/// A usage error found by a command (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run the command; `Ok` carries the exit code of a command that finished.
pub fn dispatch(cli: Cli, out: &Output) -> anyhow::Result<u8> {
    let g = &cli.global;
    match cli.command {
        Command::Run {
            jobs,
            limit,
            full_refresh,
            fail_fast,
        } => run::run(g, out, &jobs, limit, full_refresh, fail_fast),
        Command::Extract { job, out: file, limit } => extract::run(g, out, &job, file.as_deref(), limit),
        Command::Transform { job, input, out: file } => transform::run(g, out, &job, input.as_deref(), file.as_deref()),
        Command::Load {
            job,
            input,
            full_refresh,
        } => load::run(g, out, &job, input.as_deref(), full_refresh),
        Command::Preview { job, rows } => preview::run(out, &job, rows),
        Command::Validate { paths, format } => validate::run(out, &paths, format),
        Command::Test { paths, format } => test::run(out, &paths, format),
        Command::Runs {
            show: Some(RunsCommand::Show { run, format }),
            ..
        } => runs::show(g, run, format),
        Command::Runs {
            show: None,
            job,
            limit,
            format,
        } => runs::list(g, job.as_deref(), limit, format),
        Command::Rejects { run, limit, format } => rejects::run(g, run, limit, format),
        Command::Reconcile {
            left,
            right,
            entity,
            compare,
            only_named,
            format,
            max_exceptions,
        } => reconcile::run(&reconcile::Args {
            left: &left,
            right: &right,
            entity: &entity,
            compare: &compare,
            only_named,
            format,
            max_exceptions,
        }),
        Command::Schema { entity, format } => schema::run(entity.as_deref(), format),
        Command::Inspect {
            file,
            sheet,
            encoding,
            rows,
            mapping_out,
        } => inspect::run(
            out,
            &file,
            sheet.as_deref(),
            encoding.as_deref(),
            rows,
            mapping_out.as_deref(),
        ),
        Command::Explain { entity, key, format } => explain::run(g, &entity, &key, format),
    }
}

/// The exit code for an error: 2 for configuration and usage, 5 for a held lock, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(p) = cause.downcast_ref::<PipelineError>() {
            return p.exit_code();
        }
        if cause.is::<ConfigError>() || cause.is::<UsageError>() {
            return 2;
        }
        if cause.is::<LockHeld>() {
            return 5;
        }
    }
    1
}

/// Load a job file and check its own tables as `opsync validate` does, with the file named in
/// the error.
pub fn load_job(path: &Path) -> anyhow::Result<LoadedJob> {
    let job = crate::config::load_job(path).and_then(|job| {
        let problems = crate::check::job_problems(&job);
        if problems.is_empty() {
            Ok(job)
        } else {
            Err(ConfigError(problems))
        }
    });
    job.map_err(PipelineError::Config)
        .with_context(|| format!("invalid job {}", path.display()))
}

/// Open the ledger for a command about `job` (or about no job), to write.
pub fn open_ledger(g: &crate::cli::Global, job: Option<&Path>) -> anyhow::Result<crate::ledger::Ledger> {
    let path = g.ledger_for(job).map_err(PipelineError::Config)?;
    crate::ledger::Ledger::open(&path)
        .map_err(PipelineError::Ledger)
        .context("cannot open the run ledger")
}

/// Open the ledger for reading (commands that take no job).
pub fn read_ledger(g: &crate::cli::Global) -> anyhow::Result<crate::ledger::Ledger> {
    let path = g.ledger_for(None).map_err(PipelineError::Config)?;
    crate::ledger::Ledger::open_read(&path)
        .map_err(PipelineError::Ledger)
        .context("cannot read the run ledger")
}

/// The command line as typed, for the ledger (opsync takes no secrets as arguments). Arguments
/// that are not UTF-8 (a job path in another encoding) are shown with replacement characters.
pub fn args_string() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
