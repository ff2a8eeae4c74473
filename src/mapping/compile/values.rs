//! The values a mapping fixes when it is compiled: `const` scalars checked against their
//! field's type, `validate` rules, and the scales of rounding.

use std::ops::Range;

use regex::Regex;

use super::Compiler;
use crate::config::mapping::Validation;
use crate::mapping::convert::{MAX_SCALE, coerce};
use crate::mapping::rules::Rule;
use crate::model::{Field, FieldType};

impl Compiler<'_> {
    pub(super) fn check_scale(&mut self, scale: u32, span: &Range<usize>) {
        if scale > MAX_SCALE {
            self.problem(
                Some(span.clone()),
                format!("cannot round to {scale} decimal places: a decimal holds at most {MAX_SCALE}"),
            );
        }
    }

    /// A `const` as the text of the field's value: any TOML scalar, checked against the type.
    pub(super) fn constant(&mut self, k: &toml::Spanned<toml::Value>, field: &Field) -> Option<String> {
        let span = k.span();
        let text = match k.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            // A float is read from its text as written (`0.1` is 0.1, not the binary float
            // nearest to it); TOML's `_` between digits is dropped, `inf` and `nan` are refused.
            toml::Value::Float(_) => {
                let literal = self.m.text.get(span.clone()).unwrap_or_default().replace('_', "");
                let literal = literal.trim();
                if literal.contains("inf") || literal.contains("nan") {
                    self.problem(
                        Some(span),
                        format!("const {literal} does not fit field {}: not a number", field.name),
                    );
                    return None;
                }
                literal.to_string()
            }
            toml::Value::Array(_) | toml::Value::Table(_) => {
                self.problem(
                    Some(span),
                    format!(
                        "const for field {} must be a single value, not a list or table",
                        field.name
                    ),
                )
                .hint = Some("write a string, number, boolean or date, like const = \"EA\" or const = 1".into());
                return None;
            }
        };
        match coerce(&text, field.ty) {
            // Stored as the value's own text, which the field's type reads back as the same value.
            Ok(v) => Some(match (v, field.ty) {
                (_, FieldType::String) => text,
                (v, _) => v.to_text().unwrap_or_default(),
            }),
            Err(e) => {
                let shown = match k.get_ref() {
                    toml::Value::String(s) => format!("{s:?}"),
                    _ => text,
                };
                self.problem(
                    Some(span),
                    format!("const {shown} does not fit field {} ({e})", field.name),
                );
                None
            }
        }
    }

    pub(super) fn validation(&mut self, v: &Validation, ty: FieldType, span: &Range<usize>) -> Option<Rule> {
        let numeric = matches!(ty, FieldType::Decimal { .. } | FieldType::Integer);
        let temporal = matches!(ty, FieldType::Date | FieldType::Timestamp);
        Some(match v {
            Validation::Required => Rule::Required,
            Validation::Pattern { regex } => match Regex::new(regex) {
                Ok(r) => Rule::Pattern(r),
                Err(e) => {
                    self.problem(Some(span.clone()), format!("bad regular expression {regex:?}: {e}"));
                    return None;
                }
            },
            Validation::OneOf { values } => Rule::OneOf(values.clone()),
            Validation::Range { min, max } => {
                if !numeric {
                    self.problem(
                        Some(span.clone()),
                        format!("rule range needs a number, but the field is {ty}"),
                    );
                }
                Rule::Range { min: *min, max: *max }
            }
            Validation::MaxLength { max } => Rule::MaxLength(*max),
            Validation::Gtin => {
                if ty != FieldType::String {
                    self.problem(
                        Some(span.clone()),
                        format!("rule gtin needs a string field, but the field is {ty}"),
                    );
                }
                Rule::Gtin
            }
            Validation::NotFuture => {
                if !temporal {
                    self.problem(
                        Some(span.clone()),
                        format!("rule not_future needs a date, but the field is {ty}"),
                    );
                }
                Rule::NotFuture
            }
        })
    }
}

/// The first group a `replace` replacement names that the regex does not have, read as the
/// regex crate reads it: `$$` is a dollar sign, `${name}` and `$name` name a group, where a bare
/// name runs on over letters, digits and `_` (so `$1_` names the group `1_`, which expands to
/// nothing).
pub(super) fn unknown_group(re: &Regex, with: &str) -> Option<String> {
    let named: Vec<&str> = re.capture_names().flatten().collect();
    let known = |name: &str| match name.parse::<usize>() {
        Ok(i) => i < re.captures_len(),
        Err(_) => named.contains(&name),
    };
    let mut rest = with;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        }
        let name = if let Some(braced) = rest.strip_prefix('{') {
            let Some(end) = braced.find('}') else { continue };
            rest = &braced[end + 1..];
            &braced[..end]
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            name
        };
        if !name.is_empty() && !known(name) {
            return Some(name.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_groups_are_read_as_the_regex_crate_reads_them() {
        let re = Regex::new(r"(?<prefix>[A-Z]+)-(\d+)").unwrap();
        assert_eq!(unknown_group(&re, "$1_$2"), Some("1_".into()));
        assert_eq!(unknown_group(&re, "$2USD"), Some("2USD".into()));
        assert_eq!(unknown_group(&re, "$3"), Some("3".into()));
        assert_eq!(unknown_group(&re, "${1}_${2}"), None);
        assert_eq!(unknown_group(&re, "$prefix $2 $$5 $"), None);
        assert_eq!(unknown_group(&re, "${nope}"), Some("nope".into()));
        assert_eq!(unknown_group(&re, "no groups"), None);
    }
}
