//! Field steps, compiled once per job (regexes, formats, lookup tables) and applied per row.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::FixedOffset;
use regex::Regex;
use rust_decimal::Decimal;

use super::convert;
use super::expr::{Expr, from_dynamic, to_dynamic};
use super::lookup::Lookup;
use crate::config::mapping::{Case, OnMiss, Rounding, UomApply};
use crate::model::{FieldType, Value};

/// The kind of value a step leaves behind, for type checks in `opsync validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Decimal,
    Integer,
    Instant,
    Boolean,
    /// Decided at run time (expressions).
    Any,
}

impl Kind {
    /// Whether a value of this kind can fill a field of type `ty`.
    pub fn fits(self, ty: FieldType) -> bool {
        matches!(
            (self, ty),
            (Kind::Any | Kind::Text, _)
                | (Kind::Decimal, FieldType::Decimal { .. })
                | (Kind::Integer, FieldType::Integer | FieldType::Decimal { .. })
                | (Kind::Instant, FieldType::Date | FieldType::Timestamp)
                | (Kind::Boolean, FieldType::Boolean)
                | (_, FieldType::String)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Decimal => "a decimal",
            Kind::Integer => "an integer",
            Kind::Instant => "a date/time",
            Kind::Boolean => "a boolean",
            Kind::Any => "any value",
        }
    }
}

/// A step ready to run; column references are slots into the row's referenced columns.
#[derive(Debug, Clone)]
pub enum CStep {
    Trim,
    Case(Case),
    Default(String),
    Replace(Regex, String),
    RegexExtract(Regex, usize),
    Split(String, i64),
    Concat(Vec<usize>, String),
    Coalesce(Vec<usize>),
    Map(BTreeMap<String, String>),
    ParseDate {
        formats: Vec<String>,
        excel: bool,
        offset: FixedOffset,
    },
    ToDecimal {
        decimal_comma: bool,
        round: Option<Rounding>,
    },
    ToInteger {
        decimal_comma: bool,
    },
    Round(Rounding),
    ToBoolean {
        yes: Vec<String>,
        no: Vec<String>,
    },
    Lookup {
        table: Arc<Lookup>,
        on_miss: OnMiss,
        default: Option<String>,
    },
    UomConvert {
        uom_slot: usize,
        factors: Arc<Lookup>,
        apply: UomApply,
    },
    Expr(Expr),
}

impl CStep {
    pub fn name(&self) -> &'static str {
        match self {
            CStep::Trim => "trim",
            CStep::Case(_) => "case",
            CStep::Default(_) => "default",
            CStep::Replace(..) => "replace",
            CStep::RegexExtract(..) => "regex_extract",
            CStep::Split(..) => "split",
            CStep::Concat(..) => "concat",
            CStep::Coalesce(_) => "coalesce",
            CStep::Map(_) => "map",
            CStep::ParseDate { .. } => "parse_date",
            CStep::ToDecimal { .. } => "to_decimal",
            CStep::ToInteger { .. } => "to_integer",
            CStep::Round(_) => "round",
            CStep::ToBoolean { .. } => "to_boolean",
            CStep::Lookup { .. } => "lookup",
            CStep::UomConvert { .. } => "uom_convert",
            CStep::Expr(_) => "expr",
        }
    }

    /// What the step needs as input (`None`: anything) and what it leaves behind.
    pub fn kinds(&self) -> (Option<Kind>, Kind) {
        match self {
            CStep::ParseDate { .. } => (Some(Kind::Text), Kind::Instant),
            CStep::ToDecimal { .. } => (Some(Kind::Text), Kind::Decimal),
            CStep::ToInteger { .. } => (Some(Kind::Text), Kind::Integer),
            // Rounded to no places, a decimal is whole: it may fill an integer field.
            CStep::Round(r) if r.scale == 0 => (Some(Kind::Decimal), Kind::Integer),
            CStep::Round(_) => (Some(Kind::Decimal), Kind::Decimal),
            CStep::ToBoolean { .. } => (Some(Kind::Text), Kind::Boolean),
            CStep::UomConvert { .. } => (Some(Kind::Decimal), Kind::Decimal),
            CStep::Expr(_) => (None, Kind::Any),
            _ => (Some(Kind::Text), Kind::Text),
        }
    }
}

/// Why a step refused a value: the rule name and a message for the reject.
#[derive(Debug)]
pub struct StepFailure {
    pub rule: &'static str,
    pub message: String,
    /// A crosswalk miss: (table, code), counted by value in the run summary.
    pub miss: Option<(String, String)>,
}

/// What a step needs from the row besides the value.
pub struct StepContext<'a> {
    pub slots: &'a [Cow<'a, str>],
    pub target: FieldType,
    /// Called with (table, code) on every lookup miss, whatever `on_miss` says.
    pub on_miss: &'a mut dyn FnMut(&str, &str),
    pub row: &'a dyn Fn() -> rhai::Dynamic,
}

fn text_of(v: &Value) -> Option<String> {
    v.to_text()
}

fn fail(rule: &'static str, message: String) -> StepFailure {
    StepFailure {
        rule,
        message,
        miss: None,
    }
}

/// Apply one step. Empty text is treated as no value by every step but `default`/`coalesce`.
pub fn apply(step: &CStep, value: Value, cx: &mut StepContext<'_>) -> Result<Value, StepFailure> {
    let is_empty = match &value {
        Value::Null => true,
        Value::Text(s) => s.is_empty(),
        _ => false,
    };
    match step {
        CStep::Default(d) => {
            return Ok(if is_empty { Value::Text(d.clone()) } else { value });
        }
        CStep::Coalesce(slots) => {
            if !is_empty {
                return Ok(value);
            }
            let first = slots.iter().map(|s| &cx.slots[*s]).find(|s| !s.trim().is_empty());
            return Ok(first.map_or(Value::Null, |s| Value::Text(s.to_string())));
        }
        CStep::Concat(slots, sep) => {
            let mut parts: Vec<String> = Vec::new();
            if !is_empty {
                parts.extend(text_of(&value));
            }
            parts.extend(
                slots
                    .iter()
                    .map(|s| cx.slots[*s].trim().to_string())
                    .filter(|s| !s.is_empty()),
            );
            return Ok(if parts.is_empty() {
                Value::Null
            } else {
                Value::Text(parts.join(sep))
            });
        }
        CStep::Expr(x) => {
            let row = (cx.row)();
            return x
                .eval(vec![("value", to_dynamic(&value)), ("row", row)])
                .map_err(|e| fail("expr", format!("expression failed: {e}")))
                .and_then(|d| from_dynamic(d).map_err(|e| fail("expr", e)));
        }
        _ => {}
    }
    if is_empty {
        return Ok(Value::Null);
    }
    // The value's text, borrowed when it is text already.
    let text = || -> Cow<'_, str> {
        match &value {
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Owned(text_of(other).unwrap_or_default()),
        }
    };
    Ok(match step {
        CStep::Trim => match value {
            // Already trimmed text is kept as it is, not copied.
            Value::Text(s) if s.trim().len() == s.len() => Value::Text(s),
            Value::Text(s) => Value::Text(s.trim().to_string()),
            other => Value::Text(text_of(&other).unwrap_or_default().trim().to_string()),
        },
        CStep::Case(Case::Upper) => Value::Text(text().to_uppercase()),
        CStep::Case(Case::Lower) => Value::Text(text().to_lowercase()),
        CStep::Case(Case::Title) => Value::Text(title_case(&text())),
        CStep::Replace(re, with) => Value::Text(re.replace_all(&text(), with.as_str()).into_owned()),
        CStep::RegexExtract(re, group) => {
            let t = text();
            match re.captures(&t).and_then(|c| c.get(*group)) {
                Some(m) => Value::Text(m.as_str().to_string()),
                None => Value::Null,
            }
        }
        CStep::Split(sep, index) => {
            let t = text();
            let parts: Vec<&str> = t.split(sep.as_str()).collect();
            // A negative index counts from the end; one past either end gives no value.
            let i = if *index < 0 {
                i64::try_from(parts.len()).ok().and_then(|n| n.checked_add(*index))
            } else {
                Some(*index)
            };
            match i.and_then(|i| usize::try_from(i).ok()).and_then(|i| parts.get(i)) {
                Some(p) => Value::Text(p.trim().to_string()),
                None => Value::Null,
            }
        }
        CStep::Map(values) => {
            let hit = match &value {
                Value::Text(s) => values.get(s.trim()),
                other => values.get(text_of(other).unwrap_or_default().trim()),
            };
            match hit {
                Some(v) => Value::Text(v.clone()),
                None => value,
            }
        }
        CStep::ParseDate { formats, excel, offset } => {
            let t = text();
            convert::read_instant(&t, formats, *excel, *offset, cx.target).map_err(|e| fail("date", e.to_string()))?
        }
        CStep::ToDecimal { decimal_comma, round } => {
            let d = match &value {
                Value::Decimal(d) => *d,
                Value::Integer(i) => Decimal::from(*i),
                _ => convert::read_decimal(&text(), *decimal_comma).map_err(|e| fail("decimal", e.to_string()))?,
            };
            Value::Decimal(match round {
                Some(r) => convert::round(d, *r),
                None => d,
            })
        }
        CStep::ToInteger { decimal_comma } => match &value {
            Value::Integer(_) => value,
            _ => {
                let t = text();
                Value::Integer(convert::read_integer(&t, *decimal_comma).map_err(|e| fail("integer", e.to_string()))?)
            }
        },
        CStep::Round(r) => match &value {
            Value::Decimal(d) => Value::Decimal(convert::round(*d, *r)),
            Value::Integer(_) => value,
            // Text from an expression: read as a field of a decimal type would read it.
            _ => {
                let d = convert::read_decimal(&text(), false).map_err(|e| fail("round", e.to_string()))?;
                Value::Decimal(convert::round(d, *r))
            }
        },
        CStep::ToBoolean { yes, no } => {
            let t = text();
            match convert::parse_boolean(&t, yes, no) {
                Some(b) => Value::Boolean(b),
                None => return Err(fail("boolean", format!("{t:?} is not a yes/no value"))),
            }
        }
        CStep::Lookup {
            table,
            on_miss,
            default,
        } => {
            let t = text();
            match table.get(&t) {
                Some(v) => Value::Text(v.to_string()),
                None => {
                    (cx.on_miss)(&table.name, &t);
                    match on_miss {
                        OnMiss::Keep => value,
                        OnMiss::Default => default.clone().map_or(Value::Null, Value::Text),
                        OnMiss::Reject => {
                            return Err(StepFailure {
                                rule: "lookup",
                                message: format!("{t:?} is not in lookup table {:?}", table.name),
                                miss: Some((table.name.clone(), t.into_owned())),
                            });
                        }
                    }
                }
            }
        }
        CStep::UomConvert {
            uom_slot,
            factors,
            apply,
        } => {
            let uom = cx.slots[*uom_slot].trim().to_string();
            let qty = match &value {
                Value::Decimal(d) => *d,
                Value::Integer(i) => Decimal::from(*i),
                _ => return Err(fail("uom", format!("{:?} is not a number", text()))),
            };
            let Some(factor_text) = factors.get(&uom) else {
                (cx.on_miss)(&factors.name, &uom);
                return Err(StepFailure {
                    rule: "uom",
                    message: format!("unit {uom:?} has no factor in lookup table {:?}", factors.name),
                    miss: Some((factors.name.clone(), uom)),
                });
            };
            let factor = match convert::read_decimal(factor_text, false) {
                Ok(f) if f.is_sign_positive() && !f.is_zero() => f,
                Ok(f) => {
                    return Err(fail(
                        "uom",
                        format!(
                            "unit {uom:?} has the factor {f} in lookup table {:?}: a unit holds a positive number \
                             of base units",
                            factors.name
                        ),
                    ));
                }
                Err(e) => {
                    return Err(fail(
                        "uom",
                        format!("the factor of unit {uom:?} in lookup table {:?}: {e}", factors.name),
                    ));
                }
            };
            let converted = match apply {
                UomApply::Quantity => qty.checked_mul(factor),
                UomApply::Price => qty.checked_div(factor),
            };
            match converted {
                Some(d) => Value::Decimal(d),
                None => {
                    let op = match apply {
                        UomApply::Quantity => "times",
                        UomApply::Price => "divided by",
                    };
                    return Err(fail(
                        "uom",
                        format!(
                            "{qty} {op} the factor {factor} of unit {uom:?} is beyond what a decimal holds (at most {})",
                            Decimal::MAX
                        ),
                    ));
                }
            }
        }
        CStep::Default(_) | CStep::Coalesce(_) | CStep::Concat(..) | CStep::Expr(_) => {
            unreachable!("handled above")
        }
    })
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str().to_lowercase().as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
