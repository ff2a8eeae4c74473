//! What a run wrote, batch by batch: counts and changes per target and entity (a stream).
//!
//! The state that decides "unchanged, skip" lives in the target, beside the rows. The ledger
//! records each batch *before* the target commits it; the target keeps a marker of the batch in
//! the same transaction as its rows (a file target: the hash of the file it swaps in). A batch the
//! ledger has and the target has not is dropped when the run ends, or by the next run of the job
//! when a crash ended this one, so the ledger's counts and changes agree with the target.

use rusqlite::{OptionalExtension, params};

use super::{Ledger, LedgerError};

/// A target + entity pair whose changes the ledger records.
#[derive(Debug, Clone)]
pub struct Stream {
    pub id: i64,
    pub target: String,
    pub entity: &'static str,
}

/// How many records of one batch got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deduplicated: u64,
    pub deleted: u64,
}

impl BatchCounts {
    pub fn add(&mut self, o: &BatchCounts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.deduplicated += o.deduplicated;
        self.deleted += o.deleted;
    }

    /// Records the batch writes to the target (inserts, updates, re-inserts, deletes).
    pub fn written(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

/// One change of a batch: key, kind (`update`, `insert` for a re-insert, `delete`), and the
/// fields an update changed (JSON array).
pub type Change = (String, &'static str, Option<String>);

/// One batch as the ledger keeps it.
#[derive(Debug)]
pub struct BatchRecord {
    pub seq: u64,
    pub counts: BatchCounts,
    pub changes: Vec<Change>,
}

/// A batch of a run as stored.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub stream: i64,
    pub entity: String,
    pub seq: u64,
    pub counts: BatchCounts,
}

fn u(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

impl Ledger {
    /// The stream of a target and entity, created on first use.
    pub fn stream(&self, target: &str, entity: &'static str) -> Result<Stream, LedgerError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO streams (target, entity) VALUES (?1, ?2)",
                params![target, entity],
            )
            .map_err(|e| self.err(e))?;
        let id = self
            .conn
            .query_row(
                "SELECT id FROM streams WHERE target = ?1 AND entity = ?2",
                params![target, entity],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(Stream {
            id,
            target: target.to_string(),
            entity,
        })
    }

    /// Record one batch (its counts and changes) before the target commits it.
    pub fn commit_batch(&mut self, stream: &Stream, run: i64, b: &BatchRecord) -> Result<(), LedgerError> {
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let c = &b.counts;
            tx.prepare_cached(
                "INSERT INTO run_batches (run, stream, seq, inserted, updated, unchanged, deduplicated, deleted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run,
                    stream.id,
                    b.seq as i64,
                    c.inserted as i64,
                    c.updated as i64,
                    c.unchanged as i64,
                    c.deduplicated as i64,
                    c.deleted as i64
                ])
            })
            .map_err(err)?;
            let mut change = tx
                .prepare_cached(
                    "INSERT INTO changes (run, stream, key, kind, fields, batch) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for (k, kind, fields) in &b.changes {
                change
                    .execute(params![run, stream.id, k, kind, fields, b.seq as i64])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        crate::target::release_cached_pages(&self.conn);
        Ok(())
    }

    /// Drop a batch (and its changes) that the target does not have.
    pub fn discard_batch(&mut self, run: i64, stream: i64, seq: u64) -> Result<(), LedgerError> {
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "DELETE FROM changes WHERE run = ?1 AND stream = ?2 AND batch = ?3",
            params![run, stream, seq as i64],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM run_batches WHERE run = ?1 AND stream = ?2 AND seq = ?3",
            params![run, stream, seq as i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The batches the ledger recorded for a run, with their entities.
    pub fn run_batches(&self, run: i64) -> Result<Vec<StoredBatch>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT b.stream, s.entity, b.seq, b.inserted, b.updated, b.unchanged, b.deduplicated, b.deleted \
                 FROM run_batches b JOIN streams s ON s.id = b.stream WHERE b.run = ?1 ORDER BY b.stream, b.seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(StoredBatch {
                    stream: r.get(0)?,
                    entity: r.get(1)?,
                    seq: u(r, 2)?,
                    counts: BatchCounts {
                        inserted: u(r, 3)?,
                        updated: u(r, 4)?,
                        unchanged: u(r, 5)?,
                        deduplicated: u(r, 6)?,
                        deleted: u(r, 7)?,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Record the content hash of the file a file target is about to swap in for a stream.
    pub fn record_swap(&self, run: i64, stream: i64, hash: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO run_swaps (run, stream, hash) VALUES (?1, ?2, ?3)",
                params![run, stream, hash],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The hash a run recorded before swapping in a stream's file, if it got that far.
    pub fn swap_hash(&self, run: i64, stream: i64) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT hash FROM run_swaps WHERE run = ?1 AND stream = ?2",
                params![run, stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Targets the ledger knows for an entity (for `opsync explain`).
    pub fn targets_of(&self, entity: &str) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT target FROM streams WHERE entity = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([entity], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
