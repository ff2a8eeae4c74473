//! Records as they flow through opsync: raw records with their lineage, canonical records, rejects.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::schema::{Entity, FieldType};

/// Where a raw record came from: file and line, sheet and row, or file and record index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// File (or URL) the record was read from.
    pub source: Arc<str>,
    /// Sheet name (workbooks) or JSONPath of the record set (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<Arc<str>>,
    /// 1-based data row number within the source (header rows not counted).
    pub row: u64,
    /// 1-based physical line (text files) or spreadsheet row where the record starts.
    pub line: u64,
}

impl fmt::Display for Lineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.locator {
            Some(loc) => write!(f, "{}[{}]:{}", self.source, loc, self.line),
            None => write!(f, "{}:{}", self.source, self.line),
        }
    }
}

/// What a source yields: a row of text values by column position, or one JSON document.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValues {
    /// Flat files: one string per column of the source header.
    Row(Vec<String>),
    /// JSON sources: the selected record.
    Json(serde_json::Value),
}

/// One record read from a source, before mapping.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub values: RawValues,
    pub lineage: Lineage,
}

/// A typed canonical value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Decimal(Decimal),
    Integer(i64),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    Boolean(bool),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as text, as it is stored in text columns and files.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            other => {
                let mut s = String::new();
                other.write_text(&mut s);
                Some(s)
            }
        }
    }

    /// Append the text of [`Value::to_text`] to `out`, without allocating for it; `false` for
    /// `Null` (nothing appended).
    pub fn write_text(&self, out: &mut String) -> bool {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = match self {
            Value::Null => return false,
            Value::Text(s) => out.write_str(s),
            Value::Decimal(d) => write!(out, "{}", d.normalize()),
            Value::Integer(i) => write!(out, "{i}"),
            Value::Date(d) => write!(out, "{}", d.format("%Y-%m-%d")),
            Value::Timestamp(t) => out.write_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::Boolean(b) => out.write_str(if *b { "true" } else { "false" }),
        };
        true
    }

    /// The value as JSON: decimals as strings, so nothing is rounded by a reader.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => (*i).into(),
            Value::Boolean(b) => (*b).into(),
            other => other.to_text().map(Into::into).unwrap_or_default(),
        }
    }

    /// Parse a stored text or JSON value back into the given type (used when reading targets).
    pub fn from_json(ty: FieldType, v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Boolean(*b),
            serde_json::Value::Number(n) if ty == FieldType::Integer => {
                n.as_i64().map(Value::Integer).unwrap_or(Value::Null)
            }
            other => {
                let s = match other {
                    serde_json::Value::String(s) => s.clone(),
                    x => x.to_string(),
                };
                Value::from_stored_text(ty, &s)
            }
        }
    }

    /// Parse the canonical text form of a value (the inverse of [`Value::to_text`]).
    pub fn from_stored_text(ty: FieldType, s: &str) -> Value {
        let parsed = match ty {
            FieldType::String | FieldType::Code(_) => Some(Value::Text(s.to_string())),
            FieldType::Decimal { .. } => s.parse().ok().map(Value::Decimal),
            FieldType::Integer => s.parse().ok().map(Value::Integer),
            FieldType::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Value::Date),
            FieldType::Timestamp => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| Value::Timestamp(t.with_timezone(&Utc))),
            FieldType::Boolean => match s {
                "true" | "1" => Some(Value::Boolean(true)),
                "false" | "0" => Some(Value::Boolean(false)),
                _ => None,
            },
        };
        parsed.unwrap_or_else(|| Value::Text(s.to_string()))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_text() {
            Some(s) => f.write_str(&s),
            None => Ok(()),
        }
    }
}

/// One record of a canonical entity: values in the entity's field order.
#[derive(Debug, Clone)]
pub struct CanonicalRecord {
    pub entity: &'static Entity,
    pub values: Vec<Value>,
    pub lineage: Lineage,
}

impl CanonicalRecord {
    /// The natural key as one string: key field values joined by `|`.
    pub fn key(&self) -> String {
        let mut key = String::new();
        for (i, (idx, _)) in self.entity.key_fields().enumerate() {
            if i > 0 {
                key.push('|');
            }
            if let Some(s) = self.values[idx].to_text() {
                key.push_str(&s);
            }
        }
        key
    }

    /// Content hash over every field in schema order: decides "unchanged" between runs.
    pub fn content_hash(&self) -> [u8; 16] {
        // Each field as its length (u64, little-endian) and its text, or u64::MAX for no value,
        // laid out in one buffer and hashed at once: the same bytes, so the same hash, as feeding
        // the hasher field by field, without a String per field.
        let mut buf = Vec::with_capacity(32 * self.values.len());
        let mut text = String::new();
        for v in &self.values {
            let bytes = match v {
                Value::Null => {
                    buf.extend_from_slice(&u64::MAX.to_le_bytes());
                    continue;
                }
                Value::Text(s) => s.as_bytes(),
                other => {
                    text.clear();
                    other.write_text(&mut text);
                    text.as_bytes()
                }
            };
            buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            buf.extend_from_slice(bytes);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&blake3::hash(&buf).as_bytes()[..16]);
        out
    }

    /// The record as a JSON object, field names in schema order.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.entity
            .fields
            .iter()
            .zip(&self.values)
            .map(|(f, v)| (f.name.to_string(), v.to_json()))
            .collect()
    }

    /// Names of the fields whose values differ between two records of one entity.
    pub fn changed_fields(&self, old: &CanonicalRecord) -> Vec<&'static str> {
        self.entity
            .fields
            .iter()
            .zip(self.values.iter().zip(&old.values))
            .filter(|(_, (a, b))| a.to_text() != b.to_text())
            .map(|(f, _)| f.name)
            .collect()
    }
}

/// Why one field of a record was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Canonical field (or `*` for a record-level rule).
    pub field: String,
    /// Rule that failed: required, pattern, gtin, lookup, type, duplicate_key, ...
    pub rule: String,
    /// The offending value, masked when the field is sensitive.
    pub value: Option<String>,
    pub message: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A record refused by the mapping: kept with its lineage and (masked) raw values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reject {
    pub entity: String,
    /// Natural key when it could be computed.
    pub key: Option<String>,
    pub lineage: Lineage,
    pub reasons: Vec<Reason>,
    /// Raw source values, sensitive columns masked.
    pub raw: serde_json::Value,
}

impl CanonicalRecord {
    /// One line of canonical JSON Lines, as `opsync transform` writes and `opsync load` reads.
    pub fn to_line(&self) -> serde_json::Value {
        serde_json::json!({
            "entity": self.entity.name,
            "key": self.key(),
            "lineage": self.lineage,
            "record": self.to_json(),
        })
    }

    /// Read a canonical JSON Lines line back; fields absent from `record` are empty.
    pub fn from_line(line: &serde_json::Value) -> Result<CanonicalRecord, String> {
        let name = line.get("entity").and_then(|e| e.as_str()).ok_or("no \"entity\"")?;
        let entity = super::schema::entity(name).ok_or_else(|| format!("unknown entity {name:?}"))?;
        let record = line
            .get("record")
            .and_then(|r| r.as_object())
            .ok_or("no \"record\" object")?;
        if let Some(unknown) = record.keys().find(|k| entity.field_index(k).is_none()) {
            return Err(format!("{name} has no field {unknown:?}"));
        }
        let lineage: Lineage = match line.get("lineage") {
            Some(l) => serde_json::from_value(l.clone()).map_err(|e| format!("bad \"lineage\": {e}"))?,
            None => return Err("no \"lineage\"".into()),
        };
        let values = entity
            .fields
            .iter()
            .map(|f| Value::from_json(f.ty, record.get(f.name).unwrap_or(&serde_json::Value::Null)))
            .collect();
        Ok(CanonicalRecord {
            entity,
            values,
            lineage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content hash as first defined: the hasher fed field by field from `to_text`. Ledgers
    /// hold hashes made this way, so any faster way must give the same bytes.
    fn reference_hash(r: &CanonicalRecord) -> [u8; 16] {
        let mut h = blake3::Hasher::new();
        for v in &r.values {
            match v.to_text() {
                Some(s) => {
                    h.update(&(s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
                None => {
                    h.update(&u64::MAX.to_le_bytes());
                }
            }
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        out
    }

    #[test]
    fn content_hash_is_stable_across_value_kinds() {
        let entity = crate::model::schema::entity("item").expect("item entity");
        let mut values = vec![Value::Null; entity.fields.len()];
        let kinds = [
            Value::Text("IT0000001".into()),
            Value::Text(String::new()),
            Value::Decimal("12.5000".parse().unwrap()),
            Value::Integer(-42),
            Value::Date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()),
            Value::Timestamp(
                DateTime::parse_from_rfc3339("2024-03-01T14:30:00.25Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            Value::Boolean(true),
            Value::Boolean(false),
            Value::Null,
            Value::Text("Gauze sponge 4x4 in, sterile — ünïcode".into()),
        ];
        for (slot, v) in values.iter_mut().zip(kinds) {
            *slot = v;
        }
        let lineage = Lineage {
            source: "items.csv".into(),
            locator: None,
            row: 1,
            line: 2,
        };
        let r = CanonicalRecord {
            entity,
            values,
            lineage,
        };
        assert_eq!(r.content_hash(), reference_hash(&r));
        for v in &r.values {
            let mut s = String::new();
            let some = v.write_text(&mut s);
            assert_eq!(v.to_text(), some.then_some(s));
        }
    }
}
