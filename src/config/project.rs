//! The project file, `opsync.toml`: found by walking up from a job file (or, for commands that
//! take no job, from the working folder), as Cargo finds `Cargo.toml`. It names the ledger, so
//! that one cron line and one analyst's shell in another folder share one ledger and one lock:
//!
//! ```toml
//! [project]
//! ledger = "state/opsync.db"   # relative to this file
//! ```
//!
//! Where the ledger is: `--ledger`, then `OPSYNC_LEDGER`, then the project file's `ledger`, then
//! `opsync.db` beside the job file (or in the working folder for commands that take no job).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::{ConfigError, Diagnostic, parse_toml, read_text, resolve};

/// The project file's name.
pub const FILE_NAME: &str = "opsync.toml";

/// The ledger's file name when nothing names one.
pub const DEFAULT_LEDGER: &str = "opsync.db";

/// `opsync.toml` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub project: ProjectSection,
}

/// `[project]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// The run ledger, relative to the project file (`opsync.db` when absent).
    #[serde(default)]
    pub ledger: Option<String>,
}

/// The nearest project file at or above `start` (a folder).
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// Read a project file.
pub fn load(path: &Path) -> Result<ProjectFile, ConfigError> {
    let text = read_text(path)?;
    Ok(parse_toml(path, &text)?)
}

/// The ledger a command uses. `given` is `--ledger` or `OPSYNC_LEDGER`; `job` the job file, when
/// the command has one.
pub fn ledger_path(given: Option<&Path>, job: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let start = match job {
        Some(j) => j
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
        None => Path::new("."),
    };
    if let Some(file) = find(start) {
        let project = load(&file)?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let ledger = project.project.ledger.as_deref().unwrap_or(DEFAULT_LEDGER);
        if ledger.trim().is_empty() {
            return Err(Diagnostic::file(&file, "[project] ledger is empty").into());
        }
        return Ok(resolve(dir, ledger));
    }
    Ok(match job {
        Some(_) => start.join(DEFAULT_LEDGER),
        None => PathBuf::from(DEFAULT_LEDGER),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_project_file_names_the_ledger_whatever_the_working_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("jobs/erp")).unwrap();
        std::fs::write(root.join(FILE_NAME), "[project]\nledger = \"state/ledger.db\"\n").unwrap();
        let job = root.join("jobs/erp/suppliers.job.toml");
        let real = std::fs::canonicalize(root).unwrap();
        assert_eq!(ledger_path(None, Some(&job)).unwrap(), real.join("state/ledger.db"));
        assert_eq!(
            ledger_path(Some(Path::new("x.db")), Some(&job)).unwrap(),
            PathBuf::from("x.db")
        );
    }

    #[test]
    fn without_a_project_file_the_ledger_sits_beside_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("a.job.toml");
        assert_eq!(ledger_path(None, Some(&job)).unwrap(), dir.path().join(DEFAULT_LEDGER));
    }

    #[test]
    fn a_bad_project_file_is_a_placed_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[project]\nledgr = \"x\"\n").unwrap();
        let err = ledger_path(None, Some(&dir.path().join("a.job.toml"))).unwrap_err();
        assert!(err.to_string().contains(":2:1: unknown field `ledgr`"), "{err}");
    }
}
