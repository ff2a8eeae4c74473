//! Targets: where canonical records are stored.
//!
//! The idempotency contract every target keeps: [`Target::write`] is an upsert by natural key
//! inside one atomic unit, so writing the same batch twice leaves the same state as writing it
//! once. The pipeline commits a batch to the target *before* the ledger records its keys as
//! loaded; a crash between the two makes the next run redo the batch, never skip it.

mod file;
mod sqlite;

use std::collections::HashMap;
use std::path::Path;

use thiserror::Error;

use crate::config::TargetConfig;
use crate::model::{CanonicalRecord, Entity};

pub use sqlite::SqliteTarget;

/// What can go wrong writing a target.
#[derive(Debug, Error)]
pub enum TargetError {
    #[error("{target}: {source}")]
    Sqlite {
        target: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// A store of canonical records, one table (or file) per entity.
pub trait Target {
    /// Stable identity, used by the ledger to keep record state per target (`sqlite:PATH`).
    fn id(&self) -> String;
    /// Whether every record of the extract is written each run (files), not only changed ones.
    fn full_rewrite(&self) -> bool {
        false
    }
    /// Create what the entities need (tables, folders) before the first write.
    fn prepare(&mut self, entities: &[&'static Entity]) -> Result<(), TargetError>;
    /// The stored records for these keys (to name the fields an update changes, and for explain).
    fn fetch(
        &mut self,
        entity: &'static Entity,
        keys: &[String],
    ) -> Result<HashMap<String, CanonicalRecord>, TargetError>;
    /// Upsert `records` and mark `deleted` keys deleted, as one atomic unit.
    fn write(
        &mut self,
        entity: &'static Entity,
        records: &[&CanonicalRecord],
        deleted: &[String],
        run: i64,
    ) -> Result<(), TargetError>;
    /// After the last batch of a run that completed; `changed` tells whether anything was written.
    fn finish(&mut self, changed: bool) -> Result<(), TargetError>;
}

/// Open the target a job describes; paths are relative to `base` (the job file's folder).
pub fn open(config: &TargetConfig, base: &Path) -> Result<Box<dyn Target>, TargetError> {
    Ok(match config {
        TargetConfig::Sqlite(c) => {
            let path = match std::env::var_os("OPSYNC_TARGET") {
                Some(p) => p.into(),
                None => crate::config::resolve(base, &c.path),
            };
            Box::new(SqliteTarget::open(&path)?)
        }
        TargetConfig::Csv(c) => Box::new(file::FileTarget::new(
            &crate::config::resolve(base, &c.dir),
            file::Format::Csv,
        )),
        TargetConfig::Jsonl(c) => Box::new(file::FileTarget::new(
            &crate::config::resolve(base, &c.dir),
            file::Format::Jsonl,
        )),
    })
}

/// Records per transaction for a target configuration.
pub fn batch_size(config: &TargetConfig) -> usize {
    match config {
        TargetConfig::Sqlite(c) => c.batch_size.max(1),
        _ => 10_000,
    }
}

/// Split a key string back into its parts (the inverse of `CanonicalRecord::key`).
pub fn key_parts(entity: &Entity, key: &str) -> Vec<String> {
    let n = entity.key_fields().count();
    key.splitn(n, '|').map(str::to_string).collect()
}

/// Let go of the pages an SQLite connection caches but no longer uses, after a batch commits.
///
/// The bundled SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so all connections of the
/// process share one page-cache budget and one LRU list. With the target and the ledger both
/// writing, one connection's cache grows past its `cache_size` by taking the other's pages until
/// the other reads back nearly every page it touches (a 1M-row first load: 580,000 page reads).
/// Releasing after each commit keeps them apart; the next batch reads back the few pages it needs.
/// Only a cache hint: a failure changes nothing that was written.
pub fn release_cached_pages(conn: &rusqlite::Connection) {
    let _ = conn.execute_batch("PRAGMA shrink_memory");
}

/// Create a file readable by its owner only (outputs may hold personal or commercial data).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}
