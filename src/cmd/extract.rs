//! `opsync extract JOB [--out FILE]`: the job's source as raw records in JSON Lines, each with
//! its lineage; nothing is mapped or loaded.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::output::Output;
use crate::pipeline::PipelineError;
use crate::source::{self, SourceError};

pub fn run(out: &Output, job: &Path, file: Option<&Path>, limit: Option<u64>) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let mut source = source::open(job.source(), job.dir()).map_err(PipelineError::Source)?;
    let columns = source.columns().to_vec();
    let mut writer: Box<dyn Write> = match file {
        Some(f) => Box::new(BufWriter::new(
            crate::target::create_private(f).with_context(|| format!("cannot create {}", f.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    out.start_progress(source::total_bytes(job.source(), job.dir()), &job.name);
    let (mut written, mut malformed) = (0u64, Vec::new());
    while limit.is_none_or(|l| written < l) {
        match source.next_record() {
            Ok(Some(rec)) => {
                serde_json::to_writer(&mut writer, &source::raw_to_json(&rec, &columns))?;
                writer.write_all(b"\n")?;
                written += 1;
                if written.is_multiple_of(4096) {
                    crate::pipeline::Observer::progress(out, source.bytes_read(), written);
                }
            }
            Ok(None) => break,
            Err(e @ SourceError::Ragged { .. }) => malformed.push(e.to_string()),
            Err(e) => return Err(PipelineError::Source(e).into()),
        }
    }
    writer.flush()?;
    out.finish_progress();
    for m in &malformed {
        out.warn(&format!("not extracted: {m}"));
    }
    let to = file
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "standard output".into());
    out.info(&format!("extracted {written} raw records of job {} to {to}", job.name));
    Ok(if malformed.is_empty() { 0 } else { 1 })
}
