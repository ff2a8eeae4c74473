//! Sources: read files into raw records, each with its lineage.
//!
//! A source knows nothing of mappings or targets. Every kind yields [`RawRecord`]s through the
//! [`Source`] trait; columns (for flat files) are known before the first record so that a
//! mapping can be bound to them, and schema drift caught, before anything loads.

mod csv;
mod encoding;
mod excel;
mod fixed_width;
mod json;
mod raw_jsonl;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::config::SourceConfig;
use crate::model::RawRecord;

pub use encoding::{Decoder, resolve_encoding};
pub use excel::MAX_UNPACKED_BYTES;
pub use json::{DEFAULT_RECORDS, compile_path};
pub use raw_jsonl::raw_to_json;

/// A reader of raw records.
pub trait Source {
    /// Column names in order (flat files); empty for JSON sources.
    fn columns(&self) -> &[String];
    /// The next record, or `None` at the end of the input. A row that cannot be split into the
    /// header's columns comes back as [`SourceError::Ragged`]; the caller may reject it and go on.
    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError>;
    /// Bytes read so far, for progress bars.
    fn bytes_read(&self) -> u64;
    /// Hand a record back once it has been mapped, so that its buffers can hold the next one.
    fn recycle(&mut self, _record: RawRecord) {}
}

/// What can go wrong reading a source.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty: expected a header row")]
    Empty { path: String },
    #[error("{path}:{line}: {message}")]
    Malformed { path: String, line: u64, message: String },
    /// A row with a different number of fields than the header; the rest of the file is readable.
    #[error("{path}:{line}: row has {found} fields, the header has {expected}")]
    Ragged {
        path: String,
        line: u64,
        row: u64,
        found: usize,
        expected: usize,
        values: Vec<String>,
    },
    #[error("{path}:{line}: text is not valid {encoding}{hint}")]
    Encoding {
        path: String,
        line: u64,
        encoding: String,
        hint: String,
    },
    #[error("{path}: {message}")]
    Workbook { path: String, message: String },
    #[error("{path}: sheet {sheet} not found; sheets are: {available}")]
    SheetNotFound {
        path: String,
        sheet: String,
        available: String,
    },
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    #[error("no file matches {pattern}")]
    NoMatch { pattern: String },
    #[error("{path}: the header differs from the first file's ({detail})")]
    HeaderMismatch { path: String, detail: String },
    #[error("{0}")]
    Config(String),
}

impl SourceError {
    /// Errors that end the run; a ragged row is only a reject.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SourceError::Ragged { .. })
    }
}

/// Expand the source's path (a glob or a plain path, relative to `base`) into files, sorted.
pub fn expand_paths(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    let full = crate::config::resolve(base, pattern);
    let text = full.to_string_lossy().to_string();
    if !text.contains(['*', '?', '[']) {
        if !full.exists() {
            return Err(SourceError::Io {
                path: text,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            });
        }
        return Ok(vec![canonical(full)]);
    }
    let mut files: Vec<PathBuf> = glob::glob(&text)
        .map_err(|e| SourceError::Config(format!("bad glob {text}: {e}")))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .map(canonical)
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SourceError::NoMatch { pattern: text });
    }
    Ok(files)
}

/// The absolute form of a source file's path: lineage in the ledger names the same file the same
/// way whatever folder the job was started from.
fn canonical(path: PathBuf) -> PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// Open the source a job describes; paths are relative to `base` (the job file's folder).
pub fn open(config: &SourceConfig, base: &Path) -> Result<Box<dyn Source>, SourceError> {
    let files = expand_paths(base, config.path())?;
    let mut sources = Vec::with_capacity(files.len());
    for file in &files {
        sources.push(open_one(config, file)?);
    }
    if sources.len() == 1 {
        return Ok(sources.remove(0));
    }
    Ok(Box::new(Chain::new(sources, &files)?))
}

fn open_one(config: &SourceConfig, path: &Path) -> Result<Box<dyn Source>, SourceError> {
    let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    Ok(match config {
        SourceConfig::Csv(c) => Box::new(csv::CsvReader::open(c, path, name)?),
        SourceConfig::FixedWidth(c) => Box::new(fixed_width::FixedWidthReader::open(c, path, name)?),
        SourceConfig::Excel(c) => Box::new(excel::ExcelReader::open(c, path, name)?),
        SourceConfig::Json(c) => Box::new(json::JsonDocument::open(c, path, name)?),
        SourceConfig::Jsonl(c) => Box::new(json::JsonLines::open(c, path, name)?),
    })
}

/// Read the raw-record JSON Lines that `opsync extract` writes (`-` for standard input); records
/// keep the lineage of the file they were first read from. See [`raw_to_json`] for the format.
pub fn open_raw_jsonl(path: &Path) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(raw_jsonl::RawJsonlReader::open(path)?))
}

/// Several files of one glob read one after the other; all must share the first file's header.
struct Chain {
    sources: Vec<Box<dyn Source>>,
    current: usize,
    done_bytes: u64,
}

impl Chain {
    fn new(sources: Vec<Box<dyn Source>>, files: &[PathBuf]) -> Result<Self, SourceError> {
        let first = sources[0].columns().to_vec();
        for (s, f) in sources.iter().zip(files).skip(1) {
            if s.columns() != first.as_slice() {
                let missing: Vec<_> = first.iter().filter(|c| !s.columns().contains(c)).collect();
                let added: Vec<_> = s.columns().iter().filter(|c| !first.contains(c)).collect();
                return Err(SourceError::HeaderMismatch {
                    path: f.display().to_string(),
                    detail: format!("missing {missing:?}, new {added:?}"),
                });
            }
        }
        Ok(Chain {
            sources,
            current: 0,
            done_bytes: 0,
        })
    }
}

impl Source for Chain {
    fn columns(&self) -> &[String] {
        self.sources[0].columns()
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        while self.current < self.sources.len() {
            if let Some(r) = self.sources[self.current].next_record()? {
                return Ok(Some(r));
            }
            self.done_bytes += self.sources[self.current].bytes_read();
            self.current += 1;
        }
        Ok(None)
    }

    fn bytes_read(&self) -> u64 {
        self.done_bytes + self.sources.get(self.current).map_or(0, |s| s.bytes_read())
    }

    fn recycle(&mut self, record: RawRecord) {
        if let Some(s) = self.sources.get_mut(self.current) {
            s.recycle(record);
        }
    }
}

/// Total size of the files a source reads, for progress bars.
pub fn total_bytes(config: &SourceConfig, base: &Path) -> u64 {
    expand_paths(base, config.path())
        .map(|files| files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
