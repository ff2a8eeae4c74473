//! File targets: one CSV or JSON Lines file per entity, for ERP import loaders and people.
//!
//! The file is the state. At the start of a run each entity's file is read into a private
//! workspace (a temporary SQLite database with the same tables as the `sqlite` target), so
//! verdicts, duplicate keys and snapshot deletes work exactly as they do there, whatever the file
//! holds now — a file emptied, cut short by a trial run or edited by hand is simply what the run
//! compares against. When the run completes, each entity's whole file is written from the
//! workspace (live records in key order) beside the old one, flushed to disk, its content hash is
//! recorded in the ledger, and it is renamed over the old file: a reader (or a crash) never sees
//! half a file, and the next run can tell from the hash whether a killed run's swap happened.
//! Keys absent from an upsert extract stay in the file; a snapshot removes the keys it lacks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::keys::{Bind, from_sql, ident, key_columns};
use super::sqlite::SqliteTarget;
use super::{Claim, Committed, KeyRef, Looked, Stored, Target, TargetBatch, TargetError, WriteKind};
use crate::model::{CanonicalRecord, Entity, Lineage, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// What a file's hash is recorded as when the file does not exist.
const ABSENT: &str = "absent";

/// A job writing an entity of a file target, as `.opsync-jobs.json` lists it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Writer {
    ledger: String,
    job: String,
    mode: String,
}

/// A folder of entity files.
pub struct FileTarget {
    dir: PathBuf,
    format: Format,
    work: Option<SqliteTarget>,
    entities: Vec<&'static Entity>,
    /// Entities whose records this run inserted, updated or deleted.
    changed: HashSet<&'static str>,
    /// Files written completely and waiting to be renamed into place: (tmp, final).
    staged: Vec<(PathBuf, PathBuf)>,
    /// Entities whose new file this run renamed into place.
    swapped: HashSet<&'static str>,
    /// Live records of each entity's file as the run found it: what the file still holds while
    /// the run's changes wait in the workspace (and after a swap that failed).
    found: HashMap<&'static str, u64>,
    /// Where each entity's file really is: a file that is a symbolic link is written beside the
    /// file the link names and renamed over that one, so the link stays a link.
    real: HashMap<&'static str, PathBuf>,
    locks: Vec<std::fs::File>,
}

impl FileTarget {
    pub fn new(dir: &Path, format: Format) -> Self {
        FileTarget {
            dir: dir.to_path_buf(),
            format,
            work: None,
            entities: Vec::new(),
            changed: HashSet::new(),
            staged: Vec::new(),
            swapped: HashSet::new(),
            found: HashMap::new(),
            real: HashMap::new(),
            locks: Vec::new(),
        }
    }

    /// The file of the entity named `name` (as the job names it: links not followed).
    pub fn entity_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{}", self.format.ext()))
    }

    /// The list of the jobs writing each entity.
    pub fn jobs_path(&self) -> PathBuf {
        self.dir.join(".opsync-jobs.json")
    }

    fn path(&self, e: &Entity) -> PathBuf {
        self.entity_path(e.name)
    }

    /// Where an entity's file really is (found in [`FileTarget::prepare_files`]).
    fn real_path(&self, e: &Entity) -> PathBuf {
        self.real.get(e.name).cloned().unwrap_or_else(|| self.path(e))
    }

    /// Follow an entity file's links to the plain file that is replaced: a loop, a missing folder
    /// or something that is not a plain file is an error naming the file.
    fn resolve(&self, e: &Entity) -> Result<PathBuf, TargetError> {
        let path = self.path(e);
        let fail = |why: String| {
            TargetError::Other(format!(
                "{}: {why}; a file target's entity file must be a plain file or a link to one",
                path.display()
            ))
        };
        match super::landing(&path) {
            Ok(super::Landing::File { path, .. }) => Ok(path),
            Ok(super::Landing::Special { path: real, .. }) => {
                Err(fail(format!("{} is not a plain file", real.display())))
            }
            Ok(super::Landing::OwnFd(fd)) => Err(fail(format!("it leads to file descriptor {fd} of opsync"))),
            Err(e) => Err(TargetError::Other(format!("{}: {e}", path.display()))),
        }
    }

    fn tmp(&self, e: &Entity) -> PathBuf {
        super::staged::staging_path(&self.real_path(e), false)
    }

    fn io(path: &Path, e: std::io::Error) -> TargetError {
        TargetError::Io {
            path: path.display().to_string(),
            source: e,
        }
    }

    /// Register `claim` for every entity in `DIR/.opsync-jobs.json` (the jobs writing each
    /// entity and their modes), refusing a claim that conflicts with another job's.
    fn register(
        &self,
        entities: &[&'static Entity],
        claim: &Claim<'_>,
        wait: &dyn Fn(&str),
    ) -> Result<(), TargetError> {
        let path = self.jobs_path();
        let lock_dir = self.dir.join(".opsync.locks");
        let _lock =
            super::lock_file(&lock_dir, "_jobs", wait, "the list of jobs").map_err(|x| Self::io(&lock_dir, x))?;
        let mut jobs: BTreeMap<String, Vec<Writer>> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|x| other(&path, x))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Self::io(&path, e)),
        };
        let forget = format!(
            "remove the entry with \"job\": \"{{job}}\" and \"ledger\": \"{{ledger}}\" from the list of this entity in {}",
            path.display()
        );
        for e in entities {
            let writers = jobs.entry(e.name.to_string()).or_default();
            let others: Vec<super::OtherWriter> = writers
                .iter()
                .filter(|w| !(w.ledger == claim.ledger && w.job == claim.job))
                .map(|w| super::OtherWriter {
                    job: w.job.clone(),
                    mode: w.mode.clone(),
                    ledger: w.ledger.clone(),
                })
                .collect();
            claim.check(&self.dir.display().to_string(), e.name, &others, &forget)?;
            writers.retain(|w| !(w.ledger == claim.ledger && w.job == claim.job));
            writers.push(Writer {
                ledger: claim.ledger.to_string(),
                job: claim.job.to_string(),
                mode: super::mode_name(claim.mode).to_string(),
            });
        }
        // Under the lock, a temporary list is a killed run's: it would only take space.
        super::StagedFile::remove_stale(&path);
        let mut file = super::StagedFile::create(&path).map_err(|x| other(&path, x))?;
        serde_json::to_writer_pretty(&mut file, &jobs).map_err(|x| other(&path, x))?;
        file.commit().map_err(|x| Self::io(&path, x))
    }

    /// Lock, register and read the entities' files into the workspace.
    fn prepare_files(
        &mut self,
        entities: &[&'static Entity],
        claim: &Claim<'_>,
        wait: &dyn Fn(&str),
    ) -> Result<(), TargetError> {
        std::fs::create_dir_all(&self.dir).map_err(|x| Self::io(&self.dir, x))?;
        let lock_dir = self.dir.join(".opsync.locks");
        for e in entities {
            let holder = format!("{} in {}", e.name, self.dir.display());
            let lock = super::lock_file(&lock_dir, e.name, wait, &holder).map_err(|x| Self::io(&lock_dir, x))?;
            self.locks.push(lock);
            let real = self.resolve(e)?;
            self.real.insert(e.name, real);
            // A killed run's half-written file, under this lock no other run is writing it: it
            // would only take the space this run needs.
            let _ = std::fs::remove_file(self.tmp(e));
        }
        self.register(entities, claim, wait)?;
        let mut work = SqliteTarget::workspace()?;
        work.prepare(entities, claim, &|_| {})?;
        self.work = Some(work);
        self.entities = entities.to_vec();
        for e in entities {
            self.load_existing(e)?;
            self.work()?.reindex(e)?;
        }
        Ok(())
    }

    fn work(&mut self) -> Result<&mut SqliteTarget, TargetError> {
        self.work
            .as_mut()
            .ok_or_else(|| TargetError::Other("the file target was used before it was prepared".into()))
    }

    /// Read an entity's current file into the workspace table, each record with its hash.
    fn load_existing(&mut self, e: &'static Entity) -> Result<(), TargetError> {
        let path = self.path(e);
        if !path.exists() {
            return Ok(());
        }
        let records = read_file(&path, self.format, e)?;
        let work = self.work()?;
        let nf = e.fields.len();
        let cols: Vec<String> = e.fields.iter().map(|f| ident(f.name)).collect();
        let marks: Vec<String> = (1..=nf + 2).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}, _hash, _line) VALUES ({})",
            ident(e.name),
            cols.join(", "),
            marks.join(", ")
        );
        let conn = work.connection();
        let tx = conn.unchecked_transaction().map_err(|x| sqlite(&path, x))?;
        {
            let mut stmt = conn.prepare_cached(&sql).map_err(|x| sqlite(&path, x))?;
            for (line, r) in records {
                let hash = r.content_hash();
                let mut bound = Ok(());
                for (i, v) in r.values.iter().enumerate() {
                    bound = bound.and_then(|_| stmt.raw_bind_parameter(i + 1, Bind(v)));
                }
                let result = bound
                    .and_then(|_| stmt.raw_bind_parameter(nf + 1, &hash[..]))
                    .and_then(|_| stmt.raw_bind_parameter(nf + 2, line as i64))
                    .and_then(|_| stmt.raw_execute());
                if let Err(x) = result {
                    return Err(TargetError::Other(format!(
                        "{}:{line}: {} {:?} appears twice in the file ({x}); remove one of the two lines",
                        path.display(),
                        e.name,
                        r.key()
                    )));
                }
            }
        }
        tx.commit().map_err(|x| sqlite(&path, x))
    }

    /// Write an entity's live workspace records, in key order, to its temporary file, flushed to
    /// disk, with the permissions of the file `path` it replaces.
    fn write_file(&mut self, e: &'static Entity, tmp: &Path, path: &Path) -> Result<(), TargetError> {
        let format = self.format;
        let work = self.work()?;
        let cols: Vec<String> = e.fields.iter().map(|f| ident(f.name)).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE _deleted = 0 ORDER BY {}",
            cols.join(", "),
            ident(e.name),
            key_columns(e)
        );
        let mut stmt = work.connection().prepare(&sql).map_err(|x| sqlite(tmp, x))?;
        let mut rows = stmt.raw_query();
        let mut next = || -> Result<Option<Vec<Value>>, TargetError> {
            let Some(row) = rows.next().map_err(|x| sqlite(tmp, x))? else {
                return Ok(None);
            };
            let mut values = Vec::with_capacity(e.fields.len());
            for (i, f) in e.fields.iter().enumerate() {
                values.push(from_sql(f.ty, row.get(i).map_err(|x| sqlite(tmp, x))?));
            }
            Ok(Some(values))
        };
        let out = BufWriter::new(super::create_private(tmp).map_err(|x| Self::io(tmp, x))?);
        let out = match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(e.fields.iter().map(|f| f.name))
                    .map_err(|x| other(tmp, x))?;
                while let Some(values) = next()? {
                    w.write_record(values.iter().map(|v| v.to_text().unwrap_or_default()))
                        .map_err(|x| other(tmp, x))?;
                }
                w.into_inner().map_err(|x| other(tmp, x.error()))?
            }
            Format::Jsonl => {
                let mut out = out;
                while let Some(values) = next()? {
                    let json: serde_json::Map<String, serde_json::Value> = e
                        .fields
                        .iter()
                        .zip(&values)
                        .map(|(f, v)| (f.name.to_string(), v.to_json()))
                        .collect();
                    serde_json::to_writer(&mut out, &json).map_err(|x| other(tmp, x))?;
                    out.write_all(b"\n").map_err(|x| Self::io(tmp, x))?;
                }
                out
            }
        };
        let file = out.into_inner().map_err(|x| Self::io(tmp, x.into_error()))?;
        super::staged::take_over(&file, path).map_err(|x| Self::io(path, x))?;
        file.sync_all().map_err(|x| Self::io(tmp, x))
    }
}

fn sqlite(path: &Path, e: rusqlite::Error) -> TargetError {
    TargetError::Sqlite {
        target: path.display().to_string(),
        source: e,
    }
}

fn other(path: &Path, e: impl std::fmt::Display) -> TargetError {
    TargetError::Other(format!("{}: {e}", path.display()))
}

/// The content hash of a file (`absent` when there is none).
fn file_hash(path: &Path) -> Result<String, TargetError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ABSENT.into()),
        Err(e) => return Err(FileTarget::io(path, e)),
    };
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|x| FileTarget::io(path, x))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Every record of an entity file, with its line number. A file a person edited is read by its
/// header's names; a column the entity does not have, or a value that is not of its field's type,
/// is an error naming the line.
fn read_file(path: &Path, format: Format, e: &'static Entity) -> Result<Vec<(u64, CanonicalRecord)>, TargetError> {
    let source: std::sync::Arc<str> = path.display().to_string().into();
    let record = |values, line| CanonicalRecord {
        entity: e,
        values,
        lineage: Lineage {
            source: source.clone(),
            locator: None,
            row: 0,
            line,
        },
    };
    let parse = |f: &crate::model::Field, text: &str, line: u64| {
        Value::parse_stored(f.ty, text)
            .map_err(|m| TargetError::Other(format!("{}:{line}: {}: {m}", path.display(), f.name)))
    };
    let mut out = Vec::new();
    match format {
        Format::Csv => {
            let mut r = csv::Reader::from_path(path).map_err(|x| other(path, x))?;
            let header = r.headers().map_err(|x| other(path, x))?.clone();
            let mut fields = Vec::new();
            for h in &header {
                let i = e.field_index(h).ok_or_else(|| {
                    other(
                        path,
                        format!(
                            "column {h:?} is not a field of {}; was the file edited by hand?",
                            e.name
                        ),
                    )
                })?;
                fields.push(i);
            }
            for rec in r.records() {
                let rec = rec.map_err(|x| other(path, x))?;
                let line = rec.position().map_or(0, |p| p.line());
                let mut values = vec![Value::Null; e.fields.len()];
                for (text, &i) in rec.iter().zip(&fields) {
                    if !text.is_empty() {
                        values[i] = parse(&e.fields[i], text, line)?;
                    }
                }
                out.push((line, record(values, line)));
            }
        }
        Format::Jsonl => {
            let f = std::fs::File::open(path).map_err(|x| FileTarget::io(path, x))?;
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line_no = n as u64 + 1;
                let line = line.map_err(|x| FileTarget::io(path, x))?;
                if line.trim().is_empty() {
                    continue;
                }
                let doc: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&line).map_err(|x| other(path, format!("line {line_no}: {x}")))?;
                let mut values = vec![Value::Null; e.fields.len()];
                for (k, v) in &doc {
                    let i = e
                        .field_index(k)
                        .ok_or_else(|| other(path, format!("line {line_no}: {k:?} is not a field of {}", e.name)))?;
                    values[i] = Value::parse_json(e.fields[i].ty, v)
                        .map_err(|m| other(path, format!("line {line_no}: {k}: {m}")))?;
                }
                out.push((line_no, record(values, line_no)));
            }
        }
    }
    Ok(out)
}

/// The record with this key in an entity file (`opsync explain`).
pub fn read_file_record(
    path: &Path,
    csv: bool,
    e: &'static Entity,
    key: &str,
) -> Result<Option<CanonicalRecord>, TargetError> {
    let format = if csv { Format::Csv } else { Format::Jsonl };
    Ok(read_file(path, format, e)?
        .into_iter()
        .map(|(_, r)| r)
        .find(|r| r.key() == key))
}

impl Target for FileTarget {
    fn id(&self) -> String {
        let dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        format!("{}:{}", self.format.ext(), dir.display())
    }

    fn prepare(
        &mut self,
        entities: &[&'static Entity],
        claim: &Claim<'_>,
        wait: &dyn Fn(&str),
    ) -> Result<(), TargetError> {
        super::refuse_marked(&self.dir, true)?;
        let dir = self.dir.clone();
        self.prepare_files(entities, claim, wait)
            .map_err(|e| super::explain_denied(&dir, true, e))?;
        for e in entities {
            let n = self.work()?.live_count(e)?;
            self.found.insert(e.name, n);
        }
        Ok(())
    }

    fn live_count(&mut self, e: &'static Entity) -> Result<u64, TargetError> {
        self.work()?.live_count(e)
    }

    /// The workspace's count once the run's file is in place (or when the run changed nothing),
    /// else what the file held when the run began: it still does.
    fn live_in_place(&mut self, e: &'static Entity) -> Result<u64, TargetError> {
        match self.found.get(e.name) {
            Some(n) if self.changed.contains(e.name) && !self.swapped.contains(e.name) => Ok(*n),
            _ => self.work()?.live_count(e),
        }
    }

    fn is_empty(&mut self, e: &'static Entity) -> Result<bool, TargetError> {
        self.work()?.is_empty(e)
    }

    fn begin(&mut self) -> Result<(), TargetError> {
        self.work()?.begin()
    }

    fn lookup(&mut self, e: &'static Entity, keys: &[KeyRef<'_>]) -> Result<Vec<Looked>, TargetError> {
        self.work()?.lookup(e, keys)
    }

    fn states(&mut self, e: &'static Entity, records: &[&CanonicalRecord]) -> Result<Vec<Option<Stored>>, TargetError> {
        self.work()?.states(e, records)
    }

    fn fetch(
        &mut self,
        e: &'static Entity,
        records: &[&CanonicalRecord],
    ) -> Result<HashMap<String, CanonicalRecord>, TargetError> {
        self.work()?.fetch(e, records)
    }

    fn write(&mut self, e: &'static Entity, batch: &TargetBatch<'_>) -> Result<(), TargetError> {
        if !batch.deletes.is_empty() || batch.writes.iter().any(|(_, _, k)| *k != WriteKind::Rehash) {
            self.changed.insert(e.name);
        }
        self.work()?.write(e, batch)
    }

    fn commit(&mut self) -> Result<(), TargetError> {
        self.work()?.commit()
    }

    fn rollback(&mut self) {
        if let Some(w) = self.work.as_mut() {
            w.rollback();
        }
    }

    fn unseen(&mut self, e: &'static Entity, limit: usize) -> Result<Vec<String>, TargetError> {
        self.work()?.unseen(e, limit)
    }

    fn unseen_count(&mut self, e: &'static Entity) -> Result<u64, TargetError> {
        self.work()?.unseen_count(e)
    }

    fn prepare_swap(&mut self) -> Result<Vec<(&'static str, String)>, TargetError> {
        let mut hashes = Vec::new();
        for e in self.entities.clone() {
            let (tmp, path) = (self.tmp(e), self.real_path(e));
            if self.changed.contains(e.name) || !path.exists() {
                // Staged before it is written, so that a failed write (a full disk) is removed.
                self.staged.push((tmp.clone(), path.clone()));
                self.write_file(e, &tmp, &path)?;
                hashes.push((e.name, file_hash(&tmp)?));
            } else {
                hashes.push((e.name, file_hash(&path)?));
            }
        }
        Ok(hashes)
    }

    fn swap(&mut self) -> Result<(), TargetError> {
        let staged = std::mem::take(&mut self.staged);
        let entities = self.entities.clone();
        for (n, (tmp, path)) in staged.iter().enumerate() {
            let renamed = match crate::pipeline::failpoint::error("rename") {
                Some(x) => Err(x),
                None => std::fs::rename(tmp, path),
            };
            if let Err(x) = renamed {
                // The files not renamed are removed when the target is dropped.
                self.staged = staged[n..].to_vec();
                return Err(Self::io(path, x));
            }
            if let Some(e) = entities.iter().find(|e| self.real_path(e) == *path) {
                self.swapped.insert(e.name);
            }
        }
        // The renames themselves survive a power loss once their folders are flushed.
        let mut dirs: Vec<&Path> = staged.iter().filter_map(|(_, path)| path.parent()).collect();
        dirs.dedup();
        for dir in dirs {
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    fn committed(
        &mut self,
        _ledger: &str,
        _run: super::RunMark<'_>,
        e: &'static Entity,
        swap_hash: Option<&str>,
    ) -> Result<Committed, TargetError> {
        // No markers to collide: the hash is the ledger's own record of this run (`run_swaps`, by
        // run id), so a ledger restored from a backup has none for the runs it lost, and a file
        // matching a hash holds exactly what the run meant to swap in, whoever wrote it.
        let Some(expected) = swap_hash else {
            return Ok(Committed::Nothing);
        };
        Ok(if file_hash(&self.path(e))? == expected {
            Committed::All
        } else {
            Committed::Nothing
        })
    }
}

impl Drop for FileTarget {
    fn drop(&mut self) {
        // Files of a run that did not complete are never put in place.
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
