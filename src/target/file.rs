//! File targets: one CSV or JSON Lines file per entity, for ERP import loaders and people.
//!
//! Each run writes the records of its extract to `ENTITY.csv.tmp` and renames it over
//! `ENTITY.csv` only when the run completes, so a reader (or a crash) never sees half a file.
//! Keys deleted from the extract are simply absent from the new file. A run that changed
//! nothing leaves the files untouched.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Target, TargetError, create_private};
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

enum Writer {
    Csv(Box<csv::Writer<BufWriter<std::fs::File>>>),
    Jsonl(BufWriter<std::fs::File>),
}

/// A folder of entity files.
pub struct FileTarget {
    dir: PathBuf,
    format: Format,
    writers: HashMap<&'static str, Writer>,
}

impl FileTarget {
    pub fn new(dir: &Path, format: Format) -> Self {
        FileTarget {
            dir: dir.to_path_buf(),
            format,
            writers: HashMap::new(),
        }
    }

    fn path(&self, e: &Entity) -> PathBuf {
        self.dir.join(format!("{}.{}", e.name, self.format.ext()))
    }

    fn tmp(&self, e: &Entity) -> PathBuf {
        self.dir.join(format!("{}.{}.tmp", e.name, self.format.ext()))
    }

    fn io(&self, path: &Path, e: std::io::Error) -> TargetError {
        TargetError::Io {
            path: path.display().to_string(),
            source: e,
        }
    }

    fn writer(&mut self, e: &'static Entity) -> Result<&mut Writer, TargetError> {
        if !self.writers.contains_key(e.name) {
            let tmp = self.tmp(e);
            let file = create_private(&tmp).map_err(|x| self.io(&tmp, x))?;
            let w = match self.format {
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(BufWriter::new(file));
                    w.write_record(e.fields.iter().map(|f| f.name))
                        .map_err(|x| TargetError::Other(format!("{}: {x}", tmp.display())))?;
                    Writer::Csv(Box::new(w))
                }
                Format::Jsonl => Writer::Jsonl(BufWriter::new(file)),
            };
            self.writers.insert(e.name, w);
        }
        self.writers
            .get_mut(e.name)
            .ok_or_else(|| TargetError::Other("writer vanished".into()))
    }

    /// Every record in an entity's current file.
    fn read_all(&self, e: &'static Entity) -> Result<Vec<CanonicalRecord>, TargetError> {
        let path = self.path(e);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let source: std::sync::Arc<str> = path.display().to_string().into();
        let lineage = |row: u64| Lineage {
            source: source.clone(),
            locator: None,
            row,
            line: row + 1,
        };
        let mut out = Vec::new();
        match self.format {
            Format::Csv => {
                let mut r = csv::Reader::from_path(&path)
                    .map_err(|x| TargetError::Other(format!("{}: {x}", path.display())))?;
                for (n, rec) in r.records().enumerate() {
                    let rec = rec.map_err(|x| TargetError::Other(format!("{}: {x}", path.display())))?;
                    let values = e
                        .fields
                        .iter()
                        .zip(rec.iter())
                        .map(|(f, s)| {
                            if s.is_empty() {
                                Value::Null
                            } else {
                                Value::from_stored_text(f.ty, s)
                            }
                        })
                        .collect();
                    out.push(CanonicalRecord {
                        entity: e,
                        values,
                        lineage: lineage(n as u64 + 1),
                    });
                }
            }
            Format::Jsonl => {
                let f = std::fs::File::open(&path).map_err(|x| self.io(&path, x))?;
                for (n, line) in BufReader::new(f).lines().enumerate() {
                    let line = line.map_err(|x| self.io(&path, x))?;
                    let doc: serde_json::Value = serde_json::from_str(&line)
                        .map_err(|x| TargetError::Other(format!("{}:{}: {x}", path.display(), n + 1)))?;
                    let values = e
                        .fields
                        .iter()
                        .map(|f| Value::from_json(f.ty, doc.get(f.name).unwrap_or(&serde_json::Value::Null)))
                        .collect();
                    out.push(CanonicalRecord {
                        entity: e,
                        values,
                        lineage: lineage(n as u64),
                    });
                }
            }
        }
        Ok(out)
    }
}

impl Target for FileTarget {
    fn full_rewrite(&self) -> bool {
        true
    }

    fn id(&self) -> String {
        let dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        format!("{}:{}", self.format.ext(), dir.display())
    }

    fn prepare(&mut self, _entities: &[&'static Entity]) -> Result<(), TargetError> {
        std::fs::create_dir_all(&self.dir).map_err(|x| self.io(&self.dir.clone(), x))
    }

    fn fetch(&mut self, e: &'static Entity, keys: &[String]) -> Result<HashMap<String, CanonicalRecord>, TargetError> {
        let wanted: HashSet<&String> = keys.iter().collect();
        Ok(self
            .read_all(e)?
            .into_iter()
            .map(|r| (r.key(), r))
            .filter(|(k, _)| wanted.contains(k))
            .collect())
    }

    fn write(
        &mut self,
        e: &'static Entity,
        records: &[&CanonicalRecord],
        _deleted: &[String],
        _run: i64,
    ) -> Result<(), TargetError> {
        let tmp = self.tmp(e);
        let w = self.writer(e)?;
        for r in records {
            match w {
                Writer::Csv(w) => w
                    .write_record(r.values.iter().map(|v| v.to_text().unwrap_or_default()))
                    .map_err(|x| TargetError::Other(format!("{}: {x}", tmp.display())))?,
                Writer::Jsonl(w) => {
                    serde_json::to_writer(&mut *w, &r.to_json())
                        .map_err(|x| TargetError::Other(format!("{}: {x}", tmp.display())))?;
                    w.write_all(b"\n").map_err(|x| TargetError::Io {
                        path: tmp.display().to_string(),
                        source: x,
                    })?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, changed: bool) -> Result<(), TargetError> {
        let writers = std::mem::take(&mut self.writers);
        for (name, w) in writers {
            let e = crate::model::schema::entity(name)
                .ok_or_else(|| TargetError::Other(format!("unknown entity {name}")))?;
            let (tmp, path) = (self.tmp(e), self.path(e));
            match w {
                Writer::Csv(mut w) => w.flush().map_err(|x| self.io(&tmp, x))?,
                Writer::Jsonl(mut w) => w.flush().map_err(|x| self.io(&tmp, x))?,
            }
            if changed || !path.exists() {
                std::fs::rename(&tmp, &path).map_err(|x| self.io(&path, x))?;
            } else {
                std::fs::remove_file(&tmp).map_err(|x| self.io(&tmp, x))?;
            }
        }
        Ok(())
    }
}
