//! Targets: where canonical records are stored, with the state that decides "unchanged, skip".
//!
//! A target keeps, beside each record, the content hash that decides whether a record of the
//! next extract changed, and commits it in the same transaction as the record (SQLite: a `_hash`
//! column on the entity's table; files: the file itself). A target that is recreated, emptied or
//! restored therefore carries the state of what it holds, and is reloaded rather than reported
//! unchanged; nothing depends on two files committing together.
//!
//! A run talks to a target a batch at a time: [`Target::begin`], then [`Target::lookup`] (keys of
//! this run met before, to find keys the extract has twice and, in snapshot mode, the keys it
//! lacks; else what the target holds) and [`Target::fetch`] to decide each record's verdict, [`Target::write`]
//! and [`Target::commit`]. Each batch carries a marker (ledger, run, sequence number) that the
//! target commits with the rows, so the ledger, which records the batch first, can later keep
//! exactly the batches the target has ([`Target::committed`]).

mod file;
mod keys;
mod lookup;
mod sqlite;
mod staged;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::{LoadMode, TargetConfig};
use crate::model::{CanonicalRecord, Entity};

pub use file::read_file_record;
pub(crate) use keys::from_sql;
pub use lookup::Looked;
pub use sqlite::{RowLineage, SqliteTarget};
pub use staged::{FileId, Landing, OutError, StagedFile, landing};

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
    /// Two jobs claim one entity of a target in a way that would make one undo the other.
    #[error("{0}")]
    Conflict(String),
    /// The target, or its folder, cannot be written: the message names it and what to do.
    #[error("{0}")]
    ReadOnly(String),
    /// A write did not have the effect its verdict expected: the target and the run disagree.
    #[error("{0}")]
    Accounting(String),
    #[error("{0}")]
    Other(String),
}

/// Content hash of a canonical record (see [`CanonicalRecord::content_hash`]).
pub type Hash = [u8; 16];

/// What a target holds for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// `None` for a row the target holds without a hash (written before hashes were kept, or by
    /// hand): its values decide.
    pub hash: Option<Hash>,
    pub deleted: bool,
}

/// The first time a key was met in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// As a record with this content hash.
    Record(Hash),
    /// As a rejected record: the key is still in the source.
    Rejected,
}

/// A key met in a batch: a record's, or a rejected record's key string.
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    Record(&'a CanonicalRecord, Hash),
    Rejected(&'a str),
}

/// How one record of a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A key the target does not hold.
    Insert,
    /// A live key whose content changed.
    Update,
    /// A key the target holds as deleted.
    Reinsert,
    /// A key whose values are unchanged but whose stored hash is missing or stale: the hash is
    /// set, the values are left as they are.
    Rehash,
}

/// One batch of writes for one entity.
#[derive(Debug)]
pub struct TargetBatch<'a> {
    /// The ledger's id, the run, its token and the batch's sequence number: the marker committed
    /// with it. The token makes the marker the run's alone, should its id be handed out again.
    pub ledger: &'a str,
    pub run: i64,
    pub token: &'a str,
    pub seq: u64,
    pub writes: Vec<(&'a CanonicalRecord, Hash, WriteKind)>,
    /// Records of the extract that are unchanged (file targets rewrite them; SQLite skips them).
    pub unchanged: Vec<&'a CanonicalRecord>,
    /// Keys to mark deleted.
    pub deletes: Vec<&'a str>,
}

/// Which of a run's batches a target holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    All,
    Nothing,
    Some(HashSet<u64>),
}

impl Committed {
    pub fn has(&self, seq: u64) -> bool {
        match self {
            Committed::All => true,
            Committed::Nothing => false,
            Committed::Some(s) => s.contains(&seq),
        }
    }
}

/// A run as its batch markers name it.
#[derive(Debug, Clone, Copy)]
pub struct RunMark<'a> {
    pub id: i64,
    pub token: &'a str,
}

impl RunMark<'_> {
    /// The token its markers carry: none for a run recorded before runs had tokens.
    pub fn marker_token(&self) -> &str {
        if self.token.starts_with("legacy-") {
            ""
        } else {
            self.token
        }
    }
}

/// Who writes an entity of a target, and how (checked against the other jobs writing it).
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub ledger: &'a str,
    pub job: &'a str,
    pub mode: LoadMode,
}

/// How a job's mode is written where targets record their writers.
pub fn mode_name(mode: LoadMode) -> &'static str {
    match mode {
        LoadMode::Upsert => "upsert",
        LoadMode::Snapshot => "snapshot",
    }
}

/// Another writer of an entity, as a target's list of jobs holds it.
#[derive(Debug, Clone)]
pub struct OtherWriter {
    pub job: String,
    pub mode: String,
    /// The id of the ledger that registered it.
    pub ledger: String,
}

impl Claim<'_> {
    /// Refuse this claim on `entity` of `target` when another job writing it (`others`) or this
    /// one is a snapshot: a snapshot deletes the keys its extract lacks, which would be the other
    /// job's. `forget` says how to remove a writer that no longer runs (`{job}` and `{ledger}`
    /// stand for its job and ledger id).
    pub fn check(&self, target: &str, entity: &str, others: &[OtherWriter], forget: &str) -> Result<(), TargetError> {
        let Some(other) = others
            .iter()
            .find(|o| self.mode == LoadMode::Snapshot || o.mode == "snapshot")
        else {
            return Ok(());
        };
        let forget = forget.replace("{job}", &other.job).replace("{ledger}", &other.ledger);
        if other.job == self.job {
            // Writers are registered per ledger: the same name from another ledger is this job
            // run with a ledger that was lost or replaced, or another deployment of the job.
            return Err(TargetError::Conflict(format!(
                "target {target}: {entity} is registered to job {job} ({other_mode} mode) of another ledger (id \
                 {other_ledger}), not of this run's ledger (id {this_ledger}). Jobs are told apart by the ledger \
                 that runs them: a ledger that was deleted, lost or replaced (or another --ledger) makes the same \
                 job look like a second writer, and as one snapshot job must be the only writer of an entity, \
                 this run is refused. If the target was written with another ledger, run with that ledger \
                 (--ledger, OPSYNC_LEDGER or opsync.toml). If this ledger replaces it for good, hand the entity \
                 over to it: {forget}",
                job = self.job,
                other_mode = other.mode,
                other_ledger = other.ledger,
                this_ledger = self.ledger,
            )));
        }
        Err(TargetError::Conflict(format!(
            "target {target}: {entity} is also written by job {other_job} ({other_mode} mode), and job {} runs in {} \
             mode; a snapshot deletes the keys its extract lacks, so a snapshot job must be the only writer of an \
             entity. Give each job its own target, or set mode = \"upsert\" in both. If job {other_job} no longer \
             runs: {forget}",
            self.job,
            mode_name(self.mode),
            other_job = other.job,
            other_mode = other.mode,
        )))
    }
}

/// A store of canonical records, one table (or file) per entity.
pub trait Target {
    /// Stable identity, used by the ledger to name the target (`sqlite:PATH`).
    fn id(&self) -> String;
    /// Lock and create what the entities need (tables, folders), and register the job as a
    /// writer of each entity; a job whose claim conflicts with another's is refused. `wait` is
    /// called before blocking on another run's lock.
    fn prepare(
        &mut self,
        entities: &[&'static Entity],
        claim: &Claim<'_>,
        wait: &dyn Fn(&str),
    ) -> Result<(), TargetError>;
    /// Live (not deleted) records of an entity.
    fn live_count(&mut self, entity: &'static Entity) -> Result<u64, TargetError>;
    /// Live records a reader of the target sees now: for a target that stages its changes (file
    /// targets), what is in place, not what waits to be swapped in.
    fn live_in_place(&mut self, entity: &'static Entity) -> Result<u64, TargetError> {
        self.live_count(entity)
    }
    /// Whether an entity's table holds no row at all, live or deleted.
    fn is_empty(&mut self, entity: &'static Entity) -> Result<bool, TargetError>;
    /// Start a batch.
    fn begin(&mut self) -> Result<(), TargetError>;
    /// Note the batch's keys (in source order) as met in this run; for each, the earlier sighting
    /// in this run, or else what the target holds for it.
    fn lookup(&mut self, entity: &'static Entity, keys: &[KeyRef<'_>]) -> Result<Vec<Looked>, TargetError>;
    /// What the target holds for these records' keys (read only: `opsync preview`).
    fn states(
        &mut self,
        entity: &'static Entity,
        records: &[&CanonicalRecord],
    ) -> Result<Vec<Option<Stored>>, TargetError>;
    /// The stored records for these keys (to name the fields an update changes).
    fn fetch(
        &mut self,
        entity: &'static Entity,
        records: &[&CanonicalRecord],
    ) -> Result<HashMap<String, CanonicalRecord>, TargetError>;
    /// Write a batch; each write checks that it found the row its verdict expected.
    fn write(&mut self, entity: &'static Entity, batch: &TargetBatch<'_>) -> Result<(), TargetError>;
    /// Commit the batch (rows and marker together).
    fn commit(&mut self) -> Result<(), TargetError>;
    /// Undo the open batch.
    fn rollback(&mut self);
    /// Live keys this run has not met, at most `limit` (snapshot deletes).
    fn unseen(&mut self, entity: &'static Entity, limit: usize) -> Result<Vec<String>, TargetError>;
    /// How many live keys this run has not met.
    fn unseen_count(&mut self, entity: &'static Entity) -> Result<u64, TargetError>;
    /// File targets: write the run's files completely and give each entity's content hash, to be
    /// recorded before [`Target::swap`] puts them in place. Other targets: nothing.
    fn prepare_swap(&mut self) -> Result<Vec<(&'static str, String)>, TargetError> {
        Ok(Vec::new())
    }
    /// File targets: put the prepared files in place.
    fn swap(&mut self) -> Result<(), TargetError> {
        Ok(())
    }
    /// Which batches of a run (of the ledger `ledger`, with its token) this target holds for an
    /// entity; file targets judge by the hash recorded before the swap.
    fn committed(
        &mut self,
        ledger: &str,
        run: RunMark<'_>,
        entity: &'static Entity,
        swap_hash: Option<&str>,
    ) -> Result<Committed, TargetError>;
    /// The runs of the ledger `ledger` this target holds batch markers of: (run id, token; empty
    /// for markers written before tokens). File targets keep no markers.
    fn marked_runs(&mut self, _ledger: &str) -> Result<Vec<(i64, String)>, TargetError> {
        Ok(Vec::new())
    }
}

/// Open the target a job describes; paths are relative to `base` (the job file's folder).
pub fn open(config: &TargetConfig, base: &Path) -> Result<Box<dyn Target>, TargetError> {
    Ok(match config {
        TargetConfig::Sqlite(c) => {
            let path = sqlite_path(c, base);
            refuse_marked(&path, false)?;
            Box::new(SqliteTarget::open(&path).map_err(|e| explain_denied(&path, false, e))?)
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

/// The database file of an SQLite target (`OPSYNC_TARGET` overrides the job's path).
fn sqlite_path(c: &crate::config::job::SqliteTarget, base: &Path) -> PathBuf {
    match std::env::var_os("OPSYNC_TARGET") {
        Some(p) => p.into(),
        None => crate::config::resolve(base, &c.path),
    }
}

/// The files a target writes for these entities, each with what it is (for `--out`, which must
/// not name one of them): the database with its journal files, or each entity's file.
pub fn files(config: &TargetConfig, base: &Path, entities: &[&str]) -> Vec<(String, PathBuf)> {
    match config {
        TargetConfig::Sqlite(c) => {
            let db = sqlite_path(c, base);
            let mut out = vec![("the target database".to_string(), db.clone())];
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut p = db.clone().into_os_string();
                p.push(suffix);
                out.push((format!("the target database's {suffix} file"), p.into()));
            }
            out
        }
        TargetConfig::Csv(c) | TargetConfig::Jsonl(c) => {
            let format = if matches!(config, TargetConfig::Csv(_)) {
                file::Format::Csv
            } else {
                file::Format::Jsonl
            };
            let target = file::FileTarget::new(&crate::config::resolve(base, &c.dir), format);
            let mut out: Vec<(String, PathBuf)> = entities
                .iter()
                .map(|e| (format!("the target's file of {e}"), target.entity_path(e)))
                .collect();
            out.push(("the target's list of jobs".into(), target.jobs_path()));
            out
        }
    }
}

/// Whether an I/O error says the file system or the permissions refuse a write.
fn io_denied(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Whether a target error may come from a path that cannot be written (then worth explaining).
fn maybe_denied(e: &TargetError) -> bool {
    match e {
        TargetError::Io { source, .. } => io_denied(source),
        TargetError::Sqlite {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } => matches!(
            f.code,
            rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied
        ),
        _ => false,
    }
}

/// A path whose permissions have no write bit. Refused even to a user (root) who could write it
/// anyway: someone made it read-only on purpose, as the ledger does.
fn marked_read_only(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// The message for a target that cannot be written: `what` is the target's file (or folder, for
/// file targets) or the folder it is in, with `why`.
pub fn read_only_message(target: &Path, what: &Path, is_folder: bool, why: &str) -> String {
    let (t, w) = (target.display(), what.display());
    if what == target && !is_folder {
        format!(
            "target {t} is read-only ({why}): opsync writes each run's rows into it. Make it writable \
             (chmod u+w {t}), or set path in [target] to another file"
        )
    } else if what == target {
        format!(
            "target folder {t} is read-only ({why}): opsync writes each entity's file there. Make it writable, \
             or set dir in [target] to a writable folder"
        )
    } else {
        format!(
            "target {t} cannot be written: its folder {w} is read-only ({why}), and opsync writes the database \
             there with its -wal and -shm files. Make the folder writable, or set path in [target] to a file in a \
             writable folder"
        )
    }
}

/// The folder a target path is in.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuse a target whose file (`is_folder`: whose folder) or whose folder is marked read-only.
pub(crate) fn refuse_marked(path: &Path, is_folder: bool) -> Result<(), TargetError> {
    if marked_read_only(path) {
        return Err(TargetError::ReadOnly(read_only_message(
            path,
            path,
            is_folder,
            "it has no write permission",
        )));
    }
    let dir = folder_of(path);
    if !is_folder && marked_read_only(&dir) {
        return Err(TargetError::ReadOnly(read_only_message(
            path,
            &dir,
            true,
            "it has no write permission",
        )));
    }
    Ok(())
}

/// After an error that may mean "cannot write": find what cannot be written (the folder, by
/// creating and removing a file in it; then the file itself) and say so, or keep the error.
pub(crate) fn explain_denied(path: &Path, is_folder: bool, e: TargetError) -> TargetError {
    if !maybe_denied(&e) {
        return e;
    }
    let dir = if is_folder { path.to_path_buf() } else { folder_of(path) };
    let probe = dir.join(format!(".opsync-probe.{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(x) if io_denied(&x) => {
            return TargetError::ReadOnly(read_only_message(path, &dir, is_folder, &x.to_string()));
        }
        Err(_) => return e,
    }
    if !is_folder
        && let Err(x) = std::fs::OpenOptions::new().write(true).open(path)
        && io_denied(&x)
    {
        return TargetError::ReadOnly(read_only_message(path, path, false, &x.to_string()));
    }
    e
}

/// Records per transaction for a target configuration.
pub fn batch_size(config: &TargetConfig) -> usize {
    match config {
        TargetConfig::Sqlite(c) => c.batch_size.max(1),
        _ => 10_000,
    }
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

/// An OS lock on `DIR/NAME.lock`, taken without waiting if possible, else after `wait` is told.
/// It dies with its process, so a killed run never blocks the next one.
pub fn lock_file(dir: &Path, name: &str, wait: &dyn Fn(&str), holder: &str) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            wait(&format!(
                "waiting for another run writing {holder} (lock {})",
                path.display()
            ));
            file.lock()?;
            Ok(file)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
