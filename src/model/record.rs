//! Records as they flow through opsync: raw records with their lineage, canonical records, rejects.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::schema::{Entity, FieldType};
use super::text_row::TextRow;

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
    /// Flat files: one text value per column of the source header.
    Row(TextRow),
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
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    #[default]
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
    /// The natural key as one string (see [`super::key`]): composite keys join their escaped parts
    /// with `|`.
    pub fn key(&self) -> String {
        let texts: Vec<Option<String>> = self
            .entity
            .key_fields()
            .map(|(idx, _)| self.values[idx].to_text())
            .collect();
        super::key::join(self.entity, texts.iter().map(Option::as_deref))
    }

    /// Content hash over every field in schema order: decides "unchanged" between runs.
    ///
    /// Each value is laid out as a type tag and its exact binary form (text as its length and
    /// bytes, a decimal as its normalized mantissa and scale, a date as its day number, ...), so
    /// that two records hash alike exactly when their values are equal, and nothing is formatted
    /// on the way. A target keeps the hash beside each row; a stored hash made some other way only
    /// costs a comparison of values (see the loader), never a wrong "unchanged".
    pub fn content_hash(&self) -> [u8; 16] {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with_borrow_mut(|buf| {
            buf.clear();
            for v in &self.values {
                match v {
                    Value::Null => buf.push(0),
                    Value::Text(s) => {
                        buf.push(1);
                        buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
                        buf.extend_from_slice(s.as_bytes());
                    }
                    Value::Decimal(d) => {
                        let d = d.normalize();
                        buf.push(2);
                        buf.extend_from_slice(&d.mantissa().to_le_bytes());
                        buf.extend_from_slice(&d.scale().to_le_bytes());
                    }
                    Value::Integer(i) => {
                        buf.push(3);
                        buf.extend_from_slice(&i.to_le_bytes());
                    }
                    Value::Date(d) => {
                        buf.push(4);
                        buf.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
                    }
                    Value::Timestamp(t) => {
                        buf.push(5);
                        buf.extend_from_slice(&t.timestamp().to_le_bytes());
                        buf.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
                    }
                    Value::Boolean(b) => buf.extend_from_slice(&[6, u8::from(*b)]),
                }
            }
            let mut out = [0u8; 16];
            out.copy_from_slice(&blake3::hash(buf).as_bytes()[..16]);
            out
        })
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

    /// Read a canonical JSON Lines line back. `Err` when the line is not a canonical record at
    /// all (the input is not what `opsync transform` writes); `Ok(Err(reject))` when it is one
    /// but a value does not parse as its field's type. Fields absent from `record` are empty; the
    /// model's other checks (required fields, scales, codes) are [`check_values`]'.
    pub fn from_line(line: &serde_json::Value) -> Result<Result<CanonicalRecord, Reject>, String> {
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
        let mut values = Vec::with_capacity(entity.fields.len());
        let mut reasons = Vec::new();
        for f in entity.fields {
            let json = record.get(f.name).unwrap_or(&serde_json::Value::Null);
            // No source value holds these (sources reject them as damaged rows), so no record may.
            if let serde_json::Value::String(s) = json
                && crate::source::odd_character(s).is_some()
            {
                reasons.push(Reason {
                    field: f.name.into(),
                    rule: "type".into(),
                    value: Some(s.replace('\0', "\\u0000").replace('\u{feff}', "\\ufeff")),
                    message: "holds a NUL character (\\u0000) or a byte-order mark (\\ufeff), which no \
                              exported value holds"
                        .into(),
                });
                values.push(Value::Null);
                continue;
            }
            match Value::parse_json(f.ty, json) {
                Ok(v) => values.push(v),
                Err(message) => {
                    reasons.push(Reason {
                        field: f.name.into(),
                        rule: "type".into(),
                        value: Some(json_text(json)),
                        message,
                    });
                    values.push(Value::Null);
                }
            }
        }
        let record = CanonicalRecord {
            entity,
            values,
            lineage,
        };
        if reasons.is_empty() {
            return Ok(Ok(record));
        }
        let key_ok = entity.key_fields().all(|(i, _)| !record.values[i].is_null());
        Ok(Err(Reject {
            entity: entity.name.into(),
            key: key_ok.then(|| record.key()),
            lineage: record.lineage.clone(),
            reasons,
            raw: line.get("record").cloned().unwrap_or_default(),
        }))
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Value {
    /// Parse a canonical JSON value strictly as the field's type (decimals, dates and timestamps
    /// as their canonical text, integers and booleans as JSON numbers and booleans, or text).
    pub fn parse_json(ty: FieldType, v: &serde_json::Value) -> Result<Value, String> {
        match v {
            serde_json::Value::Null => Ok(Value::Null),
            // As a mapped field: text of nothing but white space is no value (so a key or a
            // required field of spaces is missing, not loaded).
            serde_json::Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
            serde_json::Value::String(s) => Value::parse_stored(ty, s),
            serde_json::Value::Bool(b) if ty == FieldType::Boolean => Ok(Value::Boolean(*b)),
            serde_json::Value::Number(n) if matches!(ty, FieldType::Integer | FieldType::Decimal { .. }) => {
                Value::parse_stored(ty, &n.to_string())
            }
            other => Err(format!("{other} is not a {}", ty.name())),
        }
    }

    /// Parse the canonical text form of a value ([`Value::to_text`]'s output) strictly.
    pub fn parse_stored(ty: FieldType, s: &str) -> Result<Value, String> {
        let fail = || format!("{s:?} is not a {}", ty.name());
        match ty {
            FieldType::String | FieldType::Code(_) => Ok(Value::Text(s.to_string())),
            FieldType::Decimal { .. } => Decimal::from_str_exact(s).map(Value::Decimal).map_err(|_| fail()),
            FieldType::Integer => s.parse().map(Value::Integer).map_err(|_| fail()),
            FieldType::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| fail()),
            FieldType::Timestamp => DateTime::parse_from_rfc3339(s)
                .map(|t| Value::Timestamp(t.with_timezone(&Utc)))
                .map_err(|_| fail()),
            FieldType::Boolean => match s {
                "true" => Ok(Value::Boolean(true)),
                "false" => Ok(Value::Boolean(false)),
                _ => Err(fail()),
            },
        }
    }
}

/// Check a record's values against the canonical model: each value of its field's type, decimals
/// within the field's scale, codes from the field's list, required fields present. Every record
/// goes through this before a target sees it, whatever command made it. `shown` gives the text a
/// message may quote for a field's value (masked for sensitive fields).
pub fn check_values(entity: &Entity, values: &[Value], shown: &dyn Fn(&str, &str) -> String) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for (f, v) in entity.fields.iter().zip(values) {
        let problem = match (f.ty, v) {
            (_, Value::Null) if f.required => Some(("required", "is required but empty".to_string())),
            (_, Value::Null) => None,
            (FieldType::Decimal { scale }, Value::Decimal(d)) if d.normalize().scale() > scale => Some((
                "scale",
                format!(
                    "{} has more than {scale} decimal places",
                    shown(f.name, &d.normalize().to_string())
                ),
            )),
            (FieldType::Code(list), Value::Text(t)) if !list.contains(&t.as_str()) => Some((
                "one_of",
                format!("{} is not one of {}", shown(f.name, &format!("{t:?}")), list.join(", ")),
            )),
            (FieldType::String | FieldType::Code(_), Value::Text(_))
            | (FieldType::Decimal { .. }, Value::Decimal(_))
            | (FieldType::Integer, Value::Integer(_))
            | (FieldType::Date, Value::Date(_))
            | (FieldType::Timestamp, Value::Timestamp(_))
            | (FieldType::Boolean, Value::Boolean(_)) => None,
            (ty, other) => Some((
                "type",
                format!(
                    "{} is not a {}",
                    shown(f.name, &format!("{:?}", other.to_text().unwrap_or_default())),
                    ty.name()
                ),
            )),
        };
        if let Some((rule, message)) = problem {
            reasons.push(Reason {
                field: f.name.into(),
                rule: rule.into(),
                value: v.to_text().map(|t| shown(f.name, &t)),
                message,
            });
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(values: &[(usize, Value)]) -> CanonicalRecord {
        let entity = crate::model::schema::entity("item").expect("item entity");
        let mut all = vec![Value::Null; entity.fields.len()];
        for (i, v) in values {
            all[*i] = v.clone();
        }
        CanonicalRecord {
            entity,
            values: all,
            lineage: Lineage {
                source: "items.csv".into(),
                locator: None,
                row: 1,
                line: 2,
            },
        }
    }

    #[test]
    fn content_hashes_are_equal_exactly_when_values_are() {
        let dec = |s: &str| Value::Decimal(s.parse().unwrap());
        let text = |s: &str| Value::Text(s.into());
        let same = [
            (vec![(8, dec("12.5"))], vec![(8, dec("12.500"))]),
            (vec![(8, dec("-0.00"))], vec![(8, dec("0"))]),
        ];
        for (a, b) in same {
            assert_eq!(item(&a).content_hash(), item(&b).content_hash(), "{a:?} {b:?}");
        }
        let different = [
            (vec![(1, text(""))], vec![]),
            (
                vec![(1, text("ab")), (2, text("c"))],
                vec![(1, text("a")), (2, text("bc"))],
            ),
            (vec![(8, dec("12.5"))], vec![(8, dec("12.51"))]),
            (vec![(10, Value::Boolean(true))], vec![(10, Value::Boolean(false))]),
            (vec![(10, Value::Boolean(true))], vec![(10, Value::Integer(1))]),
            (vec![(1, text("1"))], vec![(1, Value::Integer(1))]),
        ];
        for (a, b) in different {
            assert_ne!(item(&a).content_hash(), item(&b).content_hash(), "{a:?} {b:?}");
        }
    }

    #[test]
    fn the_content_hash_of_a_record_is_pinned() {
        // Targets keep these hashes: a change here makes the next run compare every row by value.
        let r = item(&[
            (0, Value::Text("IT0000001".into())),
            (1, Value::Text("Gauze sponge 4x4 in, sterile — ünïcode".into())),
            (7, Value::Decimal("12.5000".parse().unwrap())),
            (10, Value::Boolean(true)),
        ]);
        let hex: String = r.content_hash().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_HASH);
    }

    const PINNED_HASH: &str = "54c0b275fd62fe28581ba78d9ed28883";
}
