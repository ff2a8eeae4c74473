//! Runs: one row per command that reads or writes data, with its counts and outcome.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Ledger, LedgerError};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Finished, but more records were rejected than the job allows (exit 3).
    RejectsExceeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::RejectsExceeded => "rejects_exceeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// The counts a run reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub read: u64,
    pub valid: u64,
    pub rejected: u64,
    pub filtered: u64,
    pub deduplicated: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

impl RunCounts {
    pub fn add(&mut self, o: &RunCounts) {
        self.read += o.read;
        self.valid += o.valid;
        self.rejected += o.rejected;
        self.filtered += o.filtered;
        self.deduplicated += o.deduplicated;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
    }
}

/// What is known of a run when it starts.
#[derive(Debug, Clone, Default)]
pub struct RunStart {
    pub job: String,
    pub command: String,
    pub job_file: String,
    pub target: Option<String>,
    pub mapping_hash: Option<String>,
    pub mapping_version: Option<String>,
    pub args: String,
}

/// A run as stored.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub job: String,
    pub command: String,
    pub job_file: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub status: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub target: Option<String>,
    pub mapping_hash: Option<String>,
    pub mapping_version: Option<String>,
    pub model_version: Option<String>,
    pub opsync_version: String,
    pub user: Option<String>,
    pub host: Option<String>,
    pub args: Option<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, job, command, job_file, started_at, ended_at, status, read, valid, rejected, filtered, \
     deduplicated, inserted, updated, unchanged, deleted, target, mapping_hash, mapping_version, model_version, \
     opsync_version, user, host, args, warnings, error";

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    let warnings: Option<String> = r.get(24)?;
    Ok(RunRecord {
        id: r.get(0)?,
        job: r.get(1)?,
        command: r.get(2)?,
        job_file: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        status: r.get(6)?,
        counts: RunCounts {
            read: u(7)?,
            valid: u(8)?,
            rejected: u(9)?,
            filtered: u(10)?,
            deduplicated: u(11)?,
            inserted: u(12)?,
            updated: u(13)?,
            unchanged: u(14)?,
            deleted: u(15)?,
        },
        target: r.get(16)?,
        mapping_hash: r.get(17)?,
        mapping_version: r.get(18)?,
        model_version: r.get(19)?,
        opsync_version: r.get(20)?,
        user: r.get(21)?,
        host: r.get(22)?,
        args: r.get(23)?,
        warnings: warnings.and_then(|w| serde_json::from_str(&w).ok()).unwrap_or_default(),
        error: r.get(25)?,
    })
}

/// Now, as stored in the ledger (UTC, RFC 3339, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn user_and_host() -> (Option<String>, Option<String>) {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).ok();
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty());
    (user, host)
}

impl Ledger {
    /// Record the start of a run; returns its id.
    pub fn start_run(&self, s: &RunStart) -> Result<i64, LedgerError> {
        let (user, host) = user_and_host();
        self.conn
            .execute(
                "INSERT INTO runs (job, command, job_file, started_at, status, target, mapping_hash, mapping_version, \
                 model_version, opsync_version, user, host, args) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    s.job,
                    s.command,
                    s.job_file,
                    now(),
                    s.target,
                    s.mapping_hash,
                    s.mapping_version,
                    crate::model::schema::MODEL_VERSION,
                    env!("CARGO_PKG_VERSION"),
                    user,
                    host,
                    s.args
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Mark runs of a job still recorded as running as interrupted. Called with the job's lock
    /// held, so no such run is alive: it was killed or its machine stopped.
    pub fn mark_interrupted(&self, job: &str) -> Result<usize, LedgerError> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'interrupted', error = 'the process ended without finishing the run' \
                 WHERE job = ?1 AND status = 'running'",
                [job],
            )
            .map_err(|e| self.err(e))
    }

    /// Record the end of a run.
    pub fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        c: &RunCounts,
        warnings: &[String],
        error: Option<&str>,
    ) -> Result<(), LedgerError> {
        let warnings = serde_json::to_string(warnings).unwrap_or_default();
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?2, status = ?3, read = ?4, valid = ?5, rejected = ?6, filtered = ?7, \
                 deduplicated = ?8, inserted = ?9, updated = ?10, unchanged = ?11, deleted = ?12, warnings = ?13, \
                 error = ?14 WHERE id = ?1",
                params![
                    id,
                    now(),
                    status.as_str(),
                    c.read as i64,
                    c.valid as i64,
                    c.rejected as i64,
                    c.filtered as i64,
                    c.deduplicated as i64,
                    c.inserted as i64,
                    c.updated as i64,
                    c.unchanged as i64,
                    c.deleted as i64,
                    warnings,
                    error
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Set the target of a run once it is known.
    pub fn set_run_target(&self, id: i64, target: &str) -> Result<(), LedgerError> {
        self.conn
            .execute("UPDATE runs SET target = ?2 WHERE id = ?1", params![id, target])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Recent runs, newest first.
    pub fn list_runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, LedgerError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR job = ?1) ORDER BY id DESC LIMIT ?2");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![job, limit as i64], run_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One run by id.
    pub fn get_run(&self, id: i64) -> Result<RunRecord, LedgerError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        self.conn
            .query_row(&sql, [id], run_from_row)
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| LedgerError::NotFound(format!("run {id} is not in the ledger {}", self.path.display())))
    }

    /// The latest run's id, if any.
    pub fn last_run_id(&self) -> Result<Option<i64>, LedgerError> {
        self.conn
            .query_row("SELECT max(id) FROM runs", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Keep the mapping text by its hash (once).
    pub fn store_mapping(
        &self,
        hash: &str,
        path: &str,
        version: &str,
        text: &str,
        run: i64,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO mapping_versions (hash, path, version, text, first_run) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, path, version, text, run],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A stored mapping version: (path, version, text).
    pub fn mapping(&self, hash: &str) -> Result<Option<(String, Option<String>, String)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT path, version, text FROM mapping_versions WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Record crosswalk misses of a run.
    pub fn store_misses(&self, run: i64, misses: &[(String, String, u64)]) -> Result<(), LedgerError> {
        let mut stmt = self
            .conn
            .prepare("INSERT OR REPLACE INTO lookup_misses (run, lookup, value, count) VALUES (?1, ?2, ?3, ?4)")
            .map_err(|e| self.err(e))?;
        for (t, v, n) in misses {
            stmt.execute(params![run, t, v, *n as i64]).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Crosswalk misses of a run: (lookup, value, count), most frequent first.
    pub fn misses(&self, run: i64) -> Result<Vec<(String, String, u64)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT lookup, value, count FROM lookup_misses WHERE run = ?1 ORDER BY count DESC, lookup, value")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The source header a job had at its previous run.
    pub fn job_columns(&self, job: &str) -> Result<Option<Vec<String>>, LedgerError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT columns FROM job_columns WHERE job = ?1", [job], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub fn set_job_columns(&self, job: &str, columns: &[String], run: i64) -> Result<(), LedgerError> {
        let text = serde_json::to_string(columns).unwrap_or_default();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO job_columns (job, columns, run) VALUES (?1, ?2, ?3)",
                params![job, text, run],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Changes of a run per entity: (entity, kind, count), first inserts included.
    pub fn change_counts(&self, run: i64) -> Result<Vec<(String, String, u64)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT entity, kind, count(*) FROM run_changes WHERE run = ?1 GROUP BY entity, kind ORDER BY entity, kind",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
