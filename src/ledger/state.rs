//! Record state per target and entity: the content hash that decides "unchanged", the lineage of
//! the last change, and the run that last saw each key. Looked up a batch at a time, so memory
//! stays flat however large the extract.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Ledger, LedgerError};

/// A target + entity pair whose records the ledger follows.
#[derive(Debug, Clone)]
pub struct Stream {
    pub id: i64,
    pub target: String,
    pub entity: &'static str,
}

/// What the ledger knows of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub hash: Vec<u8>,
    pub seen_run: i64,
    pub deleted_run: Option<i64>,
}

/// A record written to the target in this batch.
#[derive(Debug)]
pub struct Written<'a> {
    pub key: &'a str,
    pub hash: [u8; 16],
    pub source: i64,
    pub row: u64,
    pub line: u64,
}

/// One batch's ledger bookkeeping, committed in one transaction after the target's commit.
#[derive(Debug, Default)]
pub struct BatchWrite<'a> {
    pub written: Vec<Written<'a>>,
    /// Keys seen unchanged (or rejected) this run.
    pub seen: Vec<&'a str>,
    /// (key, kind, changed fields as JSON) for updates, re-inserts and deletes.
    pub changes: Vec<(&'a str, &'static str, Option<String>)>,
    pub deleted: Vec<&'a str>,
}

/// Lineage of a key's last change.
#[derive(Debug, Clone)]
pub struct KeyLineage {
    pub stream: Stream,
    pub key: String,
    pub first_run: i64,
    pub changed_run: i64,
    pub seen_run: i64,
    pub deleted_run: Option<i64>,
    pub source: Option<String>,
    pub row: Option<i64>,
    pub line: Option<i64>,
    pub mapping_hash: Option<String>,
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

    /// The id of a source file path, for lineage.
    pub fn source_id(&self, path: &str) -> Result<i64, LedgerError> {
        self.conn
            .execute("INSERT OR IGNORE INTO sources (path) VALUES (?1)", [path])
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row("SELECT id FROM sources WHERE path = ?1", [path], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Whether the stream has any record state yet.
    pub fn stream_is_empty(&self, stream: &Stream) -> Result<bool, LedgerError> {
        let any: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM record_state WHERE stream = ?1 LIMIT 1",
                [stream.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(any.is_none())
    }

    /// Stored states of a batch of keys.
    pub fn states<'k>(
        &self,
        stream: &Stream,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<HashMap<&'k str, StoredState>, LedgerError> {
        // One read transaction for the whole batch: outside one, every lookup would take and drop
        // the WAL read lock (two fcntl calls per key, most of a first load's system time).
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash, seen_run, deleted_run FROM record_state WHERE stream = ?1 AND key = ?2")
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for key in keys {
            let found = stmt
                .query_row(params![stream.id, key], |r| {
                    Ok(StoredState {
                        hash: r.get(0)?,
                        seen_run: r.get(1)?,
                        deleted_run: r.get(2)?,
                    })
                })
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some(s) = found {
                out.insert(key, s);
            }
        }
        drop(stmt);
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Commit one batch's record states and changes.
    pub fn commit_batch(
        &mut self,
        stream: &Stream,
        run: i64,
        mapping_hash: &str,
        b: &BatchWrite<'_>,
    ) -> Result<(), LedgerError> {
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO record_state (stream, key, hash, first_run, changed_run, seen_run, deleted_run, source, row, line, mapping_hash) \
                     VALUES (?1, ?2, ?3, ?4, ?4, ?4, NULL, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (stream, key) DO UPDATE SET hash = excluded.hash, changed_run = excluded.changed_run, \
                     seen_run = excluded.seen_run, deleted_run = NULL, source = excluded.source, row = excluded.row, \
                     line = excluded.line, mapping_hash = excluded.mapping_hash",
                )
                .map_err(err)?;
            for w in &b.written {
                upsert
                    .execute(params![
                        stream.id,
                        w.key,
                        &w.hash[..],
                        run,
                        w.source,
                        w.row as i64,
                        w.line as i64,
                        mapping_hash
                    ])
                    .map_err(err)?;
            }
            let mut seen = tx
                .prepare_cached("UPDATE record_state SET seen_run = ?3 WHERE stream = ?1 AND key = ?2")
                .map_err(err)?;
            for k in &b.seen {
                seen.execute(params![stream.id, k, run]).map_err(err)?;
            }
            let mut del = tx
                .prepare_cached(
                    "UPDATE record_state SET deleted_run = ?3, changed_run = ?3 WHERE stream = ?1 AND key = ?2",
                )
                .map_err(err)?;
            for k in &b.deleted {
                del.execute(params![stream.id, k, run]).map_err(err)?;
            }
            let mut change = tx
                .prepare_cached("INSERT INTO changes (run, stream, key, kind, fields) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(err)?;
            for (k, kind, fields) in &b.changes {
                change.execute(params![run, stream.id, k, kind, fields]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        crate::target::release_cached_pages(&self.conn);
        Ok(())
    }

    /// Up to `limit` keys of the stream that this run has not seen and that are not deleted.
    pub fn unseen_keys(&self, stream: &Stream, run: i64, limit: usize) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key FROM record_state WHERE stream = ?1 AND deleted_run IS NULL AND seen_run < ?2 ORDER BY key LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![stream.id, run, limit as i64], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Where each stream's record of `key` came from (all targets holding the entity).
    pub fn key_lineage(&self, entity: &str, key: &str) -> Result<Vec<KeyLineage>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.target, s.entity, r.key, r.first_run, r.changed_run, r.seen_run, r.deleted_run, \
                 src.path, r.row, r.line, r.mapping_hash \
                 FROM record_state r JOIN streams s ON s.id = r.stream LEFT JOIN sources src ON src.id = r.source \
                 WHERE s.entity = ?1 AND r.key = ?2 ORDER BY r.changed_run DESC",
            )
            .map_err(|e| self.err(e))?;
        let entity_static = crate::model::schema::entity(entity).map(|e| e.name).unwrap_or("");
        let rows = stmt
            .query_map(params![entity, key], |r| {
                Ok(KeyLineage {
                    stream: Stream {
                        id: r.get(0)?,
                        target: r.get(1)?,
                        entity: entity_static,
                    },
                    key: r.get(3)?,
                    first_run: r.get(4)?,
                    changed_run: r.get(5)?,
                    seen_run: r.get(6)?,
                    deleted_run: r.get(7)?,
                    source: r.get(8)?,
                    row: r.get(9)?,
                    line: r.get(10)?,
                    mapping_hash: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
