//! `opsync test [PATH...]`: run the fixture cases declared in mapping and job files.

use std::io::Write;
use std::path::PathBuf;

use super::UsageError;
use crate::check::{self, report};
use crate::cli::CheckFormat;
use crate::output::Output;

/// Run the cases of the files below `paths` and print the report; exit 2 when any case fails.
/// With `--quiet`, the text report shows only failing cases and the counts.
pub fn run(out: &Output, paths: &[PathBuf], format: CheckFormat) -> anyhow::Result<u8> {
    let files = check::collect_files(&check::paths_or_default(paths)).map_err(|e| UsageError(e.to_string()))?;
    let run = check::run_fixtures(&files);
    let text = match format {
        CheckFormat::Text => report::test_text(&run, !out.quiet),
        CheckFormat::Json => report::test_json(&run)?,
        CheckFormat::Junit => report::test_junit(&run)?,
    };
    // A closed pipe (`| head`) is an error to report, not a panic.
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if run.failed() == 0 { 0 } else { 2 })
}
