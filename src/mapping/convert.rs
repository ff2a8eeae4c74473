//! Text to typed values: decimals with currency symbols and decimal commas, dates in listed
//! formats or as Excel serial numbers, booleans in their many spellings, and rounding.
//!
//! A conversion never guesses: a text that could be read as two different values is refused
//! with the reason, naming the value.

mod date;
mod number;
#[cfg(test)]
mod properties;

pub use date::{
    DateError, ExcelSerialError, Reading, excel_serial, format_is_valid, parse_datetime, parse_offset,
    read as read_date, read_for as read_instant,
};
pub use number::{NumberError, NumberProblem, read_decimal, read_integer};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::mapping::{RoundMode, Rounding};
use crate::model::{FieldType, Value};

/// Parse a decimal as people and spreadsheets write it (see [`read_decimal`]), `None` when it is
/// not one or could be read two ways.
pub fn parse_decimal(text: &str, decimal_comma: bool) -> Option<Decimal> {
    read_decimal(text, decimal_comma).ok()
}

/// Parse a whole number; `12.0` is accepted, `12.5` is not.
pub fn parse_integer(text: &str) -> Option<i64> {
    read_integer(text, false).ok()
}

pub const TRUE_WORDS: &[&str] = &["true", "t", "yes", "y", "1", "on", "x"];
pub const FALSE_WORDS: &[&str] = &["false", "f", "no", "n", "0", "off"];

/// Parse a yes/no value; extra spellings may be given (compared without case).
pub fn parse_boolean(text: &str, extra_true: &[String], extra_false: &[String]) -> Option<bool> {
    let t = text.trim();
    let is = |words: &[&str], extra: &[String]| {
        words.iter().any(|w| w.eq_ignore_ascii_case(t)) || extra.iter().any(|w| w.trim().eq_ignore_ascii_case(t))
    };
    let (yes, no) = (is(TRUE_WORDS, extra_true), is(FALSE_WORDS, extra_false));
    // A spelling listed as both yes and no means neither.
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// rust_decimal's strategy for a mapping's rounding mode.
pub fn strategy(mode: RoundMode) -> RoundingStrategy {
    match mode {
        RoundMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        RoundMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        RoundMode::HalfDown => RoundingStrategy::MidpointTowardZero,
        RoundMode::Up => RoundingStrategy::AwayFromZero,
        RoundMode::Down => RoundingStrategy::ToZero,
        RoundMode::Ceiling => RoundingStrategy::ToPositiveInfinity,
        RoundMode::Floor => RoundingStrategy::ToNegativeInfinity,
    }
}

/// The most decimal places a rounding may ask for (what a decimal holds).
pub const MAX_SCALE: u32 = 28;

/// Round to the rounding's scale and mode; a value with fewer places is left as it is.
pub fn round(d: Decimal, r: Rounding) -> Decimal {
    d.round_dp_with_strategy(r.scale, strategy(r.mode))
}

/// Turn text into the field's type with the default conventions (`.` as the decimal point, dates
/// in ISO forms); `Err` says what was expected or why the text was refused.
pub fn coerce(text: &str, ty: FieldType) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    // The value is named by the caller: messages here say only what is wrong with it.
    let expected = || {
        let article = if ty == FieldType::Integer { "an" } else { "a" };
        format!("expected {article} {}", ty.name())
    };
    let reason = |e: NumberError| match e.problem {
        NumberProblem::NotANumber | NumberProblem::NotWhole => expected(),
        _ => e.reason(),
    };
    match ty {
        FieldType::String => Ok(Value::Text(text.to_string())),
        FieldType::Code(values) => match values.iter().find(|v| v.eq_ignore_ascii_case(t)) {
            Some(v) => Ok(Value::Text((*v).to_string())),
            None => Err(format!("expected one of {}", values.join(", "))),
        },
        FieldType::Decimal { .. } => read_decimal(t, false).map(Value::Decimal).map_err(reason),
        FieldType::Integer => read_integer(t, false).map(Value::Integer).map_err(reason),
        FieldType::Boolean => parse_boolean(t, &[], &[]).map(Value::Boolean).ok_or_else(expected),
        FieldType::Date | FieldType::Timestamp => date::coerce_instant(t, ty).ok_or_else(|| {
            format!(
                "expected a {} like {}",
                ty.name(),
                if ty == FieldType::Date {
                    "2024-03-01"
                } else {
                    "2024-03-01T14:30:00Z"
                }
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn decimals_in_the_wild() {
        assert_eq!(parse_decimal("$1,234.50", false), Some(dec("1234.50")));
        assert_eq!(parse_decimal("1.234,50 €", true), Some(dec("1234.50")));
        assert_eq!(parse_decimal("(12.00)", false), Some(dec("-12.00")));
        assert_eq!(parse_decimal("1.2E+3", false), Some(dec("1200")));
        assert_eq!(parse_decimal("abc", false), None);
        assert_eq!(parse_decimal("", false), None);
    }

    #[test]
    fn booleans_and_codes() {
        assert_eq!(parse_boolean("Y", &[], &[]), Some(true));
        assert_eq!(parse_boolean("No", &[], &[]), Some(false));
        assert_eq!(parse_boolean("Operational", &["operational".into()], &[]), Some(true));
        assert_eq!(parse_boolean("1", &[], &["1".into()]), None);
        assert_eq!(
            coerce("ACTIVE", FieldType::Code(&["active", "inactive"])),
            Ok(Value::Text("active".into()))
        );
        assert!(coerce("gone", FieldType::Code(&["active", "inactive"])).is_err());
        assert_eq!(coerce("12.0", FieldType::Integer), Ok(Value::Integer(12)));
    }

    #[test]
    fn default_coercion_refuses_what_could_be_read_two_ways() {
        let ty = FieldType::Decimal { scale: 4 };
        assert_eq!(coerce("1,234.5", ty), Ok(Value::Decimal(dec("1234.5"))));
        let e = coerce("12,50", ty).unwrap_err();
        assert!(e.starts_with("a ',' must separate groups of three digits"), "{e}");
        assert_eq!(coerce("abc", ty), Err("expected a decimal(4)".into()));
        assert!(coerce("1,2,3", FieldType::Integer).is_err());
        assert_eq!(coerce("12.5", FieldType::Integer), Err("expected an integer".into()));
    }

    #[test]
    fn rounding_modes() {
        let r = |s: &str, mode| round(dec(s), Rounding { scale: 0, mode }).to_string();
        use RoundMode::*;
        let cases = [
            (HalfUp, ["3", "-3", "3", "2"]),
            (HalfEven, ["2", "-2", "3", "2"]),
            (HalfDown, ["2", "-2", "3", "2"]),
            (Up, ["3", "-3", "3", "3"]),
            (Down, ["2", "-2", "2", "2"]),
            (Ceiling, ["3", "-2", "3", "3"]),
            (Floor, ["2", "-3", "2", "2"]),
        ];
        for (mode, want) in cases {
            let got = [r("2.5", mode), r("-2.5", mode), r("2.6", mode), r("2.1", mode)];
            assert_eq!(got, want.map(String::from), "{mode:?}");
        }
        let p = Rounding { scale: 2, mode: HalfUp };
        assert_eq!(round(dec("0.8333333333333333333333333333"), p), dec("0.83"));
        assert_eq!(round(dec("1.5"), p).to_string(), "1.5");
    }
}
