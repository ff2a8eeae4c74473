//! `opsync transform JOB [--in RAW] [--out FILE]`: raw records (from `opsync extract`, or the
//! job's source) through the mapping to canonical records in JSON Lines; rejects go to the ledger.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::Global;
use crate::output::Output;
use crate::pipeline::{self, LoadItem, PipelineError, RunOptions, Sink};
use crate::source;
use crate::target::{StagedFile, TargetError};

pub fn run(g: &Global, out: &Output, job: &Path, input: Option<&Path>, file: Option<&Path>) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let ledger_path = g.ledger_for(Some(&job.path)).map_err(PipelineError::Config)?;
    // Checked before any work: a path that cannot be written, or that is the ledger, the target
    // or the source, would otherwise be found at the end of the run, or not at all.
    let staged = file
        .map(|f| super::out::open(f, &job, Some(&ledger_path), input))
        .transpose()?;
    let mut source = match input {
        Some(p) => source::open_raw_jsonl(p),
        None => source::open(job.source(), job.dir()),
    }
    .map_err(PipelineError::Source)?;
    let mut ledger = super::open_ledger(g, Some(&job.path))?;
    let opts = RunOptions {
        args: super::args_string(),
        limit: None,
        full_refresh: false,
    };
    let mut sink = match staged {
        Some(f) => Lines::File(Some(f)),
        None => Lines::Stdout(BufWriter::new(std::io::stdout().lock())),
    };
    let summary = pipeline::transform(&job, &mut ledger, source.as_mut(), &opts, out, &mut sink)
        .with_context(|| format!("job {} ({}) failed", job.name, job.path.display()))?;
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

/// Canonical JSON Lines to standard output, or to a file put in place when the run completes.
enum Lines<'a> {
    Stdout(BufWriter<std::io::StdoutLock<'a>>),
    /// `None` once put in place.
    File(Option<StagedFile>),
}

impl Sink for Lines<'_> {
    fn emit(&mut self, item: &LoadItem) -> Result<(), PipelineError> {
        let line = match item {
            LoadItem::Record(r) => r.to_line(),
            LoadItem::Rejected { entity, key } => serde_json::json!({ "entity": entity, "key": key, "rejected": true }),
            LoadItem::Invalid(r) => serde_json::json!({ "entity": r.entity, "key": r.key, "rejected": true }),
            LoadItem::Unkeyed { entity } => serde_json::json!({ "entity": entity, "rejected": true, "unkeyed": true }),
        };
        let writer: &mut dyn Write = match self {
            Lines::Stdout(w) => w,
            Lines::File(Some(f)) => f,
            Lines::File(None) => return Err(PipelineError::Input("the output was already put in place".into())),
        };
        serde_json::to_writer(&mut *writer, &line)
            .and_then(|_| writer.write_all(b"\n").map_err(serde_json::Error::io))
            .map_err(|e| PipelineError::Input(format!("cannot write canonical records: {e}")))
    }

    fn finish(&mut self) -> Result<(), PipelineError> {
        let (shown, done) = match self {
            Lines::Stdout(w) => ("standard output".to_string(), w.flush()),
            Lines::File(f) => match f.take() {
                Some(f) => (f.path().display().to_string(), f.commit()),
                None => return Ok(()),
            },
        };
        done.map_err(|e| {
            PipelineError::Target(TargetError::Io {
                path: shown,
                source: std::io::Error::new(e.kind(), format!("cannot put the finished output in place: {e}")),
            })
        })
    }
}
