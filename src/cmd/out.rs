//! `--out FILE` of `extract` and `transform`, checked and opened before any work: a path that
//! cannot be written, or that is a file the job itself reads or writes (the ledger, the target,
//! the source), is a usage error before a run starts rather than a loss found after it.

use std::path::{Path, PathBuf};

use super::UsageError;
use crate::config::LoadedJob;
use crate::target::{FileId, StagedFile};

/// Open `--out path` for a command about `job`, using the ledger `ledger` (if any) and reading
/// `input` (`transform --in`), refusing a path that is one of their files.
pub fn open(path: &Path, job: &LoadedJob, ledger: Option<&Path>, input: Option<&Path>) -> anyhow::Result<StagedFile> {
    let staged = StagedFile::create(path).map_err(|e| UsageError(format!("--out {}: {e}", path.display())))?;
    for (what, file) in guarded(job, ledger, input) {
        if staged.id().same(&FileId::of(&file)) {
            return Err(UsageError(format!(
                "--out {} is {what} ({}): writing the output there would destroy it; name another file",
                path.display(),
                std::fs::canonicalize(&file).unwrap_or(file).display()
            ))
            .into());
        }
    }
    Ok(staged)
}

/// The files an output must not replace, each with what it is.
fn guarded(job: &LoadedJob, ledger: Option<&Path>, input: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    if let Some(ledger) = ledger {
        files.push(("the run ledger".to_string(), ledger.to_path_buf()));
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut p = ledger.as_os_str().to_owned();
            p.push(suffix);
            files.push((format!("the run ledger's {suffix} file"), p.into()));
        }
    }
    files.push(("the job file".into(), job.path.clone()));
    files.push(("the job's mapping file".into(), job.mapping.path.clone()));
    if let Some(input) = input {
        files.push(("the --in file".into(), input.to_path_buf()));
    }
    // A source that cannot be listed is reported when it is opened.
    if let Ok(sources) = crate::source::expand_paths(job.dir(), job.source().path()) {
        files.extend(sources.into_iter().map(|p| ("the job's source file".to_string(), p)));
    }
    for (name, lookup) in &job.mapping.file.lookups {
        let p = crate::config::resolve(job.mapping.dir(), &lookup.get_ref().path);
        files.push((format!("the crosswalk file of lookup {name}"), p));
    }
    let entities: Vec<&str> = job
        .mapping
        .file
        .entities
        .iter()
        .map(|e| e.name.get_ref().as_str())
        .collect();
    files.extend(crate::target::files(job.target(), job.dir(), &entities));
    files
}
