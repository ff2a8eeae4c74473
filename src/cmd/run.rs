//! `opsync run JOB...`: extract -> transform -> load in one streaming pass.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::Global;
use crate::ledger::Ledger;
use crate::output::Output;
use crate::pipeline::{self, PipelineError, RunOptions};

pub fn run(g: &Global, out: &Output, jobs: &[PathBuf], limit: Option<u64>) -> anyhow::Result<u8> {
    // Every job file is checked before the first one runs: a typo in the third job should not
    // surface after the first two have loaded.
    let loaded = jobs
        .iter()
        .map(|j| super::load_job(j))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut ledger = Ledger::open(&g.ledger)
        .map_err(PipelineError::Ledger)
        .context("cannot open the run ledger")?;
    let opts = RunOptions {
        args: super::args_string(),
        limit,
    };
    let mut worst = 0;
    for job in &loaded {
        let total = crate::source::total_bytes(job.source(), job.dir());
        out.start_progress(total, &job.name);
        let summary = pipeline::run_job(job, &mut ledger, &opts, out)
            .with_context(|| format!("job {} ({}) failed", job.name, job.path.display()));
        out.finish_progress();
        let summary = summary?;
        out.summary(&summary);
        if summary.threshold.is_some() {
            worst = worst.max(3);
        }
    }
    Ok(worst)
}
