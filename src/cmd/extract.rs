//! `opsync extract JOB [--out FILE]`: the job's source as raw records in JSON Lines, each with
//! its lineage; nothing is mapped or loaded.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::Global;
use crate::output::Output;
use crate::pipeline::PipelineError;
use crate::source::{self, SourceError};

pub fn run(g: &Global, out: &Output, job: &Path, file: Option<&Path>, limit: Option<u64>) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    // Checked before any work (see `transform`); extract needs no ledger, but must not replace it.
    let ledger = g.ledger_for(Some(&job.path)).ok();
    let mut staged = file
        .map(|f| super::out::open(f, &job, ledger.as_deref(), None))
        .transpose()?;
    let mut source = source::open(job.source(), job.dir()).map_err(PipelineError::Source)?;
    let columns = source.columns().to_vec();
    // Damage in columns the mapping never reads (an Excel error cell) is let through, as `run`
    // lets it through, so that extract then transform reads the rows a run reads.
    if let Ok(mut mapping) = crate::mapping::compile(&job.mapping, job.source().is_json())
        && let Ok(binding) = mapping.bind_source(source.as_ref(), job.source().path())
    {
        source.columns_read(&binding.columns_read(&mapping));
    }
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let mut writer: &mut dyn Write = match staged.as_mut() {
        Some(s) => s,
        None => &mut stdout,
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
    // Only a complete extract replaces the file: rows it could not read leave the old one.
    if let Some(staged) = staged
        && malformed.is_empty()
    {
        let shown = staged.path().display().to_string();
        staged
            .commit()
            .with_context(|| format!("cannot put the finished output in place at {shown}"))?;
    }
    for m in &malformed {
        out.warn(&format!("not extracted: {m}"));
    }
    match file {
        Some(f) if !malformed.is_empty() => out.warn(&format!(
            "{} left as it was: {} row(s) could not be read, so the extract is not complete",
            f.display(),
            malformed.len()
        )),
        Some(f) => out.info(&format!(
            "extracted {written} raw records of job {} to {}",
            job.name,
            f.display()
        )),
        None => out.info(&format!(
            "extracted {written} raw records of job {} to standard output",
            job.name
        )),
    }
    Ok(if malformed.is_empty() { 0 } else { 1 })
}
