//! The embedded default target: an SQLite file with one table per canonical entity, created from
//! the model. Each row carries its state beside its values: `_hash` (the content hash that decides
//! "unchanged"), `_deleted`, the run that first inserted it and the run, source file, row and line
//! of its last change. Three tables of opsync's own sit beside the entities: `_opsync_batches`
//! (a marker per batch, committed with its rows), `_opsync_jobs` (which job writes which entity,
//! and how) and `_opsync_sources` (source file names for the lineage columns).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::keys::{Bind, bind_key, bind_record_key, from_sql, hash_of, ident, key_columns, key_where, sql_type};
use super::lookup::{KeyIndex, Looked};
use super::{Claim, Committed, KeyRef, Stored, Target, TargetBatch, TargetError, WriteKind};
use crate::model::{CanonicalRecord, Entity, Lineage};

mod lineage;
mod markers;

pub use lineage::RowLineage;

/// Columns opsync keeps on every entity table, after the model's fields.
const STATE_COLUMNS: &[(&str, &str)] = &[
    ("_hash", "BLOB"),
    ("_deleted", "INTEGER NOT NULL DEFAULT 0"),
    ("_run_id", "INTEGER"),
    ("_first_run", "INTEGER"),
    ("_source", "INTEGER"),
    ("_row", "INTEGER"),
    ("_line", "INTEGER"),
];

const META_BATCHES: &str = "
CREATE TABLE IF NOT EXISTS _opsync_batches (
    ledger TEXT NOT NULL,
    run INTEGER NOT NULL,
    entity TEXT NOT NULL,
    seq INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    token TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ledger, run, entity, seq, token)
) WITHOUT ROWID;";

const META_TABLES: &str = "
CREATE TABLE IF NOT EXISTS _opsync_jobs (
    entity TEXT NOT NULL,
    ledger TEXT NOT NULL,
    job TEXT NOT NULL,
    mode TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (entity, ledger, job)
);
CREATE TABLE IF NOT EXISTS _opsync_sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);";

/// An SQLite database holding canonical tables.
pub struct SqliteTarget {
    conn: Connection,
    path: String,
    file: PathBuf,
    /// Entity locks held for the run (released when the target is dropped).
    locks: Vec<std::fs::File>,
    sources: HashMap<Arc<str>, i64>,
    /// Per entity, the keys this run met.
    keys: HashMap<&'static str, KeyIndex>,
    in_batch: bool,
}

impl SqliteTarget {
    /// Open (creating) the database file.
    pub fn open(path: &Path) -> Result<Self, TargetError> {
        let name = path.display().to_string();
        let io = |e| TargetError::Io {
            path: name.clone(),
            source: e,
        };
        if path.is_dir() {
            return Err(TargetError::Other(format!(
                "{name} is a folder; the sqlite target's path names a database file"
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        if !path.exists() {
            super::create_private(path).map_err(io)?;
        }
        let file = std::fs::canonicalize(path).map_err(io)?;
        let err = |e| TargetError::Sqlite {
            target: name.clone(),
            source: e,
        };
        let conn = Connection::open(&file).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        // FULL: once a batch's commit returns, it survives a power loss, as its record in the
        // ledger does. A new database gets 16 KiB pages (an existing one keeps its own): a run's
        // range scans and inserts touch a quarter of the pages they would at SQLite's 4 KiB.
        conn.execute_batch(
            "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;",
        )
        .map_err(err)?;
        Ok(SqliteTarget {
            conn,
            path: file.display().to_string(),
            file,
            locks: Vec::new(),
            sources: HashMap::new(),
            keys: HashMap::new(),
            in_batch: false,
        })
    }

    /// Open an existing database to read only (`opsync preview`).
    pub fn open_read(path: &Path) -> Result<Self, TargetError> {
        let name = path.display().to_string();
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            TargetError::Sqlite {
                target: name.clone(),
                source: e,
            }
        })?;
        Ok(SqliteTarget {
            conn,
            path: name,
            file: path.to_path_buf(),
            locks: Vec::new(),
            sources: HashMap::new(),
            keys: HashMap::new(),
            in_batch: false,
        })
    }

    /// A private temporary database with the same tables, deleted when dropped: the workspace in
    /// which a file target compares a run's records with its files.
    pub fn workspace() -> Result<Self, TargetError> {
        let err = |e| TargetError::Sqlite {
            target: "(workspace)".into(),
            source: e,
        };
        // An empty name opens a temporary database that SQLite keeps on disk past its cache.
        let conn = Connection::open("").map_err(err)?;
        conn.execute_batch("PRAGMA cache_size=-16384;").map_err(err)?;
        Ok(SqliteTarget {
            conn,
            path: "(workspace)".into(),
            file: PathBuf::new(),
            locks: Vec::new(),
            sources: HashMap::new(),
            keys: HashMap::new(),
            in_batch: false,
        })
    }

    fn err(&self, e: rusqlite::Error) -> TargetError {
        TargetError::Sqlite {
            target: self.path.clone(),
            source: e,
        }
    }

    /// The connection, for reading canonical tables (reports, tests).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Create an entity's table, or add the fields and state columns an older one lacks.
    fn create_table(&self, e: &Entity) -> Result<(), TargetError> {
        let mut cols: Vec<String> = e
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{} {}{}",
                    ident(f.name),
                    sql_type(f.ty),
                    if f.key { " NOT NULL" } else { "" }
                )
            })
            .collect();
        cols.extend(STATE_COLUMNS.iter().map(|(n, t)| format!("{} {t}", ident(n))));
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({})) WITHOUT ROWID",
            ident(e.name),
            cols.join(", "),
            key_columns(e)
        );
        self.conn.execute_batch(&sql).map_err(|x| self.err(x))?;
        let columns: Vec<(String, String)> = self
            .conn
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info({})",
                ident(e.name).replace('"', "'")
            ))
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|x| self.err(x))?;
        // A table made by someone else may declare a type whose affinity changes what is stored
        // (`NUMERIC` turns the text "007" into 7, `REAL` rounds a decimal): refused, not used.
        for f in e.fields {
            if let Some((_, declared)) = columns.iter().find(|(n, _)| n == f.name)
                && !keeps_values(sql_type(f.ty), declared)
            {
                return Err(TargetError::Conflict(format!(
                    "{}: column {}.{} is declared {declared:?}, whose SQLite type affinity would change the {} \
                     values opsync stores as {}; recreate the table (opsync creates it when it is missing) or \
                     change the column's type to {}",
                    self.path,
                    e.name,
                    f.name,
                    f.ty,
                    sql_type(f.ty),
                    sql_type(f.ty)
                )));
            }
        }
        let existing: Vec<&String> = columns.iter().map(|(n, _)| n).collect();
        let missing = e
            .fields
            .iter()
            .map(|f| (f.name, sql_type(f.ty)))
            .chain(STATE_COLUMNS.iter().map(|(n, t)| (*n, *t)))
            .filter(|(n, _)| !existing.iter().any(|c| c == n));
        for (name, ty) in missing {
            let sql = format!("ALTER TABLE {} ADD COLUMN {} {ty}", ident(e.name), ident(name));
            self.conn.execute_batch(&sql).map_err(|x| self.err(x))?;
        }
        // Every run counts the live records before it starts (and after, when it wrote): through
        // this index SQLite counts from a b-tree of keys instead of reading every row (a tenth of
        // the pages at 11 columns). An older table gets it once, on its next run.
        let sql = format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (_deleted)",
            ident(&format!("_opsync_{}_deleted", e.name)),
            ident(e.name)
        );
        self.conn.execute_batch(&sql).map_err(|x| self.err(x))?;
        Ok(())
    }

    /// Start tracking an entity's keys afresh (after a file target filled its workspace table).
    pub fn reindex(&mut self, e: &'static Entity) -> Result<(), TargetError> {
        self.keys.insert(e.name, KeyIndex::new(&self.conn, e)?);
        Ok(())
    }

    /// Register `claim` as a writer of `e`, refusing a claim that would let one job's snapshot
    /// delete another job's records.
    fn register(&self, e: &Entity, claim: &Claim<'_>) -> Result<(), TargetError> {
        let others: Vec<super::OtherWriter> = self
            .conn
            .prepare("SELECT job, mode, ledger FROM _opsync_jobs WHERE entity = ?1 AND NOT (ledger = ?2 AND job = ?3)")
            .and_then(|mut s| {
                s.query_map(params![e.name, claim.ledger, claim.job], |r| {
                    Ok(super::OtherWriter {
                        job: r.get(0)?,
                        mode: r.get(1)?,
                        ledger: r.get(2)?,
                    })
                })?
                .collect()
            })
            .map_err(|x| self.err(x))?;
        let forget = format!(
            "sqlite3 {} \"DELETE FROM _opsync_jobs WHERE entity = '{}' AND job = '{{job}}' AND ledger = '{{ledger}}'\"",
            self.path, e.name
        );
        claim.check(&self.path, e.name, &others, &forget)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO _opsync_jobs (entity, ledger, job, mode, registered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.name, claim.ledger, claim.job, super::mode_name(claim.mode), crate::ledger::runs::now()],
            )
            .map_err(|x| self.err(x))?;
        Ok(())
    }

    fn source_id(&mut self, source: &Arc<str>) -> Result<i64, TargetError> {
        if let Some(id) = self.sources.get(source) {
            return Ok(*id);
        }
        self.conn
            .execute(
                "INSERT OR IGNORE INTO _opsync_sources (path) VALUES (?1)",
                [source.as_ref()],
            )
            .map_err(|x| self.err(x))?;
        let id = self
            .conn
            .query_row(
                "SELECT id FROM _opsync_sources WHERE path = ?1",
                [source.as_ref()],
                |r| r.get(0),
            )
            .map_err(|x| self.err(x))?;
        self.sources.insert(source.clone(), id);
        Ok(id)
    }
}

/// Whether a column declared `declared` stores the values opsync binds for a `ours` column
/// (`TEXT` or `INTEGER`) unchanged, by SQLite's rules for a declared type's affinity.
fn keeps_values(ours: &str, declared: &str) -> bool {
    let d = declared.to_ascii_uppercase();
    let affinity = if d.contains("INT") {
        "INTEGER"
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| d.contains(t)) {
        "TEXT"
    } else if d.is_empty() || d.contains("BLOB") {
        "BLOB"
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| d.contains(t)) {
        "REAL"
    } else {
        "NUMERIC"
    };
    match ours {
        "TEXT" => matches!(affinity, "TEXT" | "BLOB"),
        _ => matches!(affinity, "INTEGER" | "NUMERIC" | "BLOB"),
    }
}

/// Whether an SQLite error is a primary-key conflict.
fn is_conflict(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

impl Target for SqliteTarget {
    fn id(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    fn prepare(
        &mut self,
        entities: &[&'static Entity],
        claim: &Claim<'_>,
        wait: &dyn Fn(&str),
    ) -> Result<(), TargetError> {
        let lock_dir = PathBuf::from(format!("{}.locks", self.file.display()));
        for e in entities.iter().filter(|_| !self.file.as_os_str().is_empty()) {
            let holder = format!("{} of {}", e.name, self.path);
            let lock = super::lock_file(&lock_dir, e.name, wait, &holder).map_err(|x| TargetError::Io {
                path: lock_dir.display().to_string(),
                source: x,
            })?;
            self.locks.push(lock);
        }
        self.conn.execute_batch(META_BATCHES).map_err(|x| self.err(x))?;
        self.conn.execute_batch(META_TABLES).map_err(|x| self.err(x))?;
        self.add_marker_tokens()?;
        for e in entities {
            self.create_table(e)?;
            self.register(e, claim)?;
            self.keys.insert(e.name, KeyIndex::new(&self.conn, e)?);
        }
        Ok(())
    }

    fn live_count(&mut self, e: &'static Entity) -> Result<u64, TargetError> {
        let n: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE _deleted = 0", ident(e.name)),
                [],
                |r| r.get(0),
            )
            .map_err(|x| self.err(x))?;
        Ok(n.max(0) as u64)
    }

    fn is_empty(&mut self, e: &'static Entity) -> Result<bool, TargetError> {
        let any: Option<i64> = self
            .conn
            .query_row(&format!("SELECT 1 FROM {} LIMIT 1", ident(e.name)), [], |r| r.get(0))
            .optional()
            .map_err(|x| self.err(x))?;
        Ok(any.is_none())
    }

    fn begin(&mut self) -> Result<(), TargetError> {
        // IMMEDIATE: the write lock from the start, so a batch never fails to upgrade a read.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|x| self.err(x))?;
        self.in_batch = true;
        Ok(())
    }

    fn lookup(&mut self, e: &'static Entity, keys: &[KeyRef<'_>]) -> Result<Vec<Looked>, TargetError> {
        let index = self
            .keys
            .get_mut(e.name)
            .ok_or_else(|| TargetError::Other(format!("{} was not prepared", e.name)))?;
        index.lookup(&self.conn, keys)
    }

    fn states(&mut self, e: &'static Entity, records: &[&CanonicalRecord]) -> Result<Vec<Option<Stored>>, TargetError> {
        let sql = format!(
            "SELECT _hash, _deleted FROM {} WHERE {}",
            ident(e.name),
            key_where(e, 1, None)
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|x| self.err(x))?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            bind_record_key(&mut stmt, 1, e, r).map_err(|x| self.err(x))?;
            let mut rows = stmt.raw_query();
            let found = match rows.next().map_err(|x| self.err(x))? {
                Some(row) => {
                    let hash: Option<Vec<u8>> = row.get(0).map_err(|x| self.err(x))?;
                    let deleted: i64 = row.get(1).map_err(|x| self.err(x))?;
                    Some(Stored {
                        hash: hash_of(hash),
                        deleted: deleted != 0,
                    })
                }
                None => None,
            };
            out.push(found);
        }
        Ok(out)
    }

    fn fetch(
        &mut self,
        e: &'static Entity,
        records: &[&CanonicalRecord],
    ) -> Result<HashMap<String, CanonicalRecord>, TargetError> {
        let cols: Vec<String> = e.fields.iter().map(|f| ident(f.name)).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            cols.join(", "),
            ident(e.name),
            key_where(e, 1, None)
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|x| self.err(x))?;
        let source: Arc<str> = Arc::from(self.path.as_str());
        let mut out = HashMap::new();
        for r in records {
            bind_record_key(&mut stmt, 1, e, r).map_err(|x| self.err(x))?;
            let mut rows = stmt.raw_query();
            if let Some(row) = rows.next().map_err(|x| self.err(x))? {
                let mut values = Vec::with_capacity(e.fields.len());
                for (i, f) in e.fields.iter().enumerate() {
                    let v: Sql = row.get(i).map_err(|x| self.err(x))?;
                    values.push(from_sql(f.ty, v));
                }
                let stored = CanonicalRecord {
                    entity: e,
                    values,
                    lineage: Lineage {
                        source: source.clone(),
                        locator: Some(e.name.into()),
                        row: 0,
                        line: 0,
                    },
                };
                out.insert(r.key(), stored);
            }
        }
        Ok(out)
    }

    fn write(&mut self, e: &'static Entity, batch: &TargetBatch<'_>) -> Result<(), TargetError> {
        let nf = e.fields.len();
        let cols: Vec<String> = e.fields.iter().map(|f| ident(f.name)).collect();
        let marks: Vec<String> = (1..=nf).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {} ({}, _hash, _deleted, _run_id, _first_run, _source, _row, _line) \
             VALUES ({}, ?{}, 0, ?{}, ?{}, ?{}, ?{}, ?{})",
            ident(e.name),
            cols.join(", "),
            marks.join(", "),
            nf + 1,
            nf + 2,
            nf + 2,
            nf + 3,
            nf + 4,
            nf + 5
        );
        // Updates bind every field in order (keys included, unchanged by the SET), then the state.
        let sets: Vec<String> = e
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.key)
            .map(|(i, f)| format!("{} = ?{}", ident(f.name), i + 1))
            .collect();
        let key_params: Vec<String> = e
            .key_fields()
            .map(|(i, f)| format!("{} = ?{}", ident(f.name), i + 1))
            .collect();
        let update = |deleted: u8| {
            format!(
                "UPDATE {} SET {}{}_hash = ?{}, _deleted = 0, _run_id = ?{}, _source = ?{}, _row = ?{}, _line = ?{} \
                 WHERE {} AND _deleted = {deleted}",
                ident(e.name),
                sets.join(", "),
                if sets.is_empty() { "" } else { ", " },
                nf + 1,
                nf + 2,
                nf + 3,
                nf + 4,
                nf + 5,
                key_params.join(" AND ")
            )
        };
        let (update_live, update_deleted) = (update(0), update(1));
        let rehash = format!(
            "UPDATE {} SET _hash = ?1 WHERE {}",
            ident(e.name),
            key_where(e, 2, None)
        );
        let mut counts = (0i64, 0i64, 0i64);
        // Source ids first (a batch mostly comes from one file), so that the four statements can
        // be prepared once and held for the whole batch rather than looked up for every row.
        let mut sources = Vec::with_capacity(batch.writes.len());
        let mut last: Option<(&Arc<str>, i64)> = None;
        for (r, _, _) in &batch.writes {
            let id = match last {
                Some((s, id)) if Arc::ptr_eq(s, &r.lineage.source) => id,
                _ => self.source_id(&r.lineage.source)?,
            };
            last = Some((&r.lineage.source, id));
            sources.push(id);
        }
        let mut statements: [Option<rusqlite::CachedStatement<'_>>; 4] = [None, None, None, None];
        for ((r, hash, kind), &source) in batch.writes.iter().zip(&sources) {
            let (slot, sql) = match kind {
                WriteKind::Insert => (0, &insert),
                WriteKind::Update => (1, &update_live),
                WriteKind::Reinsert => (2, &update_deleted),
                WriteKind::Rehash => (3, &rehash),
            };
            let stmt = match &mut statements[slot] {
                Some(stmt) => stmt,
                empty => empty.insert(self.conn.prepare_cached(sql).map_err(|x| self.err(x))?),
            };
            let result = if *kind == WriteKind::Rehash {
                stmt.raw_bind_parameter(1, &hash[..])
                    .and_then(|_| bind_record_key(stmt, 2, e, r))
                    .and_then(|_| stmt.raw_execute())
            } else {
                let mut bound = Ok(());
                for (i, v) in r.values.iter().enumerate() {
                    bound = bound.and_then(|_| stmt.raw_bind_parameter(i + 1, Bind(v)));
                }
                bound
                    .and_then(|_| stmt.raw_bind_parameter(nf + 1, &hash[..]))
                    .and_then(|_| stmt.raw_bind_parameter(nf + 2, batch.run))
                    .and_then(|_| stmt.raw_bind_parameter(nf + 3, source))
                    .and_then(|_| stmt.raw_bind_parameter(nf + 4, r.lineage.row as i64))
                    .and_then(|_| stmt.raw_bind_parameter(nf + 5, r.lineage.line as i64))
                    .and_then(|_| stmt.raw_execute())
            };
            let changed = match result {
                Ok(n) => n,
                Err(x) if *kind == WriteKind::Insert && is_conflict(&x) => 0,
                Err(x) => return Err(self.err(x)),
            };
            if changed != 1 {
                return Err(TargetError::Accounting(format!(
                    "{}: {} {:?} was decided {kind:?} but the table {}",
                    self.path,
                    e.name,
                    r.key(),
                    match kind {
                        WriteKind::Insert => "already holds it",
                        WriteKind::Reinsert => "holds no deleted row for it",
                        _ => "holds no live row for it",
                    }
                )));
            }
            match kind {
                WriteKind::Insert | WriteKind::Reinsert => counts.0 += 1,
                WriteKind::Update => counts.1 += 1,
                WriteKind::Rehash => {}
            }
        }
        if !batch.deletes.is_empty() {
            let sql = format!(
                "UPDATE {} SET _deleted = 1, _run_id = ?1 WHERE {} AND _deleted = 0",
                ident(e.name),
                key_where(e, 2, None)
            );
            for key in &batch.deletes {
                let values = super::keys::parsed_key(e, key)?;
                let mut stmt = self.conn.prepare_cached(&sql).map_err(|x| self.err(x))?;
                stmt.raw_bind_parameter(1, batch.run).map_err(|x| self.err(x))?;
                bind_key(&mut stmt, 2, &values).map_err(|x| self.err(x))?;
                if stmt.raw_execute().map_err(|x| self.err(x))? != 1 {
                    return Err(TargetError::Accounting(format!(
                        "{}: {} {key:?} was to be marked deleted but the table holds no live row for it",
                        self.path, e.name
                    )));
                }
                counts.2 += 1;
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO _opsync_batches (ledger, run, entity, seq, inserted, updated, deleted, token) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    batch.ledger,
                    batch.run,
                    e.name,
                    batch.seq as i64,
                    counts.0,
                    counts.1,
                    counts.2,
                    batch.token
                ])
            })
            .map_err(|x| self.err(x))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), TargetError> {
        self.in_batch = false;
        self.conn.execute_batch("COMMIT").map_err(|x| self.err(x))?;
        super::release_cached_pages(&self.conn);
        Ok(())
    }

    fn rollback(&mut self) {
        if std::mem::take(&mut self.in_batch) {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn unseen(&mut self, e: &'static Entity, limit: usize) -> Result<Vec<String>, TargetError> {
        match self.keys.get(e.name) {
            Some(index) => index.unseen(&self.conn, limit),
            None => Ok(Vec::new()),
        }
    }

    fn unseen_count(&mut self, e: &'static Entity) -> Result<u64, TargetError> {
        match self.keys.get(e.name) {
            Some(index) => index.unseen_count(&self.conn),
            None => Ok(0),
        }
    }

    fn committed(
        &mut self,
        ledger: &str,
        run: super::RunMark<'_>,
        e: &'static Entity,
        _swap_hash: Option<&str>,
    ) -> Result<Committed, TargetError> {
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_opsync_batches'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|x| self.err(x))?;
        if exists.is_none() {
            return Ok(Committed::Nothing);
        }
        // A killed run is settled before the target is prepared: markers may predate tokens.
        self.add_marker_tokens()?;
        let seqs: HashSet<u64> = self
            .conn
            .prepare("SELECT seq FROM _opsync_batches WHERE ledger = ?1 AND run = ?2 AND entity = ?3 AND token = ?4")
            .and_then(|mut s| {
                s.query_map(params![ledger, run.id, e.name, run.marker_token()], |r| {
                    r.get::<_, i64>(0)
                })?
                .map(|x| x.map(|v| v.max(0) as u64))
                .collect()
            })
            .map_err(|x| self.err(x))?;
        Ok(Committed::Some(seqs))
    }

    fn marked_runs(&mut self, ledger: &str) -> Result<Vec<(i64, String)>, TargetError> {
        self.conn
            .prepare("SELECT DISTINCT run, token FROM _opsync_batches WHERE ledger = ?1 ORDER BY run")
            .and_then(|mut s| s.query_map([ledger], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(|x| self.err(x))
    }
}
