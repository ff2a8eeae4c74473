//! Apply a bound mapping to one raw record: canonical records, rejects, or nothing (filtered).

use std::borrow::Cow;
use std::collections::HashMap;

use rhai::Dynamic;
use rust_decimal::Decimal;

use super::convert::coerce;
use super::expr::{row_map, to_dynamic};
use super::steps::{self, StepContext};
use super::{Binding, EntityPlan, FilterPlan, Input, Mapping};
use crate::model::{CanonicalRecord, FieldType, RawRecord, RawValues, Reason, Reject, Value};

/// What one raw record became, for one entity.
#[derive(Debug)]
pub enum Outcome {
    Record(CanonicalRecord),
    Reject(Reject),
}

/// Crosswalk misses counted by (table, code), so the table's owner sees the codes to add.
#[derive(Debug, Default)]
pub struct MissCounter {
    pub counts: HashMap<(String, String), u64>,
}

/// Distinct codes kept per run; past this, misses are still counted under "(other codes)".
const MAX_DISTINCT_MISSES: usize = 10_000;

impl MissCounter {
    pub fn add(&mut self, table: &str, code: &str) {
        let key = (table.to_string(), code.to_string());
        if self.counts.len() >= MAX_DISTINCT_MISSES && !self.counts.contains_key(&key) {
            *self
                .counts
                .entry((table.to_string(), "(other codes)".into()))
                .or_default() += 1;
        } else {
            *self.counts.entry(key).or_default() += 1;
        }
    }

    /// Misses sorted by count, most frequent first.
    pub fn sorted(&self) -> Vec<(&str, &str, u64)> {
        let mut v: Vec<_> = self
            .counts
            .iter()
            .map(|((t, c), n)| (t.as_str(), c.as_str(), *n))
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)).then(a.1.cmp(b.1)));
        v
    }
}

/// What a sensitive value is replaced by wherever raw values are kept or shown.
pub const MASK: &str = "****";

impl Mapping {
    /// Map one raw record. Pushes one outcome per entity the row produces; returns `false`
    /// when a filter skipped the row.
    pub fn apply(&self, b: &Binding, raw: &RawRecord, out: &mut Vec<Outcome>, misses: &mut MissCounter) -> bool {
        let slots = self.slot_values(b, raw);
        let row = || self.row_dynamic(b, raw);
        if !self.passes(&self.filters, &row) {
            return false;
        }
        let mut any = false;
        for plan in &self.entities {
            if !self.passes(&plan.filters, &row) {
                continue;
            }
            any = true;
            out.push(self.map_entity(plan, b, raw, &slots, &row, misses));
        }
        any || self.entities.is_empty()
    }

    fn passes(&self, filters: &[FilterPlan], row: &dyn Fn() -> Dynamic) -> bool {
        filters.iter().all(|f| {
            // A filter that cannot be evaluated keeps the row: it will be mapped and, if it is
            // bad, rejected with a reason, never dropped silently.
            let skip = f
                .skip_if
                .as_ref()
                .is_some_and(|x| x.eval_bool(vec![("row", row())]).unwrap_or(false));
            let keep = f
                .keep_if
                .as_ref()
                .is_none_or(|x| x.eval_bool(vec![("row", row())]).unwrap_or(true));
            !skip && keep
        })
    }

    /// The values of the columns the mapping reads, borrowed from the row where they can be.
    fn slot_values<'r>(&self, b: &Binding, raw: &'r RawRecord) -> Vec<Cow<'r, str>> {
        match &raw.values {
            RawValues::Row(values) => b
                .positions
                .iter()
                .map(|p| {
                    p.and_then(|i| values.get(i))
                        .map_or(Cow::Borrowed(""), |v| Cow::Borrowed(v.as_str()))
                })
                .collect(),
            RawValues::Json(doc) => self
                .slots
                .iter()
                .map(|s| match &s.column {
                    super::ColumnRef::Path(_, path) => match path.query(doc).first() {
                        Some(serde_json::Value::String(s)) => Cow::Owned(s.clone()),
                        Some(serde_json::Value::Null) | None => Cow::Borrowed(""),
                        Some(other) => Cow::Owned(other.to_string()),
                    },
                    _ => Cow::Borrowed(""),
                })
                .collect(),
        }
    }

    fn row_dynamic(&self, b: &Binding, raw: &RawRecord) -> Dynamic {
        if !self.uses_row {
            return Dynamic::UNIT;
        }
        match &raw.values {
            RawValues::Row(values) => row_map(
                b.header
                    .iter()
                    .map(String::as_str)
                    .zip(values.iter().map(String::as_str)),
            ),
            RawValues::Json(doc) => super::expr::json_to_dynamic(doc),
        }
    }

    /// Raw values for a reject, sensitive columns masked.
    pub fn masked_raw(&self, b: &Binding, raw: &RawRecord) -> serde_json::Value {
        match &raw.values {
            RawValues::Row(values) => {
                let mut m = serde_json::Map::new();
                for (i, v) in values.iter().enumerate() {
                    let name = b.header.get(i).cloned().unwrap_or_else(|| format!("column_{}", i + 1));
                    let masked = b.masked.get(i).copied().unwrap_or(false);
                    m.insert(name, if masked { MASK.into() } else { v.clone().into() });
                }
                serde_json::Value::Object(m)
            }
            RawValues::Json(doc) => {
                let mut doc = doc.clone();
                if let serde_json::Value::Object(m) = &mut doc {
                    for (k, v) in m.iter_mut() {
                        if self.sensitive_columns.contains(k) {
                            *v = MASK.into();
                        }
                    }
                }
                doc
            }
        }
    }

    fn map_entity(
        &self,
        plan: &EntityPlan,
        b: &Binding,
        raw: &RawRecord,
        slots: &[Cow<'_, str>],
        row: &dyn Fn() -> Dynamic,
        misses: &mut MissCounter,
    ) -> Outcome {
        let entity = plan.entity;
        let mut values = vec![Value::Null; entity.fields.len()];
        let mut reasons: Vec<Reason> = Vec::new();
        for f in &plan.fields {
            let field = &entity.fields[f.index];
            let shown = |v: &str| {
                if f.sensitive { MASK.to_string() } else { v.to_string() }
            };
            let mut v = match &f.input {
                Input::Slot(s) => text_value(&slots[*s]),
                Input::Const(k) => Value::Text(k.clone()),
                Input::Nothing => Value::Null,
                Input::Expr(x) => match x.eval(vec![("row", row())]) {
                    Ok(d) => super::expr::from_dynamic(d),
                    Err(e) => {
                        reasons.push(Reason {
                            field: field.name.into(),
                            rule: "expr".into(),
                            value: None,
                            message: format!("expression failed: {e}"),
                        });
                        continue;
                    }
                },
            };
            // The input as the reject shows it when a step fails: borrowed from the row when it
            // came from a column, so a field that maps cleanly costs no copy of it.
            let input_text: Option<Cow<'_, str>> = match &f.input {
                Input::Slot(s) => (!slots[*s].is_empty()).then(|| Cow::Borrowed(&*slots[*s])),
                Input::Const(k) => Some(Cow::Borrowed(k.as_str())),
                _ => v.to_text().map(Cow::Owned),
            };
            let mut failed = false;
            let mut on_miss = |t: &str, c: &str| misses.add(t, c);
            let mut cx = StepContext {
                slots,
                target: field.ty,
                on_miss: &mut on_miss,
                row,
            };
            for step in &f.steps {
                match steps::apply(step, v, &mut cx) {
                    Ok(next) => v = next,
                    Err(e) => {
                        reasons.push(Reason {
                            field: field.name.into(),
                            rule: e.rule.into(),
                            value: input_text.as_deref().map(shown),
                            message: e.message,
                        });
                        failed = true;
                        v = Value::Null;
                        break;
                    }
                }
            }
            if failed {
                continue;
            }
            match finish(v, field.ty) {
                Ok(v) => {
                    for rule in &f.rules {
                        if let Err(msg) = rule.check(&v) {
                            reasons.push(Reason {
                                field: field.name.into(),
                                rule: rule.name().into(),
                                value: v.to_text().as_deref().map(shown),
                                message: msg,
                            });
                        }
                    }
                    values[f.index] = v;
                }
                Err((rule, msg, text)) => reasons.push(Reason {
                    field: field.name.into(),
                    rule: rule.into(),
                    value: text.as_deref().map(shown),
                    message: msg,
                }),
            }
        }
        for (i, field) in entity.fields.iter().enumerate() {
            let already = reasons.iter().any(|r| r.field == field.name);
            if field.required && values[i].is_null() && !already {
                reasons.push(Reason {
                    field: field.name.into(),
                    rule: "required".into(),
                    value: None,
                    message: "is required but empty".into(),
                });
            }
        }
        let record = CanonicalRecord {
            entity,
            values,
            lineage: raw.lineage.clone(),
        };
        if reasons.is_empty() {
            for r in &plan.rules {
                let map: rhai::Map = entity
                    .fields
                    .iter()
                    .zip(&record.values)
                    .map(|(f, v)| (f.name.into(), to_dynamic(v)))
                    .collect();
                match r
                    .expr
                    .eval_bool(vec![("record", Dynamic::from_map(map)), ("row", row())])
                {
                    Ok(true) => {}
                    Ok(false) => reasons.push(Reason {
                        field: "*".into(),
                        rule: r.name.clone(),
                        value: None,
                        message: r
                            .message
                            .clone()
                            .unwrap_or_else(|| format!("rule {} failed: {}", r.name, r.expr.source)),
                    }),
                    Err(e) => reasons.push(Reason {
                        field: "*".into(),
                        rule: r.name.clone(),
                        value: None,
                        message: format!("rule {} could not be evaluated: {e}", r.name),
                    }),
                }
            }
        }
        if reasons.is_empty() {
            return Outcome::Record(record);
        }
        let key_ok = entity.key_fields().all(|(i, _)| !record.values[i].is_null());
        Outcome::Reject(Reject {
            entity: entity.name.to_string(),
            key: key_ok.then(|| record.key()),
            lineage: raw.lineage.clone(),
            reasons,
            raw: self.masked_raw(b, raw),
        })
    }
}

/// Source text as a value: empty text is no value.
fn text_value(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Text(s.to_string())
    }
}

/// The step output as the field's type, decimals held to the field's scale.
fn finish(v: Value, ty: FieldType) -> Result<Value, (&'static str, String, Option<String>)> {
    let v = match (v, ty) {
        // What coerce does for text, without copying it.
        (Value::Text(s), FieldType::String) => {
            if s.trim().is_empty() {
                Value::Null
            } else {
                Value::Text(s)
            }
        }
        (Value::Text(s), _) => coerce(&s, ty).map_err(|e| ("type", format!("{s:?}: {e}"), Some(s.clone())))?,
        (Value::Integer(i), FieldType::Decimal { .. }) => Value::Decimal(Decimal::from(i)),
        (Value::Decimal(d), FieldType::Integer) if d.fract().is_zero() => {
            Value::Integer(i64::try_from(d).map_err(|_| ("type", format!("{d} is too large"), Some(d.to_string())))?)
        }
        (Value::Timestamp(t), FieldType::Date) => Value::Date(t.date_naive()),
        (Value::Boolean(b), FieldType::String) => Value::Text(b.to_string()),
        (v @ (Value::Decimal(_) | Value::Integer(_)), FieldType::String) => {
            Value::Text(v.to_text().unwrap_or_default())
        }
        (v, ty) => {
            let fits = matches!(
                (&v, ty),
                (Value::Null, _)
                    | (Value::Decimal(_), FieldType::Decimal { .. })
                    | (Value::Integer(_), FieldType::Integer)
                    | (Value::Date(_), FieldType::Date)
                    | (Value::Timestamp(_), FieldType::Timestamp)
                    | (Value::Boolean(_), FieldType::Boolean)
            );
            if !fits {
                let t = v.to_text();
                return Err((
                    "type",
                    format!("{:?} is not a {}", t.clone().unwrap_or_default(), ty.name()),
                    t,
                ));
            }
            v
        }
    };
    if let (Value::Decimal(d), FieldType::Decimal { scale }) = (&v, ty) {
        let d = d.normalize();
        if d.scale() > scale {
            return Err((
                "scale",
                format!(
                    "{d} has more than {scale} decimal places; to round it add {{ step = \"round\", scale = {scale}, mode = \"half_up\" }} (or another mode) after the conversion"
                ),
                Some(d.to_string()),
            ));
        }
        return Ok(Value::Decimal(d));
    }
    Ok(v)
}
