//! Raw records as JSON Lines: the file `opsync extract` writes and `opsync transform` reads back.
//!
//! One object per line, the record's lineage beside its values:
//! `{"lineage": {"source": "po.xlsx", "locator": "PO", "row": 1, "line": 2}, "values": {"PO Number": "PO-1001"}}`
//! for flat sources (columns in header order), or `{"lineage": {...}, "json": <any>}` for JSON
//! sources. [`raw_to_json`] writes a line and [`RawJsonlReader`] reads it, so the two agree by
//! construction. A record keeps the lineage of the file it was first read from, so a reject found
//! while transforming still points at the row of the original spreadsheet, not at the line of the
//! intermediate file. The header is the key order of the first line's `values`; later lines are
//! matched to it by name, so a hand-edited file with keys in another order still reads right.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::json::parse;
use super::{Source, SourceError};
use crate::model::{Lineage, RawRecord, RawValues};

/// One raw record as a JSON Lines object: lineage plus `values` (flat) or `json` (JSON sources).
///
/// Duplicate column names (two `Qty` headers) would collide as object keys, so the second becomes
/// `Qty (2)`, the third `Qty (3)`: positions, and every value, survive the round trip.
pub fn raw_to_json(rec: &RawRecord, columns: &[String]) -> Value {
    let mut line = Map::with_capacity(2);
    line.insert("lineage".into(), lineage_json(&rec.lineage));
    match &rec.values {
        RawValues::Row(values) => {
            let mut object = Map::with_capacity(values.len());
            for (i, value) in values.iter().enumerate() {
                let base = columns.get(i).cloned().unwrap_or_else(|| format!("column_{}", i + 1));
                let mut key = base.clone();
                let mut n = 1;
                while object.contains_key(&key) {
                    n += 1;
                    key = format!("{base} ({n})");
                }
                object.insert(key, Value::String(value.to_string()));
            }
            line.insert("values".into(), Value::Object(object));
        }
        RawValues::Json(value) => {
            line.insert("json".into(), value.clone());
        }
    }
    Value::Object(line)
}

fn lineage_json(lineage: &Lineage) -> Value {
    let mut object = Map::with_capacity(4);
    object.insert("source".into(), Value::String(lineage.source.to_string()));
    if let Some(locator) = &lineage.locator {
        object.insert("locator".into(), Value::String(locator.to_string()));
    }
    object.insert("row".into(), lineage.row.into());
    object.insert("line".into(), lineage.line.into());
    Value::Object(object)
}

/// The lineage object of a line, as written by [`raw_to_json`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageLine {
    source: String,
    #[serde(default)]
    locator: Option<String>,
    row: u64,
    line: u64,
}

/// Whether the file holds flat rows or JSON records; decided by its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Row,
    Json,
}

/// Reads raw-record JSON Lines back into raw records with their original lineage.
pub struct RawJsonlReader {
    reader: Box<dyn BufRead + Send>,
    name: Arc<str>,
    columns: Vec<String>,
    /// Names the header of the original source held twice, read back from their suffixes.
    shared: Vec<super::SharedName>,
    shape: Option<Shape>,
    /// The first record (or its reject), read at open to learn the header.
    pending: Option<Result<RawRecord, SourceError>>,
    buffer: Vec<u8>,
    line: u64,
    bytes: u64,
    /// The last source and locator seen: consecutive records share one allocation.
    last_source: Option<Arc<str>>,
    last_locator: Option<Arc<str>>,
}

impl RawJsonlReader {
    /// Open a file, or standard input when `path` is `-`, and read the first record.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let (reader, name): (Box<dyn BufRead + Send>, Arc<str>) = if path.as_os_str() == "-" {
            (
                Box::new(std::io::BufReader::new(std::io::stdin())),
                Arc::from("(standard input)"),
            )
        } else {
            let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
            let file = std::fs::File::open(path).map_err(|e| SourceError::Io {
                path: name.to_string(),
                source: e,
            })?;
            (Box::new(BufReader::new(file)), name)
        };
        let mut me = RawJsonlReader {
            reader,
            name,
            columns: Vec::new(),
            shared: Vec::new(),
            shape: None,
            pending: None,
            buffer: Vec::new(),
            line: 0,
            bytes: 0,
            last_source: None,
            last_locator: None,
        };
        me.pending = match me.read() {
            Ok(first) => first.map(Ok),
            // A first record that is only a reject must not stop the file from opening.
            Err(e) if !e.is_fatal() => Some(Err(e)),
            Err(e) => return Err(e),
        };
        Ok(me)
    }

    fn error(&self, message: impl std::fmt::Display) -> SourceError {
        SourceError::Json {
            path: self.name.to_string(),
            message: format!("line {}: {message}", self.line),
        }
    }

    fn read(&mut self) -> Result<Option<RawRecord>, SourceError> {
        let object = loop {
            let n = super::read_line(&mut self.reader, &mut self.buffer, &self.name)?;
            if n == 0 {
                return Ok(None);
            }
            self.bytes += n as u64;
            self.line += 1;
            if !self.buffer.trim_ascii().is_empty() {
                break parse(&self.buffer, &self.name, Some(self.line))?;
            }
        };
        let Value::Object(mut object) = object else {
            return Err(self.error("expected an object with \"lineage\" and \"values\" (or \"json\")"));
        };
        let lineage = match object.remove("lineage") {
            Some(v) => LineageLine::deserialize(v).map_err(|e| self.error(format_args!("bad \"lineage\": {e}")))?,
            None => return Err(self.error("missing \"lineage\"")),
        };
        let (values, json) = (object.remove("values"), object.remove("json"));
        if let Some(key) = object.keys().next() {
            return Err(self.error(format_args!(
                "unexpected key {key:?}; a line has \"lineage\" and \"values\" or \"json\""
            )));
        }
        let shape = match (&values, &json) {
            (Some(_), None) => Shape::Row,
            (None, Some(_)) => Shape::Json,
            (Some(_), Some(_)) => {
                return Err(self.error("a line has \"values\" or \"json\", not both"));
            }
            (None, None) => {
                return Err(self.error("missing \"values\" (flat sources) or \"json\" (JSON sources)"));
            }
        };
        if self.shape.is_some_and(|first| first != shape) {
            return Err(self.error("this line mixes flat rows (\"values\") and JSON records (\"json\") in one file"));
        }
        let values = match (values, json) {
            (Some(Value::Object(values)), _) => RawValues::Row(self.align(values)?.into()),
            (Some(_), _) => {
                return Err(self.error("\"values\" must be an object of column names to text"));
            }
            (None, json) => RawValues::Json(json.unwrap_or_default()),
        };
        self.shape = Some(shape);
        let lineage = self.lineage(lineage);
        let nul = match &values {
            RawValues::Row(row) => row.iter().any(|v| super::odd_character(v).is_some()),
            RawValues::Json(doc) => super::json::holds_nul(doc),
        };
        if nul {
            let values = match values {
                RawValues::Row(row) => row.to_vec(),
                RawValues::Json(doc) => vec![doc.to_string()],
            };
            return Err(SourceError::Ragged {
                path: lineage.source.to_string(),
                line: lineage.line,
                row: lineage.row,
                reason: "the record holds a NUL character (\\u0000) or a byte-order mark (\\ufeff), which no \
                         exported value holds"
                    .into(),
                values,
            });
        }
        Ok(Some(RawRecord { values, lineage }))
    }

    /// Values in header order; the first line of the file sets the header.
    fn align(&mut self, values: Map<String, Value>) -> Result<Vec<String>, SourceError> {
        if self.shape.is_none() {
            self.columns = values.keys().cloned().collect();
            self.shared = super::names::shared_by_suffix(&self.columns);
            return values.into_iter().map(|(k, v)| self.text(&k, v)).collect();
        }
        let mut row = vec![String::new(); self.columns.len()];
        for (key, value) in values {
            let Some(i) = self.columns.iter().position(|c| *c == key) else {
                return Err(self.error(format_args!(
                    "column {key:?} is not in the header of the first line ({} columns)",
                    self.columns.len()
                )));
            };
            row[i] = self.text(&key, value)?;
        }
        Ok(row)
    }

    /// A value as text: strings as they are; numbers and booleans a person typed by hand as written.
    fn text(&self, key: &str, value: Value) -> Result<String, SourceError> {
        match value {
            Value::String(s) => Ok(s),
            Value::Null => Ok(String::new()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Array(_) | Value::Object(_) => Err(self.error(format_args!("value of {key:?} must be text"))),
        }
    }

    fn lineage(&mut self, line: LineageLine) -> Lineage {
        let source = match &self.last_source {
            Some(s) if **s == *line.source => s.clone(),
            _ => Arc::from(line.source.as_str()),
        };
        let locator = line.locator.map(|l| match &self.last_locator {
            Some(s) if **s == *l => s.clone(),
            _ => Arc::from(l.as_str()),
        });
        self.last_source = Some(source.clone());
        if locator.is_some() {
            self.last_locator.clone_from(&locator);
        }
        Lineage {
            source,
            locator,
            row: line.row,
            line: line.line,
        }
    }
}

impl Source for RawJsonlReader {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn shared_names(&self) -> &[super::SharedName] {
        &self.shared
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        match self.pending.take() {
            Some(first) => first.map(Some),
            None => self.read(),
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lineage(source: &str, locator: Option<&str>, row: u64, line: u64) -> Lineage {
        Lineage {
            source: Arc::from(source),
            locator: locator.map(Arc::from),
            row,
            line,
        }
    }

    fn write_lines(lines: &[Value]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            writeln!(file, "{line}").unwrap();
        }
        file
    }

    fn read_all(source: &mut dyn Source) -> Vec<RawRecord> {
        let mut out = Vec::new();
        while let Some(r) = source.next_record().unwrap() {
            out.push(r);
        }
        out
    }

    #[test]
    fn flat_records_round_trip_with_their_lineage() {
        let columns: Vec<String> = ["PO Number", "Qty", "Unit Price"].map(String::from).to_vec();
        let records = [
            RawRecord {
                values: RawValues::Row(["PO-1001", "12", "2266.13"].into_iter().collect()),
                lineage: lineage("samples/po.xlsx", Some("Lines 2024"), 1, 4),
            },
            RawRecord {
                values: RawValues::Row(["PO-1002", "", "0.1"].into_iter().collect()),
                lineage: lineage("samples/po.xlsx", Some("Lines 2024"), 2, 7),
            },
        ];
        let file = write_lines(&records.iter().map(|r| raw_to_json(r, &columns)).collect::<Vec<_>>());
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        assert_eq!(reader.columns(), columns.as_slice());
        let back = read_all(&mut reader);
        assert_eq!(back.len(), 2);
        for (a, b) in records.iter().zip(&back) {
            assert_eq!(a.values, b.values);
            assert_eq!(a.lineage, b.lineage);
        }
    }

    #[test]
    fn json_records_round_trip() {
        let record = RawRecord {
            values: RawValues::Json(serde_json::json!({"id": "1", "name": "Boston", "tags": [1, 2.5, null]})),
            lineage: lineage("api/locations.json", Some("$.data[*]"), 1, 1),
        };
        let file = write_lines(&[raw_to_json(&record, &[])]);
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        assert!(reader.columns().is_empty());
        let back = read_all(&mut reader);
        assert_eq!(back[0].values, record.values);
        assert_eq!(back[0].lineage, record.lineage);
    }

    #[test]
    fn line_format_is_the_documented_one() {
        let record = RawRecord {
            values: RawValues::Row(["a", "b"].into_iter().collect()),
            lineage: lineage("items.csv", None, 3, 4),
        };
        let line = raw_to_json(&record, &["Col A".into(), "Col B".into()]);
        assert_eq!(
            line.to_string(),
            r#"{"lineage":{"source":"items.csv","row":3,"line":4},"values":{"Col A":"a","Col B":"b"}}"#
        );
    }

    #[test]
    fn lineage_is_written_as_lineage_serializes() {
        // A field added to `Lineage` must be added to this format (and to `LineageLine`) too.
        for l in [lineage("a.xlsx", Some("PO"), 1, 2), lineage("a.csv", None, 3, 4)] {
            let record = RawRecord {
                values: RawValues::Json(Value::Null),
                lineage: l.clone(),
            };
            assert_eq!(raw_to_json(&record, &[])["lineage"], serde_json::to_value(&l).unwrap());
        }
    }

    #[test]
    fn duplicate_columns_keep_every_value() {
        let record = RawRecord {
            values: RawValues::Row(["1", "2", "3"].into_iter().collect()),
            lineage: lineage("x.csv", None, 1, 2),
        };
        let line = raw_to_json(&record, &["Qty".into(), "Qty".into(), "Qty".into()]);
        let file = write_lines(&[line]);
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        assert_eq!(reader.columns(), ["Qty", "Qty (2)", "Qty (3)"]);
        assert_eq!(read_all(&mut reader)[0].values, record.values);
    }

    #[test]
    fn later_lines_align_by_name_and_fill_missing() {
        let file = write_lines(&[
            serde_json::json!({"lineage": {"source": "a.csv", "row": 1, "line": 2}, "values": {"A": "1", "B": "2", "C": "3"}}),
            serde_json::json!({"lineage": {"source": "a.csv", "row": 2, "line": 3}, "values": {"C": "z", "A": 7}}),
        ]);
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        let back = read_all(&mut reader);
        assert_eq!(back[1].values, RawValues::Row(["7", "", "z"].into_iter().collect()));
    }

    #[test]
    fn unknown_column_and_bad_lines_name_the_line() {
        let file = write_lines(&[
            serde_json::json!({"lineage": {"source": "a.csv", "row": 1, "line": 2}, "values": {"A": "1"}}),
            serde_json::json!({"lineage": {"source": "a.csv", "row": 2, "line": 3}, "values": {"B": "2"}}),
        ]);
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        reader.next_record().unwrap();
        let e = reader.next_record().unwrap_err().to_string();
        assert!(e.contains("line 2: column \"B\" is not in the header"), "{e}");

        let file = write_lines(&[serde_json::json!({"values": {"A": "1"}})]);
        let e = RawJsonlReader::open(file.path()).err().unwrap().to_string();
        assert!(e.ends_with("line 1: missing \"lineage\""), "{e}");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut file,
            b"\n{\"lineage\": {\"source\": \"a\", \"row\": 1, \"line\": 1}, \"json\": [1,}\n",
        )
        .unwrap();
        let e = RawJsonlReader::open(file.path()).err().unwrap().to_string();
        assert!(e.contains("line 2, column"), "{e}");
    }

    #[test]
    fn mixed_shapes_are_refused() {
        let file = write_lines(&[
            serde_json::json!({"lineage": {"source": "a", "row": 1, "line": 1}, "json": {"x": 1}}),
            serde_json::json!({"lineage": {"source": "a", "row": 2, "line": 2}, "values": {"A": "1"}}),
        ]);
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        reader.next_record().unwrap();
        assert!(
            reader
                .next_record()
                .unwrap_err()
                .to_string()
                .contains("mixes flat rows")
        );
    }

    #[test]
    fn empty_file_has_no_records() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut reader = RawJsonlReader::open(file.path()).unwrap();
        assert!(reader.columns().is_empty());
        assert!(reader.next_record().unwrap().is_none());
    }
}
