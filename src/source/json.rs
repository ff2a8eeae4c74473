//! JSON files: `json` (one document per file, records picked by an RFC 9535 JSONPath) and `jsonl`
//! (JSON Lines: one value per line, streamed).
//!
//! A `json` document is read whole into memory: a JSONPath can select anything anywhere in it, so
//! there is no record boundary to stream by. The matches are remembered as JSON Pointers and each
//! record is copied out only when it is handed on, so memory holds the document plus one record.
//! A `jsonl` file is read one line at a time into a reused buffer, so memory stays flat however
//! long the file is; with `records` set, the path is applied to each line and every match becomes a
//! record. Both accept a UTF-8 byte-order mark (and UTF-16 with one), and explain the usual wrong
//! inputs in words: an HTML error page, an empty file, a document whose records sit under a key.
//!
//! Numbers are kept as the text they were written with (serde_json's `arbitrary_precision`), so
//! `1234567890123.4567` reaches the mapping as that text, not as the nearest f64, and `1e999`
//! stays `1e999` for a conversion step to refuse, rather than becoming infinity or null. A record
//! holding a NUL character (`\u0000`) in a string is a malformed-row reject.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use serde_json_path::JsonPath;

use super::encoding::{Decoder, open_decoded};
use super::{Source, SourceError};
use crate::config::job::JsonSource;
use crate::model::{Lineage, RawRecord, RawValues};

/// The records of a `json` source when `records` is not set: the elements of a top-level array.
pub const DEFAULT_RECORDS: &str = "$[*]";

/// Compile the `records` JSONPath of a source, naming it in the error.
pub fn compile_path(text: &str) -> Result<JsonPath, SourceError> {
    JsonPath::parse(text)
        .map_err(|e| SourceError::Config(format!("records = {text:?} is not a valid JSONPath (RFC 9535): {e}")))
}

/// One JSON document: the records a JSONPath selects, handed out one at a time.
pub struct JsonDocument {
    document: Value,
    /// JSON Pointers of the selected records, in document order.
    pointers: std::vec::IntoIter<String>,
    name: Arc<str>,
    locator: Arc<str>,
    row: u64,
    bytes: u64,
}

impl JsonDocument {
    /// Read and parse the whole file, then select its records.
    pub fn open(config: &JsonSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        let text = config.records.as_deref().unwrap_or(DEFAULT_RECORDS);
        let selector = compile_path(text)?;
        let (mut reader, counter) = open_decoded(path, None)?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| SourceError::Io {
            path: name.to_string(),
            source: e,
        })?;
        let document = parse(&bytes, &name, None)?;
        drop(bytes);
        if config.records.is_none() && !document.is_array() {
            return Err(SourceError::Json {
                path: name.to_string(),
                message: not_an_array(&document),
            });
        }
        let pointers: Vec<String> = selector
            .query_located(&document)
            .locations()
            .map(|l| l.to_json_pointer())
            .collect();
        Ok(JsonDocument {
            document,
            pointers: pointers.into_iter(),
            name,
            locator: Arc::from(text),
            row: 0,
            bytes: counter.load(Ordering::Relaxed),
        })
    }
}

impl Source for JsonDocument {
    fn columns(&self) -> &[String] {
        &[]
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        for pointer in self.pointers.by_ref() {
            let Some(value) = self.document.pointer(&pointer) else {
                continue;
            };
            self.row += 1;
            if holds_nul(value) {
                return Err(nul_reject(&self.name, self.row, self.row, value));
            }
            return Ok(Some(RawRecord {
                values: RawValues::Json(value.clone()),
                lineage: Lineage {
                    source: self.name.clone(),
                    locator: Some(self.locator.clone()),
                    row: self.row,
                    line: self.row,
                },
            }));
        }
        Ok(None)
    }

    fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

/// JSON Lines: one value per line, read as a stream.
pub struct JsonLines {
    reader: BufReader<Decoder>,
    counter: Arc<AtomicU64>,
    selector: Option<JsonPath>,
    buffer: Vec<u8>,
    /// Matches of the current line not handed out yet (only with `records`).
    pending: std::vec::IntoIter<Value>,
    name: Arc<str>,
    locator: Arc<str>,
    line: u64,
    row: u64,
}

impl JsonLines {
    /// Open the file; nothing is read until the first record is asked for.
    pub fn open(config: &JsonSource, path: &Path, name: Arc<str>) -> Result<Self, SourceError> {
        let selector = config.records.as_deref().map(compile_path).transpose()?;
        let (reader, counter) = open_decoded(path, None)?;
        Ok(JsonLines {
            reader: BufReader::new(reader),
            counter,
            selector,
            buffer: Vec::new(),
            pending: Vec::new().into_iter(),
            name,
            locator: Arc::from(config.records.as_deref().unwrap_or("$")),
            line: 0,
            row: 0,
        })
    }

    fn record(&mut self, value: Value) -> Result<RawRecord, SourceError> {
        self.row += 1;
        if holds_nul(&value) {
            return Err(nul_reject(&self.name, self.line, self.row, &value));
        }
        Ok(RawRecord {
            values: RawValues::Json(value),
            lineage: Lineage {
                source: self.name.clone(),
                locator: Some(self.locator.clone()),
                row: self.row,
                line: self.line,
            },
        })
    }
}

impl Source for JsonLines {
    fn columns(&self) -> &[String] {
        &[]
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        loop {
            if let Some(value) = self.pending.next() {
                return self.record(value).map(Some);
            }
            let n = super::read_line(&mut self.reader, &mut self.buffer, &self.name)?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buffer.trim_ascii().is_empty() {
                continue;
            }
            let value = parse(&self.buffer, &self.name, Some(self.line))?;
            match &self.selector {
                None => return self.record(value).map(Some),
                Some(path) => {
                    let matches: Vec<Value> = path.query(&value).all().into_iter().cloned().collect();
                    self.pending = matches.into_iter();
                }
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }
}

/// Whether a string anywhere in a value holds a NUL character or a byte-order mark (U+FEFF, the
/// mark of two files joined into one), which no exported value holds.
pub(crate) fn holds_nul(value: &Value) -> bool {
    let odd = |s: &str| super::odd_character(s).is_some();
    match value {
        Value::String(s) => odd(s),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| odd(k) || holds_nul(v)),
        _ => false,
    }
}

/// The reject of a record holding a NUL character.
pub(crate) fn nul_reject(name: &str, line: u64, row: u64, value: &Value) -> SourceError {
    SourceError::Ragged {
        path: name.to_string(),
        line,
        row,
        reason: "the record holds a NUL character (\\u0000) or a byte-order mark (\\ufeff), which no exported \
                 value holds"
            .into(),
        values: vec![value.to_string()],
    }
}

/// Parse JSON text, explaining failures: where (line and column; `line` is the file's line for
/// JSON Lines, whose text is one line) and, for text that is not JSON at all, what it looks like.
pub(crate) fn parse(bytes: &[u8], name: &str, line: Option<u64>) -> Result<Value, SourceError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let refuse = |e: serde_json::Error| SourceError::Json {
        path: name.to_string(),
        message: explain(bytes, &e, line),
    };
    let value = serde_json::from_slice(bytes).map_err(refuse)?;
    // serde_json keeps the last of two members with one name; which one the exporter meant
    // cannot be told, so a second reading (only keys, no values kept) refuses the document.
    serde_json::from_slice::<NoDuplicateMembers>(bytes).map_err(refuse)?;
    Ok(value)
}

/// A JSON value read only to check that no object names a member twice.
struct NoDuplicateMembers;

impl<'de> serde::Deserialize<'de> for NoDuplicateMembers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateMembers)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateMembers {
    type Value = NoDuplicateMembers;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateMembers>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format_args!(
                    "the member {key:?} appears twice in one object, so which value is meant cannot be told"
                )));
            }
            map.next_value::<NoDuplicateMembers>()?;
        }
        Ok(self)
    }
}

fn explain(bytes: &[u8], e: &serde_json::Error, line: Option<u64>) -> String {
    let text = bytes.trim_ascii_start();
    let place = match line {
        Some(l) => format!("line {l}, column {}", e.column()),
        None => format!("line {}, column {}", e.line(), e.column()),
    };
    if text.is_empty() {
        return match line {
            Some(l) => format!("line {l}: expected a JSON value, found an empty line"),
            None => "the file is empty: expected a JSON document".into(),
        };
    }
    if !matches!(text[0], b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
        let start: String = String::from_utf8_lossy(&text[..text.len().min(40)])
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>')
            .take(20)
            .collect();
        let hint = if text[0] == b'<' {
            " (an HTML or XML page, perhaps a login or error page)"
        } else {
            ""
        };
        return format!("{place}: expected JSON, found text starting with `{start}`{hint}");
    }
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    format!("{place}: invalid JSON: {message}")
}

/// Why the default `$[*]` does not fit this document, and which `records` would.
fn not_an_array(document: &Value) -> String {
    let Value::Object(map) = document else {
        return format!(
            "the document is a single {} value, not an array of records: set records in [source]",
            kind_of(document)
        );
    };
    let arrays: Vec<&String> = map.iter().filter(|(_, v)| v.is_array()).map(|(k, _)| k).collect();
    match arrays.as_slice() {
        [] => "the document is one object, not an array of records: set records = \"$\" in [source] to read it \
               as one record"
            .into(),
        keys => {
            let suggestions: Vec<String> = keys
                .iter()
                .map(|k| format!("records = \"{}\"", member_path(k)))
                .collect();
            format!(
                "the document is an object, not an array of records: its records are likely under {}; set {} in [source]",
                keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "),
                suggestions.join(" or ")
            )
        }
    }
}

fn member_path(key: &str) -> String {
    if !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
    {
        format!("$.{key}[*]")
    } else {
        format!("$['{}'][*]", key.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
