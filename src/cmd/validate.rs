//! `opsync validate [PATH...]`: check job and mapping files without data, network or ledger.

use std::io::Write;
use std::path::PathBuf;

use super::UsageError;
use crate::check::{self, report};
use crate::cli::CheckFormat;
use crate::output::Output;

/// Validate the files below `paths` and print the report; exit 2 when any problem is found.
pub fn run(_out: &Output, paths: &[PathBuf], format: CheckFormat) -> anyhow::Result<u8> {
    let files = check::collect_files(&check::paths_or_default(paths)).map_err(|e| UsageError(e.to_string()))?;
    let validation = check::validate(&files);
    let text = match format {
        CheckFormat::Text => report::validate_text(&validation),
        CheckFormat::Json => report::validate_json(&validation)?,
        CheckFormat::Junit => report::validate_junit(&validation)?,
    };
    // A closed pipe (`| head`) is an error to report, not a panic.
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if validation.is_ok() { 0 } else { 2 })
}
