//! Sensitive values: masked where a reject's reasons and raw values are built, so that nothing
//! later (the ledger, `opsync rejects`, `runs show`, JSON logs, previews) can show them.
//!
//! A value is sensitive when its field says `sensitive = true`, when it comes from a column of
//! `sensitive_columns`, or when its field reads such a column. Reasons of sensitive fields are
//! written without the value; every reason of a reject is then scrubbed of the row's sensitive
//! texts, so that a message written elsewhere (a step, a Rhai error) cannot carry one either.

use super::{Binding, Mapping};
use crate::model::{RawRecord, RawValues, Reason, Value};

/// What a sensitive value is replaced by wherever raw values are kept or shown.
pub const MASK: &str = "****";

/// Plain (unquoted) occurrences of a secret shorter than this are left in messages of other
/// fields: "5" or "Y" would otherwise be masked inside every word and number of the message.
/// Quoted occurrences (`"5"`, the way steps and rules quote values) are masked whatever the length.
const MIN_PLAIN: usize = 3;

/// Texts that must not appear in a reject: the values of sensitive columns and fields of a row.
#[derive(Debug, Default)]
pub struct Secrets {
    texts: Vec<String>,
}

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn add(&mut self, text: &str) {
        let t = text.trim();
        if !t.is_empty() && !self.texts.iter().any(|x| x == t) {
            self.texts.push(t.to_string());
        }
        if t.len() != text.len() && !text.is_empty() && !self.texts.iter().any(|x| x == text) {
            self.texts.push(text.to_string());
        }
    }

    /// A value's text, and for a decimal the form it prints in (`12.50`, not only `12.5`), as
    /// a message may format it either way.
    pub fn add_value(&mut self, v: &Value) {
        if let Some(t) = v.to_text() {
            self.add(&t);
        }
        if let Value::Decimal(d) = v {
            self.add(&d.to_string());
        }
    }

    /// Replace every occurrence of a secret in `text`; `all` masks short plain ones too.
    pub fn scrub(&self, text: &str, all: bool) -> String {
        let mut texts: Vec<&String> = self.texts.iter().collect();
        // Longest first, so that a secret inside a longer one does not leave the rest behind.
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        let mut out = text.to_string();
        for s in texts {
            let quoted = format!("{s:?}");
            if out.contains(&quoted) {
                out = out.replace(&quoted, &format!("{MASK:?}"));
            }
            if (all || s.chars().count() >= MIN_PLAIN) && out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// Scrub a reason: its message, and its value when the value holds a secret.
    pub fn scrub_reason(&self, r: &mut Reason) {
        if self.is_empty() {
            return;
        }
        r.message = self.scrub(&r.message, false);
        if let Some(v) = &r.value
            && self.scrub(v, false) != *v
        {
            r.value = Some(MASK.into());
        }
    }
}

impl Mapping {
    /// Whether anything in this mapping is masked.
    pub fn masks_anything(&self, b: &Binding) -> bool {
        b.masked.iter().any(|m| *m)
            || !self.sensitive_paths.is_empty()
            || self.entities.iter().any(|e| e.fields.iter().any(|f| f.sensitive))
    }

    /// The raw values of a record's sensitive columns (or JSON paths).
    pub fn row_secrets(&self, b: &Binding, raw: &RawRecord, into: &mut Secrets) {
        match &raw.values {
            RawValues::Row(values) => {
                for (v, _) in values.iter().zip(&b.masked).filter(|(_, m)| **m) {
                    into.add(v);
                }
            }
            RawValues::Json(doc) => {
                for p in &self.sensitive_paths {
                    for node in p.query(doc).all() {
                        json_texts(node, into);
                    }
                }
            }
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
                let pointers: Vec<String> = self
                    .sensitive_paths
                    .iter()
                    .flat_map(|p| p.query_located(doc).all())
                    .map(|n| n.location().to_json_pointer())
                    .collect();
                let mut doc = doc.clone();
                for ptr in pointers {
                    if let Some(v) = doc.pointer_mut(&ptr) {
                        *v = MASK.into();
                    }
                }
                doc
            }
        }
    }
}

/// Every scalar inside a JSON value, as text.
fn json_texts(v: &serde_json::Value, into: &mut Secrets) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => into.add(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_texts(x, into)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_texts(x, into)),
        other => into.add(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_secrets_go_whatever_their_length_plain_ones_from_three_characters() {
        let mut s = Secrets::default();
        s.add("Y");
        s.add("123-45-6789");
        assert_eq!(
            s.scrub(r#""Y" is not a yes/no value; Y stays; 123-45-6789 goes"#, false),
            r#""****" is not a yes/no value; Y stays; **** goes"#
        );
        assert_eq!(s.scrub("Yes", true), "****es");
        let mut r = Reason {
            field: "x".into(),
            rule: "r".into(),
            value: Some("ab 123-45-6789".into()),
            message: "m".into(),
        };
        s.scrub_reason(&mut r);
        assert_eq!(r.value.as_deref(), Some(MASK));
    }
}
