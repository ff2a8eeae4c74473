//! Job files as written by people: a source, a mapping, a target (raw TOML, stage one).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::mapping::MappingFile;

/// A job file: `[job]`, `[source]`, a mapping (by path or inline) and `[target]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// How the job loads; see `[job]`.
    pub job: JobSection,
    /// Where raw records come from; see [Sources](#sources).
    #[schemars(with = "SourceConfig")]
    pub source: Spanned<SourceConfig>,
    /// Path of a mapping file, relative to the job file.
    #[schemars(with = "Option<String>")]
    pub mapping: Option<Spanned<String>>,
    /// Where canonical records go; see [Targets](#targets).
    #[schemars(with = "TargetConfig")]
    pub target: Spanned<TargetConfig>,
    /// An inline mapping's entities: the same tables a mapping file has (then no `mapping`).
    #[serde(default, rename = "entity")]
    pub entities: Vec<super::mapping::EntityMapping>,
    /// An inline mapping's crosswalk tables.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, super::mapping::LookupConfig>")]
    pub lookups: BTreeMap<String, Spanned<super::mapping::LookupConfig>>,
    /// An inline mapping's masked source columns.
    #[serde(default)]
    pub sensitive_columns: Vec<String>,
    /// An inline mapping's row filters.
    #[serde(default)]
    #[schemars(with = "Vec<super::mapping::Filter>")]
    pub filter: Vec<Spanned<super::mapping::Filter>>,
    /// An inline mapping's fixture cases.
    #[serde(default, rename = "test")]
    pub tests: Vec<super::mapping::TestCase>,
}

impl JobFile {
    /// Whether the job file carries mapping tables of its own.
    pub fn has_inline_mapping(&self) -> bool {
        !self.entities.is_empty() || !self.lookups.is_empty() || !self.filter.is_empty()
    }

    /// Move the inline mapping tables out of the job file.
    pub fn take_inline_mapping(&mut self) -> MappingFile {
        MappingFile {
            version: None,
            description: None,
            lookups: std::mem::take(&mut self.lookups),
            sensitive_columns: std::mem::take(&mut self.sensitive_columns),
            filter: std::mem::take(&mut self.filter),
            entities: std::mem::take(&mut self.entities),
            tests: std::mem::take(&mut self.tests),
        }
    }
}

/// `[job]`: the name the ledger and locks know the job by, and how it loads.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// The job's name: the ledger records runs under it and the job's lock is named by it
    /// (letters, digits, `-`, `_`, `.`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// What the job does, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// What a load does with keys missing from the extract.
    #[serde(default)]
    pub mode: LoadMode,
    /// The run ends with exit 3 when more records than this are rejected.
    #[serde(default)]
    pub max_rejects: Option<u64>,
    /// The run ends with exit 3 when more than this percentage of source rows has a rejected
    /// record.
    #[serde(default)]
    pub max_reject_percent: Option<Decimal>,
    /// A snapshot that would mark more than this percentage of an entity's live records deleted
    /// deletes nothing and ends with exit 3: a truncated extract must not wipe a table.
    #[serde(default = "twenty")]
    pub max_delete_percent: Decimal,
    /// What a snapshot does when rows could not be keyed (malformed, or their key failed a step).
    #[serde(default)]
    pub unkeyed_rejects: UnkeyedRejects,
}

fn twenty() -> Decimal {
    Decimal::from(20)
}

/// Whether a snapshot deletes when some rejected rows have no key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnkeyedRejects {
    /// Delete nothing: the keys of those rows may be among the missing ones (the default).
    #[default]
    BlockDeletes,
    /// Delete the missing keys anyway.
    AllowDeletes,
}

/// How a load treats keys missing from the extract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Insert and update; keys absent from the extract are left alone.
    #[default]
    Upsert,
    /// The extract is complete: keys absent from it are marked deleted.
    Snapshot,
}

/// `[source]`: where raw records come from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    Csv(CsvSource),
    FixedWidth(FixedWidthSource),
    Excel(ExcelSource),
    Json(JsonSource),
    Jsonl(JsonSource),
}

impl SourceConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Csv(_) => "csv",
            SourceConfig::FixedWidth(_) => "fixed_width",
            SourceConfig::Excel(_) => "excel",
            SourceConfig::Json(_) => "json",
            SourceConfig::Jsonl(_) => "jsonl",
        }
    }

    /// The path (or glob) the source reads, relative to the job file.
    pub fn path(&self) -> &str {
        match self {
            SourceConfig::Csv(c) => &c.path,
            SourceConfig::FixedWidth(c) => &c.path,
            SourceConfig::Excel(c) => &c.path,
            SourceConfig::Json(c) | SourceConfig::Jsonl(c) => &c.path,
        }
    }

    pub fn set_path(&mut self, path: String) {
        match self {
            SourceConfig::Csv(c) => c.path = path,
            SourceConfig::FixedWidth(c) => c.path = path,
            SourceConfig::Excel(c) => c.path = path,
            SourceConfig::Json(c) | SourceConfig::Jsonl(c) => c.path = path,
        }
    }

    /// Whether records are JSON documents (mapped by JSONPath) rather than rows of columns.
    pub fn is_json(&self) -> bool {
        matches!(self, SourceConfig::Json(_) | SourceConfig::Jsonl(_))
    }
}

fn comma() -> char {
    ','
}
fn double_quote() -> char {
    '"'
}
fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

/// Delimited text files.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvSource {
    /// File path or glob (`drops/items_*.csv`), relative to the job file.
    pub path: String,
    /// Field separator: `,`, `;`, `\t`, `|`, ...
    #[serde(default = "comma")]
    pub delimiter: char,
    /// Quote character around fields that hold the delimiter or line breaks.
    #[serde(default = "double_quote")]
    pub quote: char,
    /// Whether the first row (after `skip_rows`) names the columns.
    #[serde(default = "yes")]
    pub header: bool,
    /// Column names when the file has no header row.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Lines to skip before the header (report titles, export banners).
    #[serde(default)]
    pub skip_rows: usize,
    /// Text encoding (see [Encodings](#encodings)): `windows-1252`, `utf-16le`, `macintosh`, ...;
    /// when absent, a byte-order mark decides, else UTF-8.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Keep a quoted value whose text after a line break holds the delimiter. Such a value is
    /// refused by default (a malformed row, which also holds back a snapshot's deletes): a quote
    /// left open reads exactly this way, swallowing the next row into the value.
    #[serde(default)]
    pub trust_multiline: bool,
}

/// Fixed-width text files: each column at a start position with a length. A line holding a control
/// character (a tab, a form feed, ...) is a malformed row: every column after it would be read shifted.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedWidthSource {
    /// File path or glob, relative to the job file.
    pub path: String,
    /// Text encoding (see [Encodings](#encodings)); UTF-8 when absent.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Lines to skip before the first record (headers, banners).
    #[serde(default)]
    pub skip_rows: usize,
    /// The layout: `{ name, start, length }` per column.
    pub columns: Vec<FixedWidthColumn>,
}

/// One column of a fixed-width layout; positions are 1-based, in characters.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedWidthColumn {
    /// Column name, as `from` refers to it.
    pub name: String,
    /// 1-based position of the first character.
    pub start: usize,
    /// Number of characters.
    pub length: usize,
}

/// Workbooks: xlsx, xlsm, xlsb, xls, ods.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcelSource {
    /// Workbook path or glob, relative to the job file.
    pub path: String,
    /// Sheet name or 0-based index; the first sheet when absent.
    #[serde(default)]
    pub sheet: Option<SheetRef>,
    /// 1-based row holding the column names.
    #[serde(default = "one")]
    pub header_row: usize,
    /// What a cell holding an error value (`#DIV/0!`, `#N/A`, `#REF!` ...) in a column the mapping
    /// reads does: `reject` its row as malformed (the default: an error is no value, and a blank
    /// would load as one), or read as `blank`. Error cells in columns no field reads are ignored.
    #[serde(default)]
    pub error_cells: ErrorCells,
}

/// How a cell holding an Excel error value is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCells {
    /// The row is malformed, with a reason naming the cell and its error.
    #[default]
    Reject,
    /// The cell reads as blank.
    Blank,
}

/// A sheet by name or by 0-based position.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SheetRef {
    Name(String),
    Index(usize),
}

/// JSON documents (`json`: one document, records selected by JSONPath) or JSON Lines.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonSource {
    /// File path or glob, relative to the job file.
    pub path: String,
    /// RFC 9535 JSONPath selecting the records; `$[*]` (json) or `$` (jsonl) by default.
    #[serde(default)]
    pub records: Option<String>,
}

/// `[target]`: where canonical records go.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    Sqlite(SqliteTarget),
    Csv(FileTarget),
    Jsonl(FileTarget),
}

fn default_batch() -> usize {
    10_000
}

/// An SQLite database file: one table per entity.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqliteTarget {
    /// Database file, relative to the job file (env `OPSYNC_TARGET` overrides it).
    pub path: String,
    /// Records per transaction.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

/// A folder with one file per entity (`item.csv`, `item.jsonl`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTarget {
    /// Folder, relative to the job file; created when missing.
    pub dir: String,
}
