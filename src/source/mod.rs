//! Sources: read files into raw records, each with its lineage.
//!
//! A source knows nothing of mappings or targets. Every kind yields [`RawRecord`]s through the
//! [`Source`] trait; columns (for flat files) are known before the first record so that a
//! mapping can be bound to them, and schema drift caught, before anything loads.

mod csv;
mod csv_quotes;
mod encoding;
mod excel;
mod fixed_width;
pub(crate) mod json;
mod names;
mod raw_jsonl;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::config::SourceConfig;
use crate::model::RawRecord;

pub use encoding::{Decoder, binary_kind, legacy_candidates, looks_utf16, resolve_encoding, supported_encodings};
pub use excel::MAX_UNPACKED_BYTES;
pub use json::{DEFAULT_RECORDS, compile_path};
pub use names::SharedName;
pub use raw_jsonl::raw_to_json;

/// A reader of raw records.
pub trait Source: Send {
    /// Column names in order (flat files); empty for JSON sources. Every name is unique: a name
    /// the header holds twice is reported as `Category`, `Category (2)`, ... and a blank one as
    /// `column_N` (see [`SharedName`]).
    fn columns(&self) -> &[String];
    /// The names the header holds more than once, with the columns that share each.
    fn shared_names(&self) -> &[SharedName] {
        &[]
    }
    /// The next record, or `None` at the end of the input. A row that cannot be split into the
    /// header's columns comes back as [`SourceError::Ragged`]; the caller may reject it and go on.
    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError>;
    /// Bytes read so far, for progress bars.
    fn bytes_read(&self) -> u64;
    /// Hand a record back once it has been mapped, so that its buffers can hold the next one.
    fn recycle(&mut self, _record: RawRecord) {}
    /// The columns a mapping reads (by position in [`Source::columns`]), told once it is bound:
    /// damage confined to the other columns (an Excel error cell nobody reads) is harmless.
    fn columns_read(&mut self, _read: &[bool]) {}
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
    /// A compressed, archived or binary file named where text is expected.
    #[error("{path}: the file is {what}, not text{todo}")]
    NotText {
        path: String,
        what: &'static str,
        todo: &'static str,
    },
    #[error("{path}:{line}: {message}")]
    Malformed { path: String, line: u64, message: String },
    /// A row that cannot be read as the header's columns (a different number of fields, a stray
    /// quote, a NUL character, ...); the rest of the file is readable, so the row is a reject.
    #[error("{path}:{line}: {reason}")]
    Ragged {
        path: String,
        line: u64,
        row: u64,
        reason: String,
        values: Vec<String>,
    },
    #[error("{path}:{line}: text is not valid {encoding}{hint}")]
    Encoding {
        path: String,
        line: u64,
        encoding: String,
        hint: String,
        /// The encoding that likely reads the file, when one does.
        guess: Option<String>,
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

/// Expand the source's path (a glob or a plain path, relative to `base`) into files: each named
/// by its real path (links followed), each once, sorted. A `**` glob that reaches one file through
/// a link to a folder above it (`self -> .`) reads that file once; a link that leads back to
/// itself is named as a loop, and a link to nothing as a broken link, rather than "not found".
pub fn expand_paths(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    let full = crate::config::resolve(base, pattern);
    let text = full.to_string_lossy().to_string();
    if !text.contains(['*', '?', '[']) {
        return Ok(vec![real_file(&full)?]);
    }
    let mut files = Vec::new();
    for entry in glob::glob(&text).map_err(|e| SourceError::Config(format!("bad glob {text}: {e}")))? {
        match entry {
            Ok(path) => files.extend(matched_file(&path)?),
            // A folder reached through a link to itself or to a folder above it ends in a loop
            // once the links nest too deep; its files were all found by the shorter paths.
            Err(e) if is_loop(e.error()) => {}
            // An unreadable folder may hold files the glob means: that is not a quiet skip.
            Err(e) => {
                return Err(SourceError::Io {
                    path: e.path().display().to_string(),
                    source: std::io::Error::new(e.error().kind(), format!("cannot read this folder: {}", e.error())),
                });
            }
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(SourceError::NoMatch { pattern: text });
    }
    Ok(files)
}

/// The real path of a file named without a glob.
fn real_file(path: &Path) -> Result<PathBuf, SourceError> {
    std::fs::canonicalize(path).map_err(|e| SourceError::Io {
        path: path.display().to_string(),
        source: explain_unreadable(path, e),
    })
}

/// The real path of a file a glob matched; `None` for a folder (or a pipe, a socket: not files).
fn matched_file(path: &Path) -> Result<Option<PathBuf>, SourceError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Ok(None),
        Ok(_) => real_file(path).map(Some),
        Err(e) => Err(SourceError::Io {
            path: path.display().to_string(),
            source: explain_unreadable(path, e),
        }),
    }
}

/// Why a path cannot be opened, in words: a loop of links, a broken link, a missing file.
fn explain_unreadable(path: &Path, e: std::io::Error) -> std::io::Error {
    use std::io::{Error, ErrorKind};
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_loop(&e) {
        return Error::new(
            ErrorKind::InvalidInput,
            "symbolic link loop: the link leads back to itself; point it at the real file",
        );
    }
    if e.kind() == ErrorKind::NotFound && link {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return Error::new(
            ErrorKind::NotFound,
            format!("broken symbolic link: it points to {target}, which does not exist"),
        );
    }
    if e.kind() == ErrorKind::NotFound {
        return Error::new(ErrorKind::NotFound, "file not found");
    }
    e
}

fn is_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Read one line, terminator included, into `buf` (cleared first); 0 bytes at the end of input.
pub(crate) fn read_line(
    reader: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
    name: &str,
) -> Result<usize, SourceError> {
    buf.clear();
    reader.read_until(b'\n', buf).map_err(|e| SourceError::Io {
        path: name.to_string(),
        source: e,
    })
}

/// Open the source a job describes; paths are relative to `base` (the job file's folder). The
/// files of a glob are opened one at a time, as the previous one is finished.
pub fn open(config: &SourceConfig, base: &Path) -> Result<Box<dyn Source>, SourceError> {
    let mut files = expand_paths(base, config.path())?.into_iter();
    let Some(first) = files.next() else {
        return Err(SourceError::NoMatch {
            pattern: config.path().to_string(),
        });
    };
    let current = open_one(config, &first)?;
    if files.len() == 0 {
        return Ok(current);
    }
    Ok(Box::new(Chain {
        config: config.clone(),
        columns: current.columns().to_vec(),
        shared: current.shared_names().to_vec(),
        files,
        current,
        done_bytes: 0,
    }))
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

/// The files of one glob read one after the other, each opened only when the one before it is
/// finished (a drop folder of a thousand files must not need a thousand open files); each must
/// have the first file's header, checked as it is opened.
struct Chain {
    config: SourceConfig,
    columns: Vec<String>,
    shared: Vec<SharedName>,
    /// Files not opened yet.
    files: std::vec::IntoIter<PathBuf>,
    current: Box<dyn Source>,
    /// Bytes of the files already finished.
    done_bytes: u64,
}

impl Chain {
    fn open_next(&mut self, path: &Path) -> Result<(), SourceError> {
        let next = open_one(&self.config, path)?;
        if next.columns() != self.columns.as_slice() {
            return Err(SourceError::HeaderMismatch {
                path: path.display().to_string(),
                detail: header_difference(&self.columns, next.columns()),
            });
        }
        self.current = next;
        Ok(())
    }
}

/// How a later file's header differs from the first file's, in words.
fn header_difference(first: &[String], other: &[String]) -> String {
    let missing: Vec<_> = first.iter().filter(|c| !other.contains(c)).collect();
    let added: Vec<_> = other.iter().filter(|c| !first.contains(c)).collect();
    if missing.is_empty() && added.is_empty() {
        return format!("the same columns in another order: {other:?}");
    }
    format!("missing {missing:?}, new {added:?}")
}

impl Source for Chain {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn shared_names(&self) -> &[SharedName] {
        &self.shared
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        loop {
            if let Some(r) = self.current.next_record()? {
                return Ok(Some(r));
            }
            let Some(path) = self.files.next() else {
                return Ok(None);
            };
            self.done_bytes += self.current.bytes_read();
            self.open_next(&path)?;
        }
    }

    fn bytes_read(&self) -> u64 {
        self.done_bytes + self.current.bytes_read()
    }

    fn recycle(&mut self, record: RawRecord) {
        self.current.recycle(record);
    }
}

/// Total size of the files a source reads, for progress bars.
pub fn total_bytes(config: &SourceConfig, base: &Path) -> u64 {
    expand_paths(base, config.path())
        .map(|files| files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// A character no exported value holds: a NUL, or a byte-order mark away from the file's start
/// (the mark of two files joined into one). Every reader of text checks its values with it.
pub(crate) fn odd_character(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    memchr::memchr2(0, 0xEF, bytes)?;
    if bytes.contains(&0) {
        Some("a NUL character (U+0000)")
    } else if text.contains('\u{feff}') {
        Some("a byte-order mark (U+FEFF)")
    } else {
        None
    }
}
