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
