//! Validations of single field values. A failure is a reject reason, never an error.

use std::borrow::Cow;

use chrono::Utc;
use regex::Regex;
use rust_decimal::Decimal;

use super::MASK;
use crate::model::Value;

/// A compiled validation.
#[derive(Debug, Clone)]
pub enum Rule {
    Required,
    Pattern(Regex),
    OneOf(Vec<String>),
    Range { min: Option<Decimal>, max: Option<Decimal> },
    MaxLength(usize),
    Gtin,
    NotFuture,
}

impl Rule {
    /// Name as written in mapping files and shown in rejects.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Pattern(_) => "pattern",
            Rule::OneOf(_) => "one_of",
            Rule::Range { .. } => "range",
            Rule::MaxLength(_) => "max_length",
            Rule::Gtin => "gtin",
            Rule::NotFuture => "not_future",
        }
    }

    /// `Err(message)` when the value breaks the rule. Empty values only fail `required`. A
    /// `sensitive` value is not written into the message: it reads `"****"` instead.
    pub fn check(&self, v: &Value, sensitive: bool) -> Result<(), String> {
        if v.is_null() {
            return match self {
                Rule::Required => Err("is required but empty".into()),
                _ => Ok(()),
            };
        }
        // Text is checked in place; other values are written out once, and only for the rules
        // that read text.
        let text: Cow<'_, str> = match (v, self) {
            (Value::Text(s), _) => Cow::Borrowed(s),
            (_, Rule::Range { .. } | Rule::NotFuture) => Cow::Borrowed(""),
            (other, _) => Cow::Owned(other.to_text().unwrap_or_default()),
        };
        // The value as messages show it: quoted, or the mask (written only for a failure).
        let shown = || {
            if sensitive {
                format!("{MASK:?}")
            } else {
                format!("{text:?}")
            }
        };
        let bare = |s: String| if sensitive { MASK.to_string() } else { s };
        match self {
            Rule::Required => Ok(()),
            Rule::Pattern(re) if re.is_match(&text) => Ok(()),
            Rule::Pattern(re) => Err(format!("{} does not match /{}/", shown(), re.as_str())),
            Rule::OneOf(values) if values.iter().any(|x| *x == text) => Ok(()),
            Rule::OneOf(values) => Err(format!("{} is not one of {}", shown(), values.join(", "))),
            Rule::Range { min, max } => {
                let n = match v {
                    Value::Decimal(d) => *d,
                    Value::Integer(i) => Decimal::from(*i),
                    _ => return Err(format!("{} is not a number", shown())),
                };
                match (min, max) {
                    (Some(lo), _) if n < *lo => Err(format!("{} is below the minimum {lo}", bare(n.to_string()))),
                    (_, Some(hi)) if n > *hi => Err(format!("{} is above the maximum {hi}", bare(n.to_string()))),
                    _ => Ok(()),
                }
            }
            Rule::MaxLength(max) if text.chars().count() <= *max => Ok(()),
            Rule::MaxLength(max) => Err(format!("{} is longer than {max} characters", shown())),
            Rule::Gtin if text.bytes().all(|b| b == b'0') && !text.is_empty() => Err(format!(
                "{} is all zeros: a placeholder for \"no barcode\", not a GTIN; leave the value blank",
                shown()
            )),
            Rule::Gtin if gtin_is_valid(&text) => Ok(()),
            Rule::Gtin => Err(format!(
                "{} is not a valid GTIN (8, 12, 13 or 14 digits with a GS1 check digit)",
                shown()
            )),
            Rule::NotFuture => {
                let today = Utc::now().date_naive();
                let day = match v {
                    Value::Date(d) => *d,
                    Value::Timestamp(t) => t.date_naive(),
                    _ => return Err(format!("{} is not a date", shown())),
                };
                if day > today {
                    Err(format!("{} is in the future", bare(day.to_string())))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// GS1 check digit: from the rightmost digit before the check digit, weights 3,1,3,1...; the
/// check digit brings the sum to a multiple of 10.
pub fn gtin_is_valid(code: &str) -> bool {
    let digits = code.as_bytes();
    if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(check[0] - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits() {
        assert!(gtin_is_valid("00012345600012")); // GTIN-14
        assert!(gtin_is_valid("4006381333931")); // EAN-13
        assert!(gtin_is_valid("036000291452")); // UPC-A
        assert!(gtin_is_valid("96385074")); // GTIN-8
        assert!(!gtin_is_valid("4006381333932"));
        assert!(!gtin_is_valid("40063813339"));
        assert!(!gtin_is_valid("400638133393X"));
    }

    #[test]
    fn empty_values_fail_only_required() {
        assert!(Rule::Required.check(&Value::Null, false).is_err());
        assert!(Rule::Gtin.check(&Value::Null, false).is_ok());
        assert!(Rule::MaxLength(3).check(&Value::Text("abcd".into()), false).is_err());
    }

    #[test]
    fn sensitive_values_stay_out_of_messages() {
        let secret = Value::Text("123-45-6789".into());
        let rules = [
            Rule::Pattern(Regex::new("^x$").unwrap()),
            Rule::OneOf(vec!["a".into()]),
            Rule::MaxLength(3),
            Rule::Gtin,
            Rule::Range { min: None, max: None },
            Rule::NotFuture,
        ];
        for r in &rules {
            let msg = r.check(&secret, true).unwrap_err();
            assert!(!msg.contains("123") && msg.contains(MASK), "{}: {msg}", r.name());
        }
        let big = Value::Decimal(Decimal::from(987_654));
        let msg = Rule::Range {
            min: None,
            max: Some(Decimal::ONE),
        }
        .check(&big, true)
        .unwrap_err();
        assert_eq!(msg, "**** is above the maximum 1");
        let later = Value::Date(chrono::NaiveDate::from_ymd_opt(9999, 1, 1).unwrap());
        assert_eq!(
            Rule::NotFuture.check(&later, true).unwrap_err(),
            "**** is in the future"
        );
    }
}
