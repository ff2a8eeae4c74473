//! Checks for CI: `opsync validate` (every problem of every job and mapping file, placed at
//! file:line:column) and `opsync test` (the fixture cases declared beside a mapping).
//!
//! Both read only configuration: no data files, no network, no ledger. They return plain data
//! ([`Validation`], [`TestRun`]); [`report`] renders it as text, JSON or JUnit XML, and the
//! command layer prints it.

pub mod fixtures;
pub mod report;
pub mod validate;

mod job;
mod spans;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use fixtures::{CaseResult, FileCases, TestRun, run_fixtures};
pub use validate::{CheckedFile, Validation, validate};

use crate::config::MappingFile;

/// The static problems of a loaded job's own tables (`[job]`, `[source]`, `[target]`): the same
/// checks `opsync validate` makes, so `run` refuses what `validate` refuses, with the same places.
pub fn job_problems(job: &crate::config::LoadedJob) -> Vec<crate::config::Diagnostic> {
    job::check(&job.path, &job.text, &job.file)
}

/// The folder checked when no path is given.
pub const DEFAULT_PATH: &str = "mappings";

/// Why the files to check could not be listed.
#[derive(Debug, Error)]
pub enum CheckError {
    /// A path named on the command line (or the default folder) does not exist.
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    /// A folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// The paths to check: those given, or [`DEFAULT_PATH`] when none are.
pub fn paths_or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_PATH)]
    } else {
        paths.to_vec()
    }
}

/// Files to check: each file as given, and every `*.toml` below each folder (recursively,
/// sorted). Hidden folders are skipped; a file named twice is checked once.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CheckError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(CheckError::NotFound(path.clone()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CheckError> {
    let io = |source| CheckError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // The entry's own type: a symlinked folder is not followed, so a loop cannot form.
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            if !hidden {
                walk(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a stand-alone mapping file is written for JSON sources: a `from` starting with `$`.
pub fn mapping_is_json(file: &MappingFile) -> bool {
    file.entities.iter().flat_map(|e| e.fields.values()).any(|f| {
        f.get_ref()
            .from
            .as_ref()
            .is_some_and(|from| from.get_ref().starts_with('$'))
    })
}

/// The files being checked, known by their canonical paths, so that a mapping reached through a
/// job (`jobs/../items.toml`) is recognised as the file named on the command line.
#[derive(Debug)]
pub(crate) struct FileSet {
    paths: Vec<PathBuf>,
    by_canonical: HashMap<PathBuf, usize>,
}

impl FileSet {
    pub(crate) fn new(paths: &[PathBuf]) -> Self {
        let by_canonical = paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((std::fs::canonicalize(p).ok()?, i)))
            .collect();
        FileSet {
            paths: paths.to_vec(),
            by_canonical,
        }
    }

    /// Position of `path` among the checked files, if it is one of them.
    pub(crate) fn index_of(&self, path: &Path) -> Option<usize> {
        let canonical = std::fs::canonicalize(path).ok()?;
        self.by_canonical.get(&canonical).copied()
    }

    /// `path` as the user named it when it is one of the checked files; else unchanged.
    pub(crate) fn shown(&self, path: &Path) -> PathBuf {
        match self.index_of(path) {
            Some(i) => self.paths[i].clone(),
            None => path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_walked_sorted_and_files_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/deep")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in ["z.toml", "a.toml", "b/deep/m.toml", "b/readme.md", ".hidden/x.toml"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let files = collect_files(&[root.to_path_buf(), root.join("a.toml")]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("a.toml"),
                PathBuf::from("b/deep/m.toml"),
                PathBuf::from("z.toml")
            ]
        );
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let err = collect_files(&[PathBuf::from("no/such/place")]).unwrap_err();
        assert_eq!(err.to_string(), "no/such/place: no such file or folder");
    }

    #[test]
    fn json_mappings_are_told_by_their_paths() {
        let text = "[[entity]]\nname = \"item\"\n[entity.fields.item_id]\nfrom = \"$.id\"\n";
        let file: MappingFile = toml::from_str(text).unwrap();
        assert!(mapping_is_json(&file));
        let file: MappingFile = toml::from_str(&text.replace("$.id", "ID")).unwrap();
        assert!(!mapping_is_json(&file));
    }
}
