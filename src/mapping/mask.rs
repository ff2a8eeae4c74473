//! Sensitive values: masked where a reject's reasons and raw values are built, so that nothing
//! later (the ledger, `opsync rejects`, `runs show`, JSON logs, previews) can show them.
//!
//! A value is sensitive when its field says `sensitive = true`, when it comes from a column of
//! `sensitive_columns`, or when its field reads such a column. Reasons of sensitive fields are
//! written without the value; every reason of a reject is then scrubbed of the row's sensitive
//! texts, so that a message written elsewhere (a step, a Rhai error) cannot carry one either.

use std::sync::LazyLock;

use regex::Regex;

use super::{Binding, Mapping};
use crate::model::{RawRecord, RawValues, Reason, Value};

/// What a sensitive value is replaced by wherever raw values are kept or shown.
pub const MASK: &str = "****";

/// Plain (unquoted) occurrences of a secret shorter than this are left in messages of other
/// fields: "5" or "Y" would otherwise be masked in every number and word of the message.
/// Quoted occurrences (`"5"` or `'5'`, the way steps, rules and Rhai quote values) are masked
/// whatever the length.
const MIN_PLAIN: usize = 3;

/// A secret this long is masked wherever it occurs, inside a longer word too; a shorter one only
/// as a whole token (bounded by characters that are not letters or digits, or the text's ends):
/// "e" masked inside "expression" garbles the message and shows the value by where the masks land.
const ANYWHERE: usize = 6;

/// What a sensitive field's message becomes when a secret too short to cut out of it (see
/// [`MIN_PLAIN`]) stands in it as a word: masking "1" in "(line 1, position 1)" would show it.
/// A Rhai error's place, at the end of its message.
static POSITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r" ?\(line [0-9]+, position [0-9]+\)$").expect("a valid regex"));

pub const WITHHELD: &str = "message withheld: it would show a sensitive value";

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

    /// Replace the secrets in `text`: quoted ones whatever their length, plain ones as whole
    /// tokens (long ones anywhere). `all` (a sensitive field's own message) withholds a message in
    /// which a secret too short to mask stands as a word.
    pub fn scrub(&self, text: &str, all: bool) -> String {
        // Rhai ends its errors with the place inside the expression: numbers that say nothing of
        // the value, and that a short secret ("1") would otherwise match.
        let (text, place) = match POSITION.find(text) {
            Some(m) => (&text[..m.start()], m.as_str()),
            None => (text, ""),
        };
        let mut texts: Vec<&String> = self.texts.iter().collect();
        // Longest first, so that a secret inside a longer one does not leave the rest behind.
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        let mut out = text.to_string();
        for s in texts {
            for (quoted, mask) in [
                (format!("{s:?}"), format!("{MASK:?}")),
                (format!("'{s}'"), format!("'{MASK}'")),
            ] {
                if out.contains(&quoted) {
                    out = out.replace(&quoted, &mask);
                }
            }
            let n = s.chars().count();
            if n >= ANYWHERE {
                out = out.replace(s.as_str(), MASK);
            } else if n >= MIN_PLAIN {
                out = replace_tokens(&out, s, MASK);
            } else if all && replace_tokens(&out, s, MASK) != out {
                return WITHHELD.to_string();
            }
        }
        out.push_str(place);
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
                    m.insert(name, if masked { MASK.into() } else { v.into() });
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

/// `text` with each occurrence of `secret` that is a whole token replaced by `with`: an end of the
/// secret that is a letter or digit must not touch another letter or digit.
fn replace_tokens(text: &str, secret: &str, with: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (starts_word, ends_word) = (word(secret.chars().next()), word(secret.chars().next_back()));
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(found) = text[from..].find(secret) {
        let (start, end) = (from + found, from + found + secret.len());
        let glued_before = starts_word && word(text[..start].chars().next_back());
        let glued_after = ends_word && word(text[end..].chars().next());
        let bounded = !glued_before && !glued_after;
        if bounded {
            out.push_str(&text[copied..start]);
            out.push_str(with);
            copied = end;
            from = end;
        } else {
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[copied..]);
    out
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
    fn secrets_are_masked_as_whole_tokens_never_inside_words() {
        let mut s = Secrets::default();
        s.add("abc");
        s.add("SECRET111");
        assert_eq!(s.scrub("abc; abcd xabc a-abc-b", false), "****; abcd xabc a-****-b");
        assert_eq!(s.scrub("xSECRET111y", false), "x****y");
        s.add("e");
        assert_eq!(
            s.scrub("expression failed: 'e' (line 1)", true),
            "expression failed: '****' (line 1)"
        );
        s.add("1");
        s.add("XK-1");
        let rhai = "failed: number 'XK-1': invalid digit (line 1, position 1)";
        assert_eq!(
            s.scrub(rhai, true),
            "failed: number '****': invalid digit (line 1, position 1)"
        );
        assert_eq!(s.scrub("expression failed: e (line 1)", true), WITHHELD);
        assert_eq!(
            s.scrub("expression failed: e (line 1)", false),
            "expression failed: e (line 1)"
        );
        assert_eq!(replace_tokens("ééé é", "é", "*"), "ééé *");
    }

    #[test]
    fn quoted_secrets_go_whatever_their_length_plain_ones_from_three_characters() {
        let mut s = Secrets::default();
        s.add("Y");
        s.add("123-45-6789");
        assert_eq!(
            s.scrub(r#""Y" is not a yes/no value; Y stays; 123-45-6789 goes"#, false),
            r#""****" is not a yes/no value; Y stays; **** goes"#
        );
        assert_eq!(s.scrub("Yes", true), "Yes");
        assert_eq!(s.scrub("Y: Yes", true), WITHHELD);
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
