//! One lock per job, so two overlapping cron runs never both write. An OS file lock dies with
//! its process: a run killed with kill -9 never blocks the next one.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Another run of the job holds the lock (exit code 5).
#[derive(Debug, thiserror::Error)]
#[error("job {job} is already running (lock {path} is held); try again when it has finished")]
pub struct LockHeld {
    pub job: String,
    pub path: String,
}

/// A held job lock; released on drop.
#[derive(Debug)]
pub struct JobLock {
    _file: File,
    pub path: PathBuf,
}

impl JobLock {
    /// Lock files live beside the ledger in `LEDGER.locks/JOB.lock`.
    pub fn acquire(ledger: &Path, job: &str) -> Result<JobLock, LockHeld> {
        let dir = PathBuf::from(format!("{}.locks", ledger.display()));
        let path = dir.join(format!("{job}.lock"));
        let held = |detail: String| LockHeld {
            job: job.to_string(),
            path: format!("{} ({detail})", path.display()),
        };
        std::fs::create_dir_all(&dir).map_err(|e| held(e.to_string()))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| held(e.to_string()))?;
        match file.try_lock() {
            Ok(()) => Ok(JobLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockHeld {
                job: job.to_string(),
                path: path.display().to_string(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(held(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l.db");
        let first = JobLock::acquire(&ledger, "j").unwrap();
        assert!(JobLock::acquire(&ledger, "j").is_err());
        assert!(JobLock::acquire(&ledger, "other").is_ok());
        drop(first);
        assert!(JobLock::acquire(&ledger, "j").is_ok());
    }
}
