//! `opsync transform JOB [--in RAW] [--out FILE]`: raw records (from `opsync extract`, or the
//! job's source) through the mapping to canonical records in JSON Lines; rejects go to the ledger.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::Global;
use crate::output::Output;
use crate::pipeline::{self, LoadItem, PipelineError, RunOptions};
use crate::source;

pub fn run(g: &Global, out: &Output, job: &Path, input: Option<&Path>, file: Option<&Path>) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let mut source = match input {
        Some(p) => source::open_raw_jsonl(p),
        None => source::open(job.source(), job.dir()),
    }
    .map_err(PipelineError::Source)?;
    let mut ledger = super::open_ledger(g, Some(&job.path))?;
    // A file is written beside its path and put in place only when the command completes.
    let mut staged = file
        .map(|f| crate::target::StagedFile::create(f).with_context(|| format!("cannot create {}", f.display())))
        .transpose()?;
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let mut writer: &mut dyn Write = match staged.as_mut() {
        Some(s) => s,
        None => &mut stdout,
    };
    let opts = RunOptions {
        args: super::args_string(),
        limit: None,
        full_refresh: false,
    };
    let summary = pipeline::transform(&job, &mut ledger, source.as_mut(), &opts, out, |item| {
        let line = match item {
            LoadItem::Record(r) => r.to_line(),
            LoadItem::Rejected { entity, key } => serde_json::json!({ "entity": entity, "key": key, "rejected": true }),
            LoadItem::Invalid(r) => serde_json::json!({ "entity": r.entity, "key": r.key, "rejected": true }),
            LoadItem::Unkeyed { entity } => serde_json::json!({ "entity": entity, "rejected": true, "unkeyed": true }),
        };
        serde_json::to_writer(&mut writer, &line)
            .and_then(|_| writer.write_all(b"\n").map_err(serde_json::Error::io))
            .map_err(|e| PipelineError::Input(format!("cannot write canonical records: {e}")))
    })
    .with_context(|| format!("job {} ({}) failed", job.name, job.path.display()))?;
    writer.flush()?;
    if let Some(staged) = staged {
        staged.commit()?;
    }
    out.info(&format!(
        "transformed {} rows of job {} into {} canonical records; {} rejected (opsync rejects --run {})",
        summary.counts.read, job.name, summary.counts.valid, summary.counts.rejected, summary.run_id
    ));
    for w in &summary.warnings {
        out.warn(w);
    }
    if let Some(t) = &summary.threshold {
        out.warn(&format!("job {}: {t}", job.name));
        return Ok(3);
    }
    Ok(0)
}
