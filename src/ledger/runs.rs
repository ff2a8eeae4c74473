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
    /// Finished loading, but a snapshot would have deleted more than the job allows: nothing was
    /// deleted (exit 3).
    DeletesExceeded,
    Failed,
    /// Stopped by Ctrl-C or SIGTERM, or found unfinished by a later run (the process was killed).
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::RejectsExceeded => "rejects_exceeded",
            RunStatus::DeletesExceeded => "deletes_exceeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// The counts a run reports, for the run or for one entity. For an entity, every row read is
/// accounted for once: read = malformed + filtered + rejected + deduplicated + inserted + updated
/// + unchanged (`valid` is the last three).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub read: u64,
    /// Rows that could not be split into the header's columns.
    pub malformed: u64,
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
    /// Add an entity's record counts to a run's totals (rows read, malformed and filtered are the
    /// run's own, not summed).
    pub fn add_loaded(&mut self, o: &RunCounts) {
        self.valid += o.valid;
        self.rejected += o.rejected;
        self.deduplicated += o.deduplicated;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
    }

    pub fn add(&mut self, o: &RunCounts) {
        self.read += o.read;
        self.malformed += o.malformed;
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

/// One entity's counts in a run, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EntityCounts {
    pub entity: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub live_before: Option<i64>,
    pub live_after: Option<i64>,
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
    /// Source rows with at least one rejected record.
    pub rejected_rows: u64,
    /// False for a run a killed process left running: the rows it read, found malformed,
    /// filtered or rejected whole are unknown (its record counts are those of the batches the
    /// target holds).
    pub rows_known: bool,
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
     opsync_version, user, host, args, warnings, error, malformed, rejected_rows, rows_known";

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
            malformed: u(26)?,
        },
        rejected_rows: u(27)?,
        rows_known: r.get::<_, i64>(28)? != 0,
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
                 model_version, opsync_version, user, host, args, token) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, \
                 ?10, ?11, ?12, lower(hex(randomblob(16))))",
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

    /// A run's random token, which the markers a target keeps of the run's batches carry: a run
    /// id alone can come back (a ledger restored from a backup), a token cannot.
    pub fn run_token(&self, run: i64) -> Result<String, LedgerError> {
        self.conn
            .query_row("SELECT token FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Of the runs a target holds batches of (run id, token; an empty token for markers written
    /// before tokens), those this ledger never recorded and has not reported yet: they are
    /// remembered, found by `run`, and returned. A run killed before it could report them does
    /// not count as having reported them.
    pub fn foreign_runs(&self, target: &str, marked: &[(i64, String)], run: i64) -> Result<Vec<i64>, LedgerError> {
        let mut new = Vec::new();
        for (id, token) in marked {
            let known: Option<String> = self
                .conn
                .query_row("SELECT token FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            let ours = match known {
                Some(t) if token.is_empty() => t.starts_with("legacy-"),
                Some(t) => t == *token,
                None => false,
            };
            if ours {
                continue;
            }
            let added = self
                .conn
                .execute(
                    "INSERT INTO foreign_runs (target, run, token, found_by) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (target, run, token) DO UPDATE SET found_by = excluded.found_by \
                     WHERE coalesce((SELECT status FROM runs r WHERE r.id = foreign_runs.found_by), 'interrupted') \
                       IN ('running', 'interrupted')",
                    params![target, id, token, run],
                )
                .map_err(|e| self.err(e))?;
            if added > 0 {
                new.push(*id);
            }
        }
        new.sort_unstable();
        new.dedup();
        Ok(new)
    }

    /// Runs of a job still recorded as running. Called with the job's lock held, so none of them
    /// is alive: its process was killed or its machine stopped.
    pub fn running_runs(&self, job: &str) -> Result<Vec<i64>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM runs WHERE job = ?1 AND status = 'running' ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([job], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Close a run a killed process left running: `interrupted`, with the counts of the batches
    /// the ledger (reconciled with the target) holds for it, and its rejects.
    pub fn settle_interrupted(&mut self, run: i64, note: &str) -> Result<(), LedgerError> {
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO run_entities (run, entity, rejected, deduplicated, inserted, updated, unchanged, deleted) \
             SELECT ?1, s.entity, \
               (SELECT count(*) FROM rejects j WHERE j.run = ?1 AND j.entity = s.entity), \
               sum(b.deduplicated), sum(b.inserted), sum(b.updated), sum(b.unchanged), sum(b.deleted) \
             FROM run_batches b JOIN streams s ON s.id = b.stream WHERE b.run = ?1 GROUP BY s.entity",
            [run],
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE runs SET status = 'interrupted', ended_at = coalesce(ended_at, ?2), error = ?3, rows_known = 0, \
               inserted = coalesce((SELECT sum(inserted) FROM run_batches WHERE run = ?1), 0), \
               updated = coalesce((SELECT sum(updated) FROM run_batches WHERE run = ?1), 0), \
               unchanged = coalesce((SELECT sum(unchanged) FROM run_batches WHERE run = ?1), 0), \
               deduplicated = coalesce((SELECT sum(deduplicated) FROM run_batches WHERE run = ?1), 0), \
               deleted = coalesce((SELECT sum(deleted) FROM run_batches WHERE run = ?1), 0), \
               valid = coalesce((SELECT sum(inserted + updated + unchanged) FROM run_batches WHERE run = ?1), 0), \
               rejected = (SELECT count(*) FROM rejects WHERE run = ?1) \
             WHERE id = ?1",
            params![run, now(), note],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Record the end of a run: its totals and, per entity, its counts and the target's live
    /// records before and after.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_run(
        &mut self,
        id: i64,
        status: RunStatus,
        c: &RunCounts,
        rejected_rows: u64,
        per_entity: &std::collections::BTreeMap<&'static str, crate::pipeline::EntityLoad>,
        warnings: &[String],
        error: Option<&str>,
    ) -> Result<(), LedgerError> {
        let warnings = serde_json::to_string(warnings).unwrap_or_default();
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "UPDATE runs SET ended_at = ?2, status = ?3, read = ?4, valid = ?5, rejected = ?6, filtered = ?7, \
             deduplicated = ?8, inserted = ?9, updated = ?10, unchanged = ?11, deleted = ?12, warnings = ?13, \
             error = ?14, malformed = ?15, rejected_rows = ?16 WHERE id = ?1",
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
                error,
                c.malformed as i64,
                rejected_rows as i64
            ],
        )
        .map_err(err)?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO run_entities (run, entity, read, malformed, filtered, rejected, \
                     deduplicated, inserted, updated, unchanged, deleted, live_before, live_after) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(err)?;
            for (entity, l) in per_entity {
                let e = &l.counts;
                stmt.execute(params![
                    id,
                    entity,
                    e.read as i64,
                    e.malformed as i64,
                    e.filtered as i64,
                    e.rejected as i64,
                    e.deduplicated as i64,
                    e.inserted as i64,
                    e.updated as i64,
                    e.unchanged as i64,
                    e.deleted as i64,
                    l.live_before as i64,
                    l.live_after.map(|n| n as i64)
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// A run's counts per entity, with the target's live records before and after (`None` for
    /// runs that did not finish): (entity, counts, live before, live after).
    pub fn entity_counts(&self, run: i64) -> Result<Vec<EntityCounts>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT entity, read, malformed, filtered, rejected, deduplicated, inserted, updated, unchanged, \
                 deleted, live_before, live_after FROM run_entities WHERE run = ?1 ORDER BY entity",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                let u =
                    |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64) };
                let counts = RunCounts {
                    read: u(1)?,
                    malformed: u(2)?,
                    filtered: u(3)?,
                    rejected: u(4)?,
                    deduplicated: u(5)?,
                    inserted: u(6)?,
                    updated: u(7)?,
                    unchanged: u(8)?,
                    deleted: u(9)?,
                    valid: u(6)? + u(7)? + u(8)?,
                };
                Ok(EntityCounts {
                    entity: r.get(0)?,
                    counts,
                    live_before: r.get(10)?,
                    live_after: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// A run's reject reasons counted: (entity, field, rule, count), most frequent first.
    pub fn reject_reasons(&self, run: i64) -> Result<Vec<(String, String, String, u64)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT entity, coalesce(field, ''), coalesce(rule, ''), count(*) FROM rejects WHERE run = ?1 \
                 GROUP BY entity, field, rule ORDER BY count(*) DESC, entity, field, rule",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?.max(0) as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
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
}
