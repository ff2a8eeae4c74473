//! `opsync run JOB...`: extract -> transform -> load in one streaming pass, for every job named.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::Global;
use crate::output::Output;
use crate::pipeline::{self, RunOptions, interrupt};

/// How bad an exit code is, for the code of a run of several jobs: failed, configuration,
/// interrupted, locked, threshold, success.
fn severity(code: u8) -> u8 {
    match code {
        0 => 0,
        3 => 1,
        5 => 2,
        130 | 143 => 3,
        2 => 4,
        _ => 5,
    }
}

/// Run each job in turn; each is reported, and the exit code is the most severe of theirs.
pub fn run(
    g: &Global,
    out: &Output,
    jobs: &[PathBuf],
    limit: Option<u64>,
    full_refresh: bool,
    fail_fast: bool,
) -> anyhow::Result<u8> {
    let opts = RunOptions {
        args: super::args_string(),
        limit,
        full_refresh,
    };
    let mut outcomes: Vec<(String, u8, &str)> = Vec::new();
    for path in jobs {
        let stop = interrupt::requested().is_some() || (fail_fast && outcomes.iter().any(|o| o.1 != 0));
        if stop {
            outcomes.push((path.display().to_string(), 0, "skipped"));
            continue;
        }
        let code = match run_one(g, out, path, &opts) {
            Ok(code) => code,
            Err(e) => {
                out.error(&e);
                super::exit_code(&e)
            }
        };
        let what = match code {
            0 => "succeeded",
            3 => "finished over a threshold",
            5 => "locked by another run",
            2 => "invalid",
            130 | 143 => "interrupted",
            _ => "failed",
        };
        outcomes.push((path.display().to_string(), code, what));
    }
    if jobs.len() > 1 {
        out.jobs_summary(&outcomes);
    }
    Ok(outcomes
        .iter()
        .filter(|o| o.2 != "skipped")
        .map(|o| o.1)
        .max_by_key(|c| severity(*c))
        .unwrap_or(0))
}

fn run_one(g: &Global, out: &Output, path: &Path, opts: &RunOptions) -> anyhow::Result<u8> {
    let job = super::load_job(path)?;
    let mut ledger = super::open_ledger(g, Some(&job.path))?;
    let total = crate::source::total_bytes(job.source(), job.dir());
    out.start_progress(total, &job.name);
    let summary = pipeline::run_job(&job, &mut ledger, opts, out)
        .with_context(|| format!("job {} ({}) failed", job.name, job.path.display()));
    out.finish_progress();
    let summary = summary?;
    out.summary(&summary);
    Ok(if summary.threshold.is_some() { 3 } else { 0 })
}
