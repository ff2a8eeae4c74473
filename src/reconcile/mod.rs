//! Reconciliation: two datasets of one canonical entity compared by key, field by field.
//!
//! Every key ends as exactly one of: matched, only on the left, only on the right, mismatched
//! (with each differing field and both values), or a duplicate key on either side. A duplicate is
//! never compared: pairing one of its rows with the other side's would be a guess, the silent
//! misalignment that diff tools without key checks fall into.
//!
//! The right side is held by key (its values), the left side streams; what the left side met is
//! kept as its keys and their outcome, so that a key met twice on the left takes back what its
//! first row was counted as.

pub mod rule;
pub mod side;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;
use thiserror::Error;

pub use rule::{Rule, RuleError};
pub use side::{Record, SideSpec};

use crate::model::{Entity, Value};

#[derive(Debug, Error)]
pub enum ReconcileError {
    /// Something in the command or the reconciliation file (exit 2).
    #[error("{0}")]
    Spec(String),
    /// A side that cannot be read (exit 2: a missing file or table is the caller's to fix).
    #[error("{side}: {message}")]
    Side { side: String, message: String },
}

/// What is compared: the entity, and the rule of each field compared (key fields are not: they
/// are what pairs the rows).
#[derive(Debug, Clone)]
pub struct Spec {
    pub entity: &'static Entity,
    pub fields: Vec<(usize, Rule)>,
}

impl Spec {
    /// Fields named with their rules; the others compare exactly, unless `only_named`.
    pub fn new(entity: &'static Entity, named: &[(String, Rule)], only_named: bool) -> Result<Spec, ReconcileError> {
        let mut rules: BTreeMap<usize, Rule> = BTreeMap::new();
        for (name, r) in named {
            let Some(i) = entity.field_index(name) else {
                let fields: Vec<&str> = entity.fields.iter().map(|f| f.name).collect();
                return Err(ReconcileError::Spec(format!(
                    "{} has no field {name:?}; its fields are {}",
                    entity.name,
                    fields.join(", ")
                )));
            };
            if entity.fields[i].key {
                return Err(ReconcileError::Spec(format!(
                    "{name:?} is part of {}'s key: rows are paired by it, so it takes no rule",
                    entity.name
                )));
            }
            r.check_field(&entity.fields[i])
                .map_err(|e| ReconcileError::Spec(e.to_string()))?;
            if rules.insert(i, r.clone()).is_some() {
                return Err(ReconcileError::Spec(format!("field {name:?} is given two rules")));
            }
        }
        let fields = entity
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.key)
            .filter_map(|(i, _)| match rules.remove(&i) {
                Some(r) => Some((i, r)),
                None if only_named => None,
                None => Some((i, Rule::Exact)),
            })
            .collect();
        Ok(Spec { entity, fields })
    }
}

/// The kinds of result, in the order reports show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Matched,
    Mismatched,
    OnlyLeft,
    OnlyRight,
    DuplicateKey,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Matched,
        Kind::Mismatched,
        Kind::OnlyLeft,
        Kind::OnlyRight,
        Kind::DuplicateKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Matched => "matched",
            Kind::Mismatched => "mismatched",
            Kind::OnlyLeft => "only_left",
            Kind::OnlyRight => "only_right",
            Kind::DuplicateKey => "duplicate_key",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field whose values differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub field: &'static str,
    pub rule: String,
    pub left: Option<String>,
    pub right: Option<String>,
}

/// A key that did not match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    pub kind: Kind,
    pub key: String,
    /// Where the key's row is on each side (file:line, or table), when it has one.
    pub left_at: Option<String>,
    pub right_at: Option<String>,
    /// Mismatched: the fields that differ. Duplicate: none.
    pub fields: Vec<FieldDiff>,
    /// Duplicate keys: rows with the key on each side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<(u64, u64)>,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entity: &'static str,
    pub left: String,
    pub right: String,
    /// Records read on each side.
    pub left_records: u64,
    pub right_records: u64,
    /// Keys by kind.
    pub counts: BTreeMap<Kind, u64>,
    /// Every key that did not match, in key order.
    pub exceptions: Vec<Exception>,
    /// What a person should know about the sides (rows a side's mapping rejected, lines skipped).
    pub notes: Vec<String>,
}

impl Report {
    pub fn count(&self, kind: Kind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn exception_count(&self) -> u64 {
        Kind::ALL
            .iter()
            .filter(|k| **k != Kind::Matched)
            .map(|k| self.count(*k))
            .sum()
    }
}

/// A right-side key: its values and where its row is, or how many rows hold it.
enum Held {
    One(Vec<Value>, Option<String>),
    Duplicate(u64),
}

/// What a left-side key came to: a kind, and the exception it made (an index) if any.
struct Met {
    kind: Kind,
    exception: Option<usize>,
    rows: u64,
}

/// Compare `left` with `right` under `spec`.
pub fn reconcile(spec: &Spec, left: side::Opened, right: side::Opened) -> Result<Report, ReconcileError> {
    let (left_label, right_label) = (left.label.clone(), right.label.clone());
    let masked: Vec<&str> = left.sensitive.iter().chain(&right.sensitive).copied().collect();
    let mut notes = Vec::new();
    let mut held: HashMap<String, Held> = HashMap::new();
    let mut right_records = 0u64;
    let mut right_rows = right.rows;
    for r in &mut right_rows {
        let r = r?;
        right_records += 1;
        match held.get_mut(&r.key) {
            None => {
                held.insert(r.key, Held::One(r.values, r.at));
            }
            Some(h @ Held::One(..)) => *h = Held::Duplicate(2),
            Some(Held::Duplicate(n)) => *n += 1,
        }
    }
    notes.extend(right_rows.notes());

    // Every kind, zero or not: a report's reader (or a script) finds each one.
    let mut counts: BTreeMap<Kind, u64> = Kind::ALL.iter().map(|k| (*k, 0)).collect();
    let mut exceptions: Vec<Option<Exception>> = Vec::new();
    let mut met: HashMap<String, Met> = HashMap::new();
    let mut left_records = 0u64;
    let mut left_rows = left.rows;
    for r in &mut left_rows {
        let r = r?;
        left_records += 1;
        if let Some(m) = met.get_mut(&r.key) {
            // A key met again on the left: what its first row counted as is taken back.
            m.rows += 1;
            if m.kind != Kind::DuplicateKey {
                *counts.entry(m.kind).or_default() -= 1;
                if let Some(i) = m.exception.take() {
                    exceptions[i] = None;
                }
                m.kind = Kind::DuplicateKey;
                *counts.entry(Kind::DuplicateKey).or_default() += 1;
                let right_rows = match held.get(&r.key) {
                    Some(Held::One(..)) => 1,
                    Some(Held::Duplicate(n)) => *n,
                    None => 0,
                };
                m.exception = Some(exceptions.len());
                exceptions.push(Some(duplicate(&r.key, 0, right_rows)));
            }
            continue;
        }
        let (kind, exception) = match held.get(&r.key) {
            None => (
                Kind::OnlyLeft,
                Some(Exception {
                    kind: Kind::OnlyLeft,
                    key: r.key.clone(),
                    left_at: r.at,
                    right_at: None,
                    fields: Vec::new(),
                    rows: None,
                }),
            ),
            Some(Held::Duplicate(n)) => (Kind::DuplicateKey, Some(duplicate(&r.key, 1, *n))),
            Some(Held::One(values, at)) => {
                let fields = differences(spec, &r.values, values, &masked);
                if fields.is_empty() {
                    (Kind::Matched, None)
                } else {
                    (
                        Kind::Mismatched,
                        Some(Exception {
                            kind: Kind::Mismatched,
                            key: r.key.clone(),
                            left_at: r.at,
                            right_at: at.clone(),
                            fields,
                            rows: None,
                        }),
                    )
                }
            }
        };
        *counts.entry(kind).or_default() += 1;
        let index = exception.map(|e| {
            exceptions.push(Some(e));
            exceptions.len() - 1
        });
        met.insert(
            r.key,
            Met {
                kind,
                exception: index,
                rows: 1,
            },
        );
    }
    notes.extend(left_rows.notes());

    // Duplicates found on the left know their row counts only now.
    let mut exceptions: Vec<Exception> = exceptions.into_iter().flatten().collect();
    for e in &mut exceptions {
        if e.kind == Kind::DuplicateKey
            && let (Some(m), Some((left, _))) = (met.get(&e.key), e.rows.as_mut())
        {
            *left = m.rows;
        }
    }
    for (key, h) in held {
        if met.contains_key(&key) {
            continue;
        }
        let (kind, e) = match h {
            Held::One(_, at) => (
                Kind::OnlyRight,
                Exception {
                    kind: Kind::OnlyRight,
                    key,
                    left_at: None,
                    right_at: at,
                    fields: Vec::new(),
                    rows: None,
                },
            ),
            Held::Duplicate(n) => (Kind::DuplicateKey, duplicate(&key, 0, n)),
        };
        *counts.entry(kind).or_default() += 1;
        exceptions.push(e);
    }
    exceptions.sort_by(|a, b| a.key.cmp(&b.key).then(a.kind.cmp(&b.kind)));
    Ok(Report {
        entity: spec.entity.name,
        left: left_label,
        right: right_label,
        left_records,
        right_records,
        counts,
        exceptions,
        notes,
    })
}

fn duplicate(key: &str, left: u64, right: u64) -> Exception {
    Exception {
        kind: Kind::DuplicateKey,
        key: key.to_string(),
        left_at: None,
        right_at: None,
        fields: Vec::new(),
        rows: Some((left, right)),
    }
}

/// The compared fields whose values disagree under their rules, the values of `masked` fields
/// shown as the mask.
fn differences(spec: &Spec, left: &[Value], right: &[Value], masked: &[&str]) -> Vec<FieldDiff> {
    let null = Value::Null;
    spec.fields
        .iter()
        .filter_map(|(i, rule)| {
            let (a, b) = (left.get(*i).unwrap_or(&null), right.get(*i).unwrap_or(&null));
            let field = spec.entity.fields[*i].name;
            let shown = |v: &Value| match v.to_text() {
                Some(_) if masked.contains(&field) => Some(crate::mapping::MASK.to_string()),
                t => t,
            };
            (!rule.agrees(a, b)).then(|| FieldDiff {
                field,
                rule: rule.to_string(),
                left: shown(a),
                right: shown(b),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
