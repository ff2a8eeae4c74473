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
        let v = match crate::source::json::parse(line.as_bytes(), &name, Some(n as u64 + 1)) {
            Ok(v) => v,
            Err(e) => return Some(Err(PipelineError::Input(format!("not a canonical record: {e}")))),
        };
        Some(line_item(&v).map_err(|e| PipelineError::Input(format!("{name}:{}: not a canonical record: {e}", n + 1))))
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

/// What one parsed line of canonical JSON Lines holds.
fn line_item(v: &serde_json::Value) -> Result<LoadItem, String> {
    use serde_json::Value::{Bool, String as Text};
    match (v.get("rejected"), v.get("entity"), v.get("key"), v.get("unkeyed")) {
        (Some(Bool(true)), Some(e), _, Some(Bool(true))) => Ok(LoadItem::Unkeyed {
            entity: e.as_str().map(str::to_string),
        }),
        // An empty key names no record: like a row with no key, it must hold back deletes.
        (Some(Bool(true)), e @ Some(_), Some(Text(k)), None) if k.trim().is_empty() => Ok(LoadItem::Unkeyed {
            entity: e.and_then(|e| e.as_str()).map(str::to_string),
        }),
        (Some(Bool(true)), Some(Text(e)), Some(Text(k)), None) => Ok(LoadItem::Rejected {
            entity: e.clone(),
            key: k.clone(),
        }),
        (Some(_), ..) => Err("a rejected line needs \"entity\" and \"key\" (text), or \"unkeyed\": true".into()),
        _ => CanonicalRecord::from_line(v).map(|r| match r {
            Ok(record) => LoadItem::Record(record),
            Err(reject) => LoadItem::Invalid(reject),
        }),
    }
}
