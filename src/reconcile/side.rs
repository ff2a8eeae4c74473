//! The two sides of a reconciliation and how their records are read: a table of a SQLite target
//! (what a job loaded), a job (its source read through its mapping, nothing loaded), or a file of
//! canonical records (`opsync transform` output). Each side is read on a thread of its own and
//! handed over a bounded channel, so the comparison streams whatever the side.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::ReconcileError;
use crate::model::{CanonicalRecord, Entity, Value};
use crate::pipeline::{RowEvent, Silent};

/// Records handed from a side's thread at a time, at most.
const IN_FLIGHT: usize = 4096;

/// Where a side's records come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SideSpec {
    /// A SQLite target: the entity's table, its live rows.
    Sqlite(PathBuf),
    /// A job file: its source through its mapping.
    Job(PathBuf),
    /// Canonical records as JSON Lines.
    Jsonl(PathBuf),
}

impl SideSpec {
    /// `sqlite:PATH`, `job:PATH` or `jsonl:PATH`; without a prefix, by the file's name: `.db`,
    /// `.sqlite` or `.sqlite3` a target, `.toml` a job, `.jsonl` canonical records.
    pub fn parse(s: &str) -> Result<SideSpec, ReconcileError> {
        if let Some((kind, path)) = s.split_once(':')
            && let Some(side) = Self::of_kind(kind, path)
        {
            return Ok(side);
        }
        let lower = s.to_ascii_lowercase();
        let kind = [
            (".db", "sqlite"),
            (".sqlite", "sqlite"),
            (".sqlite3", "sqlite"),
            (".toml", "job"),
            (".jsonl", "jsonl"),
        ]
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map(|(_, kind)| *kind);
        kind.and_then(|k| Self::of_kind(k, s)).ok_or_else(|| {
            ReconcileError::Spec(format!(
                "cannot tell what side {s:?} is: name a SQLite target (sqlite:FILE or FILE.db), a job \
                 (job:FILE or FILE.job.toml) or canonical records (jsonl:FILE or FILE.jsonl)"
            ))
        })
    }

    fn of_kind(kind: &str, path: &str) -> Option<SideSpec> {
        let p = PathBuf::from(path);
        match kind {
            "sqlite" => Some(SideSpec::Sqlite(p)),
            "job" => Some(SideSpec::Job(p)),
            "jsonl" => Some(SideSpec::Jsonl(p)),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            SideSpec::Sqlite(p) => format!("sqlite:{}", p.display()),
            SideSpec::Job(p) => format!("job:{}", p.display()),
            SideSpec::Jsonl(p) => format!("jsonl:{}", p.display()),
        }
    }

    /// Start reading the side's records of `entity`. What can be checked before a record is read
    /// (the file exists, the table is there, the job maps the entity) fails here.
    pub fn open(&self, entity: &'static Entity) -> Result<Opened, ReconcileError> {
        let label = self.label();
        let fail = |message: String| ReconcileError::Side {
            side: label.clone(),
            message,
        };
        let (rows, sensitive) = match self {
            SideSpec::Sqlite(path) => (sqlite_rows(path, entity).map_err(fail)?, Vec::new()),
            SideSpec::Jsonl(path) => (jsonl_rows(path, entity).map_err(fail)?, Vec::new()),
            SideSpec::Job(path) => job_rows(path, entity).map_err(fail)?,
        };
        Ok(Opened { label, rows, sensitive })
    }
}

/// One record of a side: its key, its values in the entity's field order, where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: String,
    pub values: Vec<Value>,
    pub at: Option<String>,
}

impl Record {
    fn of(r: CanonicalRecord, at: Option<String>) -> Record {
        Record {
            key: r.key(),
            values: r.values,
            at,
        }
    }
}

/// A side being read.
pub struct Opened {
    pub label: String,
    pub rows: Rows,
    /// Fields the side's mapping marks sensitive: their values are masked in every report.
    pub sensitive: Vec<&'static str>,
}

impl Opened {
    /// A side of records already in hand.
    pub fn from_records(label: &str, records: Vec<Record>) -> Opened {
        Opened {
            label: label.to_string(),
            sensitive: Vec::new(),
            rows: spawn(label.to_string(), move |to| {
                for r in records {
                    if to.send(Message::Record(r)).is_err() {
                        break;
                    }
                }
                Ok(())
            }),
        }
    }
}

enum Message {
    Record(Record),
    Note(String),
    Failed(String),
}

/// A side's records as they arrive from its thread, and the notes it left on the way.
pub struct Rows {
    label: String,
    from: Receiver<Message>,
    notes: Vec<String>,
}

impl Rows {
    /// What the side's reader said about rows it did not hand over.
    pub fn notes(&self) -> Vec<String> {
        self.notes.iter().map(|n| format!("{}: {n}", self.label)).collect()
    }
}

impl Iterator for Rows {
    type Item = Result<Record, ReconcileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.from.recv().ok()? {
                Message::Record(r) => return Some(Ok(r)),
                Message::Note(n) => self.notes.push(n),
                Message::Failed(message) => {
                    return Some(Err(ReconcileError::Side {
                        side: self.label.clone(),
                        message,
                    }));
                }
            }
        }
    }
}

/// Run `read` on a thread of its own, its records and notes sent to the returned rows.
fn spawn(label: String, read: impl FnOnce(&SyncSender<Message>) -> Result<(), String> + Send + 'static) -> Rows {
    let (to, from) = sync_channel(IN_FLIGHT);
    std::thread::spawn(move || {
        if let Err(message) = read(&to) {
            let _ = to.send(Message::Failed(message));
        }
    });
    Rows {
        label,
        from,
        notes: Vec::new(),
    }
}

fn sqlite_rows(path: &Path, entity: &'static Entity) -> Result<Rows, String> {
    use rusqlite::{Connection, OpenFlags};
    if !path.is_file() {
        return Err(format!("no such file {}", path.display()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open {} as SQLite: {e}", path.display()))?;
    let columns: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{}')", entity.name))
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if columns.is_empty() {
        return Err(format!(
            "{} has no table {}: no job has loaded {} into it yet",
            path.display(),
            entity.name,
            entity.name
        ));
    }
    let fields: Vec<String> = entity
        .fields
        .iter()
        .map(|f| {
            if columns.iter().any(|c| c == f.name) {
                format!("\"{}\"", f.name)
            } else {
                "NULL".to_string()
            }
        })
        .collect();
    let live = if columns.iter().any(|c| c == "_deleted") {
        " WHERE _deleted = 0"
    } else {
        ""
    };
    let sql = format!("SELECT {} FROM \"{}\"{live}", fields.join(", "), entity.name);
    let shown = path.display().to_string();
    Ok(spawn(format!("sqlite:{shown}"), move |to| {
        let fail = |e: rusqlite::Error| format!("cannot read table {} of {shown}: {e}", entity.name);
        let mut stmt = conn.prepare(&sql).map_err(fail)?;
        let mut rows = stmt.query([]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let mut values = Vec::with_capacity(entity.fields.len());
            for (i, f) in entity.fields.iter().enumerate() {
                let v: rusqlite::types::Value = row.get(i).map_err(fail)?;
                values.push(crate::target::from_sql(f.ty, v));
            }
            let r = CanonicalRecord {
                entity,
                values,
                lineage: crate::model::Lineage {
                    source: shown.as_str().into(),
                    locator: Some(entity.name.into()),
                    row: 0,
                    line: 0,
                },
            };
            if to.send(Message::Record(Record::of(r, None))).is_err() {
                break;
            }
        }
        Ok(())
    }))
}

fn jsonl_rows(path: &Path, entity: &'static Entity) -> Result<Rows, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let shown = path.display().to_string();
    Ok(spawn(format!("jsonl:{shown}"), move |to| {
        let (mut rejected, mut invalid, mut other) = (0u64, 0u64, 0u64);
        for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
            let line_no = n as u64 + 1;
            let line = line.map_err(|e| format!("{shown}:{line_no}: {e}"))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v = crate::source::json::parse(&line, &shown, Some(line_no)).map_err(|e| e.to_string())?;
            if v.get("rejected").is_some() {
                rejected += 1;
                continue;
            }
            match CanonicalRecord::from_line(&v) {
                Err(e) => return Err(format!("{shown}:{line_no}: not a canonical record ({e})")),
                Ok(Err(_)) => invalid += 1,
                Ok(Ok(r)) if r.entity.name != entity.name => other += 1,
                // A record without its key pairs with nothing: never with another keyless one.
                Ok(Ok(r)) if r.entity.key_fields().any(|(i, _)| r.values[i].is_null()) => invalid += 1,
                Ok(Ok(r)) => {
                    let at = Some(r.lineage.to_string());
                    if to.send(Message::Record(Record::of(r, at))).is_err() {
                        return Ok(());
                    }
                }
            }
        }
        for (n, what) in [
            (rejected, "rejected lines (their rows are not compared)"),
            (
                invalid,
                "records without a key or with values not of their fields' types (not compared)",
            ),
            (other, "records of other entities (skipped)"),
        ] {
            if n > 0 {
                let _ = to.send(Message::Note(format!("{n} {what}")));
            }
        }
        Ok(())
    }))
}

fn job_rows(path: &Path, entity: &'static Entity) -> Result<(Rows, Vec<&'static str>), String> {
    let job = crate::config::load_job(path).map_err(|e| e.to_string())?;
    let (mapping, mut source, binding) = crate::pipeline::open_and_bind(&job).map_err(|e| e.to_string())?;
    if !mapping.entity_names().contains(&entity.name) {
        return Err(format!(
            "the job maps {} but not {}",
            mapping.entity_names().join(", "),
            entity.name
        ));
    }
    let sensitive = mapping
        .sensitive_fields()
        .into_iter()
        .filter(|(e, _)| *e == entity.name)
        .map(|(_, f)| f)
        .collect();
    let rows = spawn(format!("job:{}", path.display()), move |to| {
        let (mut rejected, mut stopped) = (0u64, false);
        let (_, result) = crate::pipeline::drive(source.as_mut(), &mapping, &binding, None, &Silent, |_, event| {
            match event {
                RowEvent::Record(r) if r.entity.name == entity.name => {
                    let at = Some(r.lineage.to_string());
                    if to.send(Message::Record(Record::of(r, at))).is_err() {
                        stopped = true;
                        return Err(crate::pipeline::PipelineError::Input("the comparison stopped".into()));
                    }
                }
                RowEvent::Record(_) => {}
                RowEvent::Reject(r) | RowEvent::Malformed(r) => {
                    if r.entity == entity.name {
                        rejected += 1;
                    }
                }
            }
            Ok(())
        });
        if stopped {
            return Ok(());
        }
        result.map_err(|e| e.to_string())?;
        if rejected > 0 {
            let _ = to.send(Message::Note(format!(
                "{rejected} rows rejected by the job's mapping are not compared (see them with opsync preview)"
            )));
        }
        Ok(())
    });
    Ok((rows, sensitive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_known_by_prefix_or_by_name() {
        assert_eq!(
            SideSpec::parse("out/t.db").unwrap(),
            SideSpec::Sqlite("out/t.db".into())
        );
        assert_eq!(SideSpec::parse("sqlite:x").unwrap(), SideSpec::Sqlite("x".into()));
        assert_eq!(
            SideSpec::parse("a.job.toml").unwrap(),
            SideSpec::Job("a.job.toml".into())
        );
        assert_eq!(SideSpec::parse("jsonl:c.txt").unwrap(), SideSpec::Jsonl("c.txt".into()));
        assert_eq!(SideSpec::parse("C.JSONL").unwrap(), SideSpec::Jsonl("C.JSONL".into()));
        assert!(SideSpec::parse("items.csv").is_err());
        // A Windows drive letter is not a kind.
        assert!(SideSpec::parse("c:data.csv").is_err());
    }
}
