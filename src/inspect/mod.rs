//! `opsync inspect`: what a flat file holds — its layout, each column's type and values — and a
//! starter mapping to the canonical entity its columns look like.
//!
//! The file's kind comes from its extension (workbooks, `.json`, `.jsonl`/`.ndjson`; anything else
//! is delimited text, whose encoding, delimiter, line endings and header row are [`sniff`]ed).
//! The rows are then read through [`crate::source::open`] with a synthesized [`SourceConfig`], so
//! inspect sees exactly what a job with that `[source]` would see, and the `[source]` it prints is
//! one that works. Types are inferred in [`profile`], the entity guessed in [`guess`], and the
//! mapping written in [`starter`]. Nothing here prints: `cmd/inspect.rs` shows the result.
//!
//! Errors about what was named on the command line (a missing, unreadable or empty file, an
//! unknown `--encoding`, a `--sheet` for a text file or one the workbook lacks) are usage errors;
//! a source that fails part way through is a failed run, like anywhere else.

#![warn(missing_docs)]

pub mod guess;
pub mod profile;
pub mod shape;
pub mod sniff;
pub mod starter;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::SourceConfig;
use crate::config::job::{CsvSource, ExcelSource, JsonSource, SheetRef};
use crate::model::RawValues;
use crate::source::{Source, SourceError};

pub use guess::{EntityGuess, guess_entity};
pub use profile::{ColumnProfile, ColumnSummary, InferredType};
pub use sniff::{LineEnding, TextEncoding, TextLayout};

/// The largest JSON document read whole to find where its records are.
const JSON_SNIFF_LIMIT: u64 = 64 << 20;

/// What can go wrong inspecting a file.
#[derive(Debug, Error)]
pub enum InspectError {
    /// The file cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds nothing (or only white space).
    #[error("{path}: the file is empty: nothing to inspect")]
    Empty {
        /// The file.
        path: String,
    },
    /// `--encoding` names no encoding.
    #[error("{0}")]
    UnknownEncoding(String),
    /// A compressed, archived or binary file.
    #[error("{path}: the file is {what}, not text{todo}")]
    NotText {
        /// The file.
        path: String,
        /// What it is.
        what: &'static str,
        /// What to do.
        todo: &'static str,
    },
    /// An option that does not apply to this file.
    #[error("{0}")]
    Usage(String),
    /// The source failed while reading the rows.
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl InspectError {
    /// Whether the error is about the command line rather than the data (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            InspectError::Source(SourceError::SheetNotFound { .. }) => true,
            InspectError::Source(_) => false,
            _ => true,
        }
    }
}

/// How to inspect a file: the command's options.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Sheet of a workbook (the first when absent).
    pub sheet: Option<String>,
    /// Encoding of a text file (detected when absent).
    pub encoding: Option<String>,
    /// Rows to read for inference.
    pub rows: usize,
}

/// The kind of file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// CSV, TSV, pipe-delimited text: anything without a known extension.
    Delimited,
    /// xlsx, xlsm, xlsb, xls, ods.
    Excel,
    /// One JSON document.
    Json,
    /// JSON Lines (`.jsonl`, `.ndjson`).
    Jsonl,
}

impl FileKind {
    /// Judge a file by its extension.
    pub fn of(path: &Path) -> FileKind {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => FileKind::Excel,
            "json" => FileKind::Json,
            "jsonl" | "ndjson" => FileKind::Jsonl,
            _ => FileKind::Delimited,
        }
    }
}

/// Everything `inspect` found out about a file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The file as named on the command line.
    pub path: PathBuf,
    /// The kind of file, by its extension.
    pub kind: FileKind,
    /// Layout of a delimited text file.
    pub layout: Option<TextLayout>,
    /// The `[source]` that reads the file.
    pub source: SourceConfig,
    /// Records read (ragged rows not included).
    pub rows: u64,
    /// What each column holds, in the file's order.
    pub columns: Vec<ColumnSummary>,
    /// The first record's values by column, for the example test case.
    pub first_row: Vec<String>,
    /// The canonical entity the columns look like, if any.
    pub guess: Option<EntityGuess>,
    /// Things worth telling the user (skipped rows, a changed encoding).
    pub notes: Vec<String>,
    /// Names the header holds more than once (the columns are shown as `Name (2)`, ...).
    pub shared: Vec<crate::source::SharedName>,
}

/// Inspect a file.
pub fn inspect(path: &Path, options: &InspectOptions) -> Result<Inspection, InspectError> {
    let kind = FileKind::of(path);
    let meta = std::fs::metadata(path).map_err(|source| InspectError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if meta.is_dir() {
        return Err(InspectError::Usage(format!(
            "{}: is a folder; name a file",
            path.display()
        )));
    }
    if meta.len() == 0 {
        return Err(InspectError::Empty {
            path: path.display().to_string(),
        });
    }
    if kind != FileKind::Excel && options.sheet.is_some() {
        return Err(InspectError::Usage(format!(
            "{}: --sheet applies only to workbooks",
            path.display()
        )));
    }
    if kind != FileKind::Delimited && options.encoding.is_some() {
        return Err(InspectError::Usage(format!(
            "{}: --encoding applies only to delimited text files",
            path.display()
        )));
    }
    let shown = path.to_string_lossy().to_string();
    // `source::open` expands globs; a file name with glob characters must be read as it is.
    let open_path = glob::Pattern::escape(&shown);
    let (layout, source) = match kind {
        FileKind::Delimited => {
            let layout = sniff::sniff_file(path, options.encoding.as_deref())?;
            let source = csv_source(&open_path, &layout);
            (Some(layout), source)
        }
        FileKind::Excel => (
            None,
            SourceConfig::Excel(ExcelSource {
                path: open_path.clone(),
                sheet: options.sheet.clone().map(SheetRef::Name),
                header_row: 1,
                error_cells: Default::default(),
            }),
        ),
        FileKind::Json => (
            None,
            SourceConfig::Json(JsonSource {
                path: open_path.clone(),
                records: json_records(path),
            }),
        ),
        FileKind::Jsonl => (
            None,
            SourceConfig::Jsonl(JsonSource {
                path: open_path.clone(),
                records: None,
            }),
        ),
    };
    let mut inspection = Inspection {
        path: path.to_path_buf(),
        kind,
        layout,
        source,
        rows: 0,
        columns: Vec::new(),
        first_row: Vec::new(),
        guess: None,
        notes: Vec::new(),
        shared: Vec::new(),
    };
    match read(&inspection.source, options.rows) {
        Ok(r) => inspection.absorb(r),
        // Bytes past the sniffed start that are not in the detected encoding after all: read the
        // file again in the encoding those bytes point to (one that decodes them), and say so.
        Err(SourceError::Encoding {
            line,
            guess: Some(guess),
            encoding,
            ..
        }) if inspection.detected() => {
            if let Some(layout) = inspection.layout.as_mut() {
                layout.encoding.label = guess.clone();
                inspection.source = csv_source(&open_path, layout);
            }
            inspection
                .notes
                .push(format!("line {line} is not valid {encoding}: read as {guess}"));
            let r = read(&inspection.source, options.rows)?;
            inspection.absorb(r);
        }
        Err(e) => return Err(e.into()),
    }
    inspection.guess = guess_entity(&inspection.columns, &path.to_string_lossy());
    Ok(inspection)
}

impl Inspection {
    /// Whether the encoding was detected (not given, no byte-order mark), so another may be tried.
    fn detected(&self) -> bool {
        self.layout
            .as_ref()
            .is_some_and(|l| !l.encoding.given && !l.encoding.bom)
    }

    fn absorb(&mut self, r: ReadResult) {
        let european = self.layout.as_ref().is_some_and(|l| l.delimiter == b';')
            || r.profiles.iter().any(ColumnProfile::shows_decimal_comma);
        self.columns = r.profiles.iter().map(|p| p.finish(european)).collect();
        self.rows = r.rows;
        self.first_row = r.first_row;
        for s in &r.shared {
            let names: Vec<String> = s
                .positions
                .iter()
                .filter_map(|&p| self.columns.get(p))
                .map(|c| format!("{:?}", c.name))
                .collect();
            self.notes.push(format!(
                "the header holds {:?} {} times: the columns are read as {}; a mapping names the first by from_index",
                s.name,
                s.positions.len(),
                names.join(", ")
            ));
        }
        self.shared = r.shared;
        for p in r.profiles.iter().filter(|p| p.replaced() > 0) {
            self.notes.push(format!(
                "column {:?}: {} value(s) hold U+FFFD replacement characters: the text was mis-decoded before it was written",
                p.name(),
                p.replaced()
            ));
        }
        if r.ragged > 0 {
            self.notes.push(format!(
                "{} malformed row(s) were skipped (the first at line {}: {})",
                r.ragged, r.first_ragged_line, r.first_ragged_reason
            ));
        }
    }
}

fn csv_source(path: &str, layout: &TextLayout) -> SourceConfig {
    SourceConfig::Csv(CsvSource {
        path: path.to_string(),
        delimiter: layout.delimiter as char,
        quote: '"',
        header: layout.header,
        columns: Vec::new(),
        skip_rows: 0,
        encoding: layout.encoding.job_label().map(str::to_string),
        trust_multiline: true,
    })
}

/// Where the records of a JSON document are: the document itself when it is an array, else the
/// one array-valued member of a wrapper (`{"data": [...]}`, `{"total": 3, "rows": [...]}`).
fn json_records(path: &Path) -> Option<String> {
    if std::fs::metadata(path).ok()?.len() > JSON_SNIFF_LIMIT {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    let obj = doc.as_object()?;
    let mut arrays = obj.iter().filter(|(_, v)| v.is_array());
    let (key, _) = arrays.next()?;
    if arrays.next().is_some() {
        return None;
    }
    let simple = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    Some(if simple {
        format!("$.{key}[*]")
    } else {
        format!("$['{}'][*]", key.replace('\'', "\\'"))
    })
}

/// What reading the rows gave.
struct ReadResult {
    profiles: Vec<ColumnProfile>,
    shared: Vec<crate::source::SharedName>,
    rows: u64,
    first_row: Vec<String>,
    ragged: u64,
    first_ragged_line: u64,
    first_ragged_reason: String,
}

/// Read up to `limit` records and profile every column.
fn read(config: &SourceConfig, limit: usize) -> Result<ReadResult, SourceError> {
    let mut source: Box<dyn Source> = crate::source::open(config, Path::new(""))?;
    let mut profiles: Vec<ColumnProfile> = source
        .columns()
        .iter()
        .map(|c| ColumnProfile::new(c.as_str(), 0))
        .collect();
    let mut r = ReadResult {
        profiles: Vec::new(),
        shared: source.shared_names().to_vec(),
        rows: 0,
        first_row: Vec::new(),
        ragged: 0,
        first_ragged_line: 0,
        first_ragged_reason: String::new(),
    };
    while r.rows < limit as u64 {
        let record = match source.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(SourceError::Ragged { line, reason, .. }) => {
                if r.ragged == 0 {
                    r.first_ragged_line = line;
                    r.first_ragged_reason = reason;
                }
                r.ragged += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        match &record.values {
            RawValues::Row(values) => {
                for (p, v) in profiles.iter_mut().zip(values.iter()) {
                    p.observe(v);
                }
                if r.rows == 0 {
                    r.first_row = values.to_vec();
                }
            }
            RawValues::Json(doc) => observe_json(&mut profiles, doc, r.rows, &mut r.first_row),
        }
        r.rows += 1;
    }
    r.profiles = profiles;
    Ok(r)
}

/// Profile a JSON record by its top-level keys; a key first seen late was missing before.
fn observe_json(profiles: &mut Vec<ColumnProfile>, doc: &serde_json::Value, seen: u64, first_row: &mut Vec<String>) {
    let empty = serde_json::Map::new();
    let obj = doc.as_object().unwrap_or(&empty);
    for key in obj.keys() {
        if !profiles.iter().any(|p| p.name() == key) {
            profiles.push(ColumnProfile::new(key.as_str(), seen));
        }
    }
    for p in profiles.iter_mut() {
        match obj.get(p.name()) {
            None | Some(serde_json::Value::Null) => p.observe_missing(),
            Some(serde_json::Value::String(s)) => p.observe(s),
            Some(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => p.observe_nested(&v.to_string()),
            Some(v) => p.observe(&v.to_string()),
        }
    }
    if seen == 0 {
        *first_row = profiles
            .iter()
            .map(|p| match obj.get(p.name()) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(FileKind::of(Path::new("a/b.XLSX")), FileKind::Excel);
        assert_eq!(FileKind::of(Path::new("b.ods")), FileKind::Excel);
        assert_eq!(FileKind::of(Path::new("b.json")), FileKind::Json);
        assert_eq!(FileKind::of(Path::new("b.ndjson")), FileKind::Jsonl);
        assert_eq!(FileKind::of(Path::new("b.txt")), FileKind::Delimited);
        assert_eq!(FileKind::of(Path::new("noext")), FileKind::Delimited);
    }

    #[test]
    fn json_records_report_top_level_keys() {
        let mut profiles = Vec::new();
        let mut first = Vec::new();
        observe_json(
            &mut profiles,
            &json!({"id": 1, "name": "Gauze", "tags": ["a"]}),
            0,
            &mut first,
        );
        observe_json(&mut profiles, &json!({"id": 2, "cost": "1.50"}), 1, &mut first);
        let cols: Vec<ColumnSummary> = profiles.iter().map(|p| p.finish(false)).collect();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "tags", "cost"]);
        assert_eq!(cols[0].ty, InferredType::Integer);
        assert_eq!(cols[1].empty, 1);
        assert_eq!(cols[2].ty, InferredType::Nested);
        assert_eq!(cols[3].empty, 1, "absent from the first record");
        assert_eq!(first, ["1", "Gauze", "[\"a\"]"]);
    }
}
