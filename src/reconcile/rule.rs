//! How two values of a field are compared: exactly, after trimming, ignoring case, within an
//! absolute or relative tolerance (decimals, computed exactly), within a number of days (dates
//! and timestamps), or not at all.

use std::fmt;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::model::{Field, FieldType, Value};

/// A field's comparison rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Exact,
    Trimmed,
    CaseInsensitive,
    /// |left − right| ≤ tolerance.
    Absolute(Decimal),
    /// |left − right| ≤ tolerance × max(|left|, |right|).
    Relative(Decimal),
    /// Dates or timestamps at most this many days apart.
    Days(u32),
    Ignore,
}

#[derive(Debug, Error, PartialEq)]
pub enum RuleError {
    #[error("unknown rule {0:?}: use exact, trim, nocase, abs=N, rel=N, days=N or ignore")]
    Unknown(String),
    #[error("{rule}: {value:?} is not a tolerance (a decimal number of 0 or more, such as 0.01)")]
    Tolerance { rule: &'static str, value: String },
    #[error("days={0:?}: give a whole number of days (0 or more)")]
    Days(String),
    #[error("field {field:?} is {ty}: {rule} applies to {wanted} fields only")]
    WrongType {
        field: String,
        ty: String,
        rule: &'static str,
        wanted: &'static str,
    },
}

impl Rule {
    /// Parse `exact`, `trim`, `nocase`, `abs=0.01`, `rel=0.05`, `days=2` or `ignore`.
    pub fn parse(s: &str) -> Result<Rule, RuleError> {
        let tolerance = |rule: &'static str, v: &str| {
            v.trim()
                .parse::<Decimal>()
                .ok()
                .filter(|d| !d.is_sign_negative())
                .ok_or_else(|| RuleError::Tolerance {
                    rule,
                    value: v.to_string(),
                })
        };
        Ok(match s.split_once('=') {
            None => match s.trim() {
                "exact" => Rule::Exact,
                "trim" | "trimmed" => Rule::Trimmed,
                "nocase" | "case_insensitive" => Rule::CaseInsensitive,
                "ignore" => Rule::Ignore,
                other => return Err(RuleError::Unknown(other.to_string())),
            },
            Some((name, v)) => match name.trim() {
                "abs" => Rule::Absolute(tolerance("abs", v)?),
                "rel" => Rule::Relative(tolerance("rel", v)?),
                "days" => Rule::Days(v.trim().parse().map_err(|_| RuleError::Days(v.to_string()))?),
                other => return Err(RuleError::Unknown(other.to_string())),
            },
        })
    }

    /// Refuse a rule the field's type cannot take (a tolerance on text, days on a decimal).
    pub fn check_field(&self, field: &Field) -> Result<(), RuleError> {
        let numeric = matches!(field.ty, FieldType::Decimal { .. } | FieldType::Integer);
        let dated = matches!(field.ty, FieldType::Date | FieldType::Timestamp);
        let textual = matches!(field.ty, FieldType::String | FieldType::Code(_));
        let (ok, rule, wanted) = match self {
            Rule::Absolute(_) => (numeric, "abs", "decimal and integer"),
            Rule::Relative(_) => (numeric, "rel", "decimal and integer"),
            Rule::Days(_) => (dated, "days", "date and timestamp"),
            Rule::Trimmed => (textual, "trim", "text"),
            Rule::CaseInsensitive => (textual, "nocase", "text"),
            Rule::Exact | Rule::Ignore => (true, "", ""),
        };
        if ok {
            return Ok(());
        }
        Err(RuleError::WrongType {
            field: field.name.to_string(),
            ty: field.ty.name(),
            rule,
            wanted,
        })
    }

    /// Whether two values agree under this rule. No value on both sides agrees; no value on one
    /// side only does not (except under `ignore`).
    pub fn agrees(&self, left: &Value, right: &Value) -> bool {
        match (self, left, right) {
            (Rule::Ignore, _, _) => true,
            (_, Value::Null, Value::Null) => true,
            (_, Value::Null, _) | (_, _, Value::Null) => false,
            (Rule::Trimmed, Value::Text(a), Value::Text(b)) => a.trim() == b.trim(),
            (Rule::CaseInsensitive, Value::Text(a), Value::Text(b)) => a == b || a.to_lowercase() == b.to_lowercase(),
            (Rule::Absolute(tol), a, b) => match difference(a, b) {
                Some(d) => d <= *tol,
                None => false,
            },
            (Rule::Relative(tol), a, b) => match (difference(a, b), number(a), number(b)) {
                (Some(d), Some(x), Some(y)) => {
                    let scale = x.abs().max(y.abs());
                    // |a − b| ≤ tol × max(|a|, |b|), exactly; a product past Decimal's range is
                    // a tolerance wider than any difference.
                    tol.checked_mul(scale).is_none_or(|limit| d <= limit)
                }
                _ => false,
            },
            (Rule::Days(n), Value::Date(a), Value::Date(b)) => (*a - *b).num_days().unsigned_abs() <= u64::from(*n),
            (Rule::Days(n), Value::Timestamp(a), Value::Timestamp(b)) => {
                // In seconds: 36 hours apart is more than one day, whatever the calendar dates.
                let secs = (*a - *b).num_seconds().unsigned_abs();
                secs <= u64::from(*n) * 86_400
            }
            (_, a, b) => a == b,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Exact => write!(f, "exact"),
            Rule::Trimmed => write!(f, "trim"),
            Rule::CaseInsensitive => write!(f, "nocase"),
            Rule::Absolute(t) => write!(f, "abs={t}"),
            Rule::Relative(t) => write!(f, "rel={t}"),
            Rule::Days(n) => write!(f, "days={n}"),
            Rule::Ignore => write!(f, "ignore"),
        }
    }
}

fn number(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(*d),
        Value::Integer(i) => Some(Decimal::from(*i)),
        _ => None,
    }
}

/// |a − b| exactly, or `None` when a value is not a number or the difference is past Decimal's
/// range (then the values do not agree under any tolerance).
fn difference(a: &Value, b: &Value) -> Option<Decimal> {
    number(a)?.checked_sub(number(b)?).map(|d| d.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use std::str::FromStr;

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::from_str(s).unwrap())
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn rules_parse_and_print_back() {
        for s in ["exact", "trim", "nocase", "abs=0.01", "rel=0.05", "days=2", "ignore"] {
            assert_eq!(Rule::parse(s).unwrap().to_string(), s);
        }
        assert!(matches!(Rule::parse("abs=-1"), Err(RuleError::Tolerance { .. })));
        assert!(matches!(Rule::parse("abs=1%"), Err(RuleError::Tolerance { .. })));
        assert!(matches!(Rule::parse("days=1.5"), Err(RuleError::Days(_))));
        assert!(matches!(Rule::parse("fuzzy"), Err(RuleError::Unknown(_))));
    }

    #[test]
    fn an_absolute_tolerance_is_exact_at_its_edge_never_rounded() {
        let r = Rule::parse("abs=0.01").unwrap();
        assert!(r.agrees(&dec("10.00"), &dec("10.01")));
        assert!(r.agrees(&dec("10.01"), &dec("10.00")));
        // csvdiff's --significance would round both to two places and call these equal.
        assert!(!r.agrees(&dec("10.004"), &dec("10.0141")));
        assert!(!r.agrees(&dec("10.00"), &dec("10.0100001")));
        assert!(r.agrees(&Value::Integer(3), &dec("3.01")));
        assert!(!r.agrees(&dec("1"), &Value::Null));
        assert!(r.agrees(&Value::Null, &Value::Null));
        // A difference past Decimal's range agrees with no tolerance, and does not panic.
        assert!(!r.agrees(&Value::Decimal(Decimal::MAX), &Value::Decimal(Decimal::MIN)));
    }

    #[test]
    fn a_relative_tolerance_is_of_the_larger_value_and_symmetric() {
        let r = Rule::parse("rel=0.05").unwrap();
        assert!(r.agrees(&dec("100"), &dec("105")));
        assert!(r.agrees(&dec("105"), &dec("100")));
        assert!(!r.agrees(&dec("100"), &dec("105.3")));
        assert!(r.agrees(&dec("0"), &dec("0")));
        assert!(!r.agrees(&dec("0"), &dec("0.0001")));
        assert!(r.agrees(&Value::Decimal(Decimal::MAX), &Value::Decimal(Decimal::MAX)));
    }

    #[test]
    fn text_rules_trim_and_fold_case_and_nothing_else() {
        assert!(Rule::Trimmed.agrees(&text(" EA "), &text("EA")));
        assert!(!Rule::Trimmed.agrees(&text("ea"), &text("EA")));
        assert!(Rule::CaseInsensitive.agrees(&text("Gauze"), &text("GAUZE")));
        assert!(!Rule::Exact.agrees(&text("Gauze"), &text("GAUZE")));
        assert!(Rule::Exact.agrees(&dec("1.50"), &dec("1.5")));
    }

    #[test]
    fn a_day_tolerance_counts_days_and_timestamps_in_seconds() {
        let d = |s: &str| Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        let r = Rule::Days(2);
        assert!(r.agrees(&d("2024-03-01"), &d("2024-02-28")));
        assert!(!r.agrees(&d("2024-03-01"), &d("2024-02-27")));
        let t = |h: u32| Value::Timestamp(Utc.with_ymd_and_hms(2024, 3, 1, h, 0, 0).unwrap());
        assert!(Rule::Days(0).agrees(&t(5), &t(5)));
        assert!(!Rule::Days(0).agrees(&t(5), &t(6)));
        assert!(Rule::Days(1).agrees(&t(0), &t(23)));
    }

    #[test]
    fn a_rule_the_field_type_cannot_take_is_refused() {
        let item = crate::model::schema::entity("item").unwrap();
        let field = |n: &str| &item.fields[item.field_index(n).unwrap()];
        assert!(Rule::Absolute(Decimal::ONE).check_field(field("description")).is_err());
        assert!(Rule::Absolute(Decimal::ONE).check_field(field("unit_cost")).is_ok());
        assert!(Rule::Days(1).check_field(field("unit_cost")).is_err());
        assert!(Rule::Trimmed.check_field(field("unit_cost")).is_err());
        assert!(Rule::Exact.check_field(field("unit_cost")).is_ok());
    }
}
