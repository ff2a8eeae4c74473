//! Apply a bound mapping to one raw record: canonical records, rejects, or nothing (filtered).

use std::borrow::Cow;
use std::collections::HashMap;

use rhai::Dynamic;
use rust_decimal::Decimal;

use super::convert::coerce;
use super::expr::{self, row_map, to_dynamic};
use super::mask::{MASK, Secrets};
use super::parents::Made;
use super::paths::json_slot;
use super::steps::{self, StepContext};
use super::{Binding, ColumnRef, EntityPlan, FilterPlan, Input, Mapping};
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

/// Why a column could not give one value for this record (JSON paths only).
#[derive(Debug)]
struct SlotProblem {
    slot: usize,
    rule: &'static str,
    message: String,
}

impl Mapping {
    /// Map one raw record. Pushes one outcome per entity the row produces; returns `false`
    /// when a filter skipped the row.
    pub fn apply(&self, b: &Binding, raw: &RawRecord, out: &mut Vec<Outcome>, misses: &mut MissCounter) -> bool {
        expr::set_record(&raw.lineage);
        let (slots, problems) = self.slot_values(b, raw);
        let row = || self.row_dynamic(b, raw);
        match self.passes(&self.filters, &row) {
            Ok(true) => {}
            Ok(false) => return false,
            Err(reason) => {
                for plan in &self.entities {
                    out.push(Outcome::Reject(self.reject(
                        plan,
                        b,
                        raw,
                        None,
                        vec![reason.clone()],
                        Secrets::default(),
                    )));
                }
                return true;
            }
        }
        // What each entity became is kept only when some entity has a parent: a mapping of one
        // entity pays nothing for the rule.
        let track = self.entities.iter().any(|e| e.parent.is_some());
        let mut made: Vec<Option<Made>> = Vec::new();
        let mut any = false;
        for plan in &self.entities {
            let (outcome, rejected) = match self.passes(&plan.filters, &row) {
                Ok(false) => {
                    if track {
                        made.push(None);
                    }
                    continue;
                }
                Ok(true) => self.map_entity(plan, b, raw, &slots, &problems, &row, misses),
                Err(reason) => (
                    Outcome::Reject(self.reject(plan, b, raw, None, vec![reason], Secrets::default())),
                    None,
                ),
            };
            any = true;
            if track {
                made.push(Some(Made {
                    at: out.len(),
                    rejected,
                }));
            }
            out.push(outcome);
        }
        if made.iter().any(|m| m.as_ref().is_some_and(|m| m.rejected.is_some())) {
            self.reject_orphans(&mut made, out);
        }
        any || self.entities.is_empty()
    }

    /// Whether a row passes the filters. A filter that cannot be evaluated is a reject reason:
    /// it might have skipped the row, so neither keeping nor skipping it would be sure.
    fn passes(&self, filters: &[FilterPlan], row: &dyn Fn() -> Dynamic) -> Result<bool, Reason> {
        for f in filters {
            for (name, x, skip_on) in [("skip_if", &f.skip_if, true), ("keep_if", &f.keep_if, false)] {
                let Some(x) = x else { continue };
                match x.eval_bool(vec![("row", row())]) {
                    Ok(v) if v == skip_on => return Ok(false),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Reason {
                            field: "*".into(),
                            rule: "filter".into(),
                            value: None,
                            message: format!("filter {name} = {:?} could not be evaluated: {e}", x.source),
                        });
                    }
                }
            }
        }
        Ok(true)
    }

    /// The values of the columns the mapping reads, borrowed from the row where they can be,
    /// and the JSON paths that did not give one value.
    fn slot_values<'r>(&self, b: &Binding, raw: &'r RawRecord) -> (Vec<Cow<'r, str>>, Vec<SlotProblem>) {
        match &raw.values {
            RawValues::Row(values) => (
                b.positions
                    .iter()
                    .map(|p| Cow::Borrowed(p.and_then(|i| values.get(i)).unwrap_or_default()))
                    .collect(),
                Vec::new(),
            ),
            RawValues::Json(doc) => {
                let mut problems = Vec::new();
                let values = self
                    .slots
                    .iter()
                    .enumerate()
                    .map(|(i, s)| match &s.column {
                        ColumnRef::Path(label, path) => json_slot(label, &path.query(doc).all(), &s.many)
                            .unwrap_or_else(|(rule, message)| {
                                problems.push(SlotProblem { slot: i, rule, message });
                                Cow::Borrowed("")
                            }),
                        _ => Cow::Borrowed(""),
                    })
                    .collect();
                (values, problems)
            }
        }
    }

    fn row_dynamic(&self, b: &Binding, raw: &RawRecord) -> Dynamic {
        if !self.uses_row {
            return Dynamic::UNIT;
        }
        match &raw.values {
            RawValues::Row(values) => row_map(b.header.iter().map(String::as_str).zip(values.iter())),
            RawValues::Json(doc) => super::expr::json_to_dynamic(doc),
        }
    }

    /// A reject of `plan`'s entity for this row, its reasons scrubbed of the row's sensitive
    /// values (besides `secrets`, those the fields met on the way).
    fn reject(
        &self,
        plan: &EntityPlan,
        b: &Binding,
        raw: &RawRecord,
        key: Option<String>,
        mut reasons: Vec<Reason>,
        mut secrets: Secrets,
    ) -> Reject {
        if self.masks_anything(b) {
            self.row_secrets(b, raw, &mut secrets);
            for r in &mut reasons {
                secrets.scrub_reason(r);
            }
        }
        Reject {
            entity: plan.entity.name.to_string(),
            key,
            lineage: raw.lineage.clone(),
            reasons,
            raw: self.masked_raw(b, raw),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn map_entity(
        &self,
        plan: &EntityPlan,
        b: &Binding,
        raw: &RawRecord,
        slots: &[Cow<'_, str>],
        problems: &[SlotProblem],
        row: &dyn Fn() -> Dynamic,
        misses: &mut MissCounter,
    ) -> (Outcome, Option<Vec<Value>>) {
        let entity = plan.entity;
        // Refilled from a record the loader is done with: each field's old value is taken out
        // before it is filled, so whatever path the field takes, no old value stays behind.
        let mut values = self.pool.take(entity);
        let mut reasons: Vec<Reason> = Vec::new();
        // Texts of sensitive fields met on the way: no reason may carry them.
        let mut secrets = Secrets::default();
        for f in &plan.fields {
            let field = &entity.fields[f.index];
            let old = std::mem::take(&mut values[f.index]);
            let reason = |secrets: &Secrets, rule: &str, value: Option<&str>, message: String| {
                if f.sensitive {
                    Reason {
                        field: field.name.into(),
                        rule: rule.into(),
                        value: value.map(|_| MASK.to_string()),
                        message: secrets.scrub(&message, true),
                    }
                } else {
                    Reason {
                        field: field.name.into(),
                        rule: rule.into(),
                        value: value.map(str::to_string),
                        message,
                    }
                }
            };
            if f.sensitive {
                for s in &f.reads {
                    secrets.add(&slots[*s]);
                }
            }
            if let Some(p) = problems.iter().find(|p| f.reads.contains(&p.slot)) {
                reasons.push(reason(&secrets, p.rule, None, p.message.clone()));
                continue;
            }
            let mut v = match &f.input {
                Input::Slot(s) => text_value(&slots[*s], old),
                Input::Const(k) => Value::Text(k.clone()),
                Input::Nothing => Value::Null,
                Input::Expr(x) => match x.eval(vec![("row", row())]).map(super::expr::from_dynamic) {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => {
                        reasons.push(reason(&secrets, "expr", None, e));
                        continue;
                    }
                    Err(e) => {
                        reasons.push(reason(&secrets, "expr", None, format!("expression failed: {e}")));
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
            let sensitive = f.sensitive;
            // A sensitive field's misses are counted under the mask: the count still tells the
            // crosswalk's owner that codes are missing, without showing them.
            let mut on_miss = |t: &str, c: &str| misses.add(t, if sensitive { MASK } else { c });
            let mut cx = StepContext {
                slots,
                target: field.ty,
                on_miss: &mut on_miss,
                row,
            };
            for step in &f.steps {
                if sensitive {
                    secrets.add_value(&v);
                }
                match steps::apply(step, v, &mut cx) {
                    Ok(next) => v = next,
                    Err(e) => {
                        reasons.push(reason(&secrets, e.rule, input_text.as_deref(), e.message));
                        failed = true;
                        v = Value::Null;
                        break;
                    }
                }
            }
            if failed {
                continue;
            }
            if sensitive {
                secrets.add_value(&v);
            }
            match finish(v, field.ty, sensitive) {
                Ok(v) => {
                    for rule in &f.rules {
                        if let Err(msg) = rule.check(&v, sensitive) {
                            let text = v.to_text();
                            reasons.push(reason(&secrets, rule.name(), text.as_deref(), msg));
                        }
                    }
                    values[f.index] = v;
                }
                Err((rule, msg, text)) => reasons.push(reason(&secrets, rule, text.as_deref(), msg)),
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
            self.check_record_rules(plan, &record, row, &mut reasons);
        }
        if reasons.is_empty() {
            return (Outcome::Record(record), None);
        }
        let key_ok = entity.key_fields().all(|(i, _)| !record.values[i].is_null());
        let key = key_ok.then(|| record.key());
        let reject = self.reject(plan, b, raw, key, reasons, secrets);
        (Outcome::Reject(reject), Some(record.values))
    }

    /// Cross-field rules over a record whose fields all mapped.
    fn check_record_rules(
        &self,
        plan: &EntityPlan,
        record: &CanonicalRecord,
        row: &dyn Fn() -> Dynamic,
        reasons: &mut Vec<Reason>,
    ) {
        let entity = plan.entity;
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
}

/// Source text as a value (empty text is no value), in `old`'s string when it has one.
fn text_value(s: &str, old: Value) -> Value {
    match (s.is_empty(), old) {
        (true, _) => Value::Null,
        (false, Value::Text(mut t)) => {
            t.clear();
            t.push_str(s);
            Value::Text(t)
        }
        (false, _) => Value::Text(s.to_string()),
    }
}

/// The step output as the field's type, decimals held to the field's scale. A `sensitive`
/// value is written as the mask in the message.
fn finish(v: Value, ty: FieldType, sensitive: bool) -> Result<Value, (&'static str, String, Option<String>)> {
    let shown = |s: &str| if sensitive { MASK.to_string() } else { s.to_string() };
    let v = match (v, ty) {
        // What coerce does for text, without copying it.
        (Value::Text(s), FieldType::String) => {
            if s.trim().is_empty() {
                Value::Null
            } else {
                Value::Text(s)
            }
        }
        (Value::Text(s), _) => {
            coerce(&s, ty).map_err(|e| ("type", format!("{:?}: {e}", shown(&s)), Some(s.clone())))?
        }
        (Value::Integer(i), FieldType::Decimal { .. }) => Value::Decimal(Decimal::from(i)),
        (Value::Decimal(d), FieldType::Integer) if d.fract().is_zero() => {
            Value::Integer(i64::try_from(d).map_err(|_| {
                (
                    "type",
                    format!("{} is too large", shown(&d.to_string())),
                    Some(d.to_string()),
                )
            })?)
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
                    format!("{:?} is not a {}", shown(&t.clone().unwrap_or_default()), ty.name()),
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
                    "{} has more than {scale} decimal places; to round it add {{ step = \"round\", scale = {scale}, mode = \"half_up\" }} (or another mode) after the conversion",
                    shown(&d.to_string())
                ),
                Some(d.to_string()),
            ));
        }
        return Ok(Value::Decimal(d));
    }
    Ok(v)
}
