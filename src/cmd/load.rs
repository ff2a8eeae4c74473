//! `opsync load JOB [--in FILE]`: canonical records (JSON Lines from `opsync transform`) into the
//! job's target, with the same ledger guarantees as `opsync run`.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;

use crate::cli::Global;
use crate::model::CanonicalRecord;
use crate::output::Output;
use crate::pipeline::{self, LoadItem, PipelineError, RunOptions};

pub fn run(g: &Global, out: &Output, job: &Path, input: Option<&Path>, full_refresh: bool) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let (name, reader): (String, Box<dyn BufRead>) = match input {
        Some(p) if p != Path::new("-") => {
            let f = std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            (p.display().to_string(), Box::new(BufReader::new(f)))
        }
        _ => (
            "standard input".into(),
            Box::new(BufReader::new(std::io::stdin().lock())),
        ),
    };
    let records = reader.lines().enumerate().filter_map(|(n, line)| {
        let line = match line {
            Ok(l) if l.trim().is_empty() => return None,
            Ok(l) => l,
            Err(e) => return Some(Err(PipelineError::Input(format!("{name}:{}: {e}", n + 1)))),
        };
        Some(
            serde_json::from_str::<serde_json::Value>(&line)
                .map_err(|e| e.to_string())
                .and_then(|v| match (v.get("rejected"), v.get("entity"), v.get("key")) {
                    (Some(serde_json::Value::Bool(true)), Some(e), Some(k)) => Ok(LoadItem::Rejected {
                        entity: e.as_str().unwrap_or_default().to_string(),
                        key: k.as_str().unwrap_or_default().to_string(),
                    }),
                    _ => CanonicalRecord::from_line(&v).map(|r| match r {
                        Ok(record) => LoadItem::Record(record),
                        Err(reject) => LoadItem::Invalid(reject),
                    }),
                })
                .map_err(|e| PipelineError::Input(format!("{name}:{}: not a canonical record: {e}", n + 1))),
        )
    });
    let mut ledger = super::open_ledger(g, Some(&job.path))?;
    let opts = RunOptions {
        args: super::args_string(),
        limit: None,
        full_refresh,
    };
    let summary = pipeline::load_records(&job, &mut ledger, records, &opts, out)
        .with_context(|| format!("job {} ({}) failed", job.name, job.path.display()))?;
    out.summary(&summary);
    Ok(if summary.threshold.is_some() { 3 } else { 0 })
}
