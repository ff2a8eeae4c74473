//! Text to typed values: decimals with currency symbols and decimal commas, dates in listed
//! formats or as Excel serial numbers, booleans in their many spellings.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::model::{FieldType, Value};

/// Parse a decimal as people and spreadsheets write it: `$1,234.50`, `1.234,50` (with
/// `decimal_comma`), `(12.00)` for negatives, `1.2E+3` from Excel-mangled cells.
pub fn parse_decimal(text: &str, decimal_comma: bool) -> Option<Decimal> {
    // Most values are plain (`-12.50`): nothing below would change them, so parse them as they are.
    if !decimal_comma && is_plain_decimal(text) {
        return text.parse::<Decimal>().ok();
    }
    parse_decimal_general(text, decimal_comma)
}

fn parse_decimal_general(text: &str, decimal_comma: bool) -> Option<Decimal> {
    let mut s: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '$' | '€' | '£' | '¥' | '\''))
        .collect();
    for code in ["USD", "EUR", "GBP", "CAD", "CHF"] {
        s = s.trim_start_matches(code).trim_end_matches(code).to_string();
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    if let Some(rest) = s.strip_suffix('-') {
        negative = true;
        s = rest.to_string();
    }
    if decimal_comma {
        s = s.replace('.', "").replace(',', ".");
    } else {
        s = s.replace(',', "");
    }
    if s.is_empty() {
        return None;
    }
    let d = if s.contains(['e', 'E']) {
        Decimal::from_scientific(&s).ok()?
    } else {
        s.parse::<Decimal>().ok()?
    };
    Some(if negative { -d } else { d })
}

/// `-?[0-9]+(\.[0-9]+)?`: a decimal with no symbol, separator, space or exponent.
fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    all_digits(int) && frac.is_none_or(all_digits)
}

/// Parse a whole number; `12.0` is accepted, `12.5` is not.
pub fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim().replace(',', "");
    t.parse::<i64>().ok().or_else(|| {
        let d = t.parse::<Decimal>().ok()?;
        if d.fract().is_zero() {
            i64::try_from(d).ok()
        } else {
            None
        }
    })
}

const TRUE_WORDS: &[&str] = &["true", "t", "yes", "y", "1", "on", "x"];
const FALSE_WORDS: &[&str] = &["false", "f", "no", "n", "0", "off"];

/// Parse a yes/no value; extra spellings may be given (compared without case).
pub fn parse_boolean(text: &str, extra_true: &[String], extra_false: &[String]) -> Option<bool> {
    let t = text.trim().to_lowercase();
    if TRUE_WORDS.contains(&t.as_str()) || extra_true.iter().any(|w| w.eq_ignore_ascii_case(&t)) {
        Some(true)
    } else if FALSE_WORDS.contains(&t.as_str()) || extra_false.iter().any(|w| w.eq_ignore_ascii_case(&t)) {
        Some(false)
    } else {
        None
    }
}

/// Excel counts days from 1899-12-30: day 1 is 1900-01-01 and day 60 the 1900-02-29 that Lotus
/// 1-2-3 wrongly believed in, so counting from the 30th is right for every date after it.
pub fn excel_serial(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_time(NaiveTime::MIN);
    let millis = (serial * 86_400_000.0).round() as i64;
    base.checked_add_signed(Duration::milliseconds(millis))
}

/// Parse a date or timestamp with the first matching format (chrono `strftime` syntax).
/// Formats without a time give midnight; times without an offset are in `offset`.
pub fn parse_datetime(text: &str, formats: &[String], excel: bool, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let t = text.trim();
    for f in formats {
        if let Ok(dt) = DateTime::parse_from_str(t, f) {
            return Some(dt.with_timezone(&Utc));
        }
        let naive = NaiveDateTime::parse_from_str(t, f)
            .ok()
            .or_else(|| NaiveDate::parse_from_str(t, f).ok().map(|d| d.and_time(NaiveTime::MIN)));
        if let Some(n) = naive {
            return offset.from_local_datetime(&n).single().map(|d| d.with_timezone(&Utc));
        }
    }
    if excel && let Ok(serial) = t.parse::<f64>() {
        return excel_serial(serial)
            .and_then(|n| offset.from_local_datetime(&n).single())
            .map(|d| d.with_timezone(&Utc));
    }
    None
}

/// Parse a `+01:00` / `-0500` / `UTC` offset.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Whether a chrono format string is well formed.
pub fn format_is_valid(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    !StrftimeItems::new(format).any(|i| matches!(i, Item::Error))
}

/// Date formats tried when a date or timestamp field receives text without a `parse_date` step.
const DEFAULT_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y%m%d",
];

/// Turn text into the field's type with the default conventions; `Err` holds what was expected.
pub fn coerce(text: &str, ty: FieldType) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    let fail = || Err(format!("expected a {}", ty.name()));
    match ty {
        FieldType::String => Ok(Value::Text(text.to_string())),
        FieldType::Code(values) => {
            let lower = t.to_lowercase();
            match values.iter().find(|v| **v == lower) {
                Some(v) => Ok(Value::Text((*v).to_string())),
                None => Err(format!("expected one of {}", values.join(", "))),
            }
        }
        FieldType::Decimal { .. } => parse_decimal(t, false).map(Value::Decimal).map_or_else(fail, Ok),
        FieldType::Integer => parse_integer(t).map(Value::Integer).map_or_else(fail, Ok),
        FieldType::Boolean => parse_boolean(t, &[], &[]).map(Value::Boolean).map_or_else(fail, Ok),
        FieldType::Date | FieldType::Timestamp => {
            let formats: Vec<String> = DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect();
            let utc = FixedOffset::east_opt(0).expect("zero offset");
            match (parse_datetime(t, &formats, false, utc), DateTime::parse_from_rfc3339(t)) {
                (_, Ok(dt)) => Ok(typed_instant(dt.with_timezone(&Utc), ty)),
                (Some(dt), _) => Ok(typed_instant(dt, ty)),
                _ => Err(format!(
                    "expected a {} like {}",
                    ty.name(),
                    if ty == FieldType::Date {
                        "2024-03-01"
                    } else {
                        "2024-03-01T14:30:00Z"
                    }
                )),
            }
        }
    }
}

/// An instant as the field's type: dates keep the calendar day.
pub fn typed_instant(dt: DateTime<Utc>, ty: FieldType) -> Value {
    match ty {
        FieldType::Date => Value::Date(dt.date_naive()),
        _ => Value::Timestamp(dt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
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
    fn plain_decimals_parse_as_the_general_path_parses_them() {
        for t in [
            "0",
            "12",
            "-12.50",
            "007.10",
            "123456789012345678901234567890",
            "1.",
            ".5",
            "-",
            "-.5",
            "1.2.3",
            "1e3",
            "+4",
        ] {
            assert_eq!(parse_decimal(t, false), parse_decimal_general(t, false), "{t:?}");
        }
    }

    #[test]
    fn excel_serial_dates() {
        let d = excel_serial(45000.0).unwrap();
        assert_eq!(d.date(), NaiveDate::from_ymd_opt(2023, 3, 15).unwrap());
        assert!(excel_serial(-1.0).is_none());
    }

    #[test]
    fn dates_by_format_and_offset() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let f = vec!["%m/%d/%y".to_string()];
        let dt = parse_datetime("1/23/23", &f, false, utc).unwrap();
        assert_eq!(dt.date_naive(), NaiveDate::from_ymd_opt(2023, 1, 23).unwrap());
        let plus_one = parse_offset("+01:00").unwrap();
        let f = vec!["%Y-%m-%d %H:%M".to_string()];
        let dt = parse_datetime("2024-03-02 10:00", &f, false, plus_one).unwrap();
        assert_eq!(dt.to_rfc3339(), "2024-03-02T09:00:00+00:00");
        assert!(format_is_valid("%Y-%m-%d"));
        assert!(!format_is_valid("%Y-%Q"));
    }

    #[test]
    fn booleans_and_codes() {
        assert_eq!(parse_boolean("Y", &[], &[]), Some(true));
        assert_eq!(parse_boolean("No", &[], &[]), Some(false));
        assert_eq!(parse_boolean("Operational", &["operational".into()], &[]), Some(true));
        assert_eq!(
            coerce("ACTIVE", FieldType::Code(&["active", "inactive"])),
            Ok(Value::Text("active".into()))
        );
        assert!(coerce("gone", FieldType::Code(&["active", "inactive"])).is_err());
        assert_eq!(coerce("12.0", FieldType::Integer), Ok(Value::Integer(12)));
    }
}
