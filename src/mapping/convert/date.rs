//! Dates and timestamps: listed chrono formats, RFC 3339, Excel serial day numbers.
//!
//! A text is first read for what it says (a day, a local date and time, or an instant with its
//! own offset), and only then made into the field's type. A date field keeps the calendar day as
//! written, whatever the offset: shifting a day alone to UTC and truncating it is how
//! `2024-03-01` at `+01:00` used to become 2024-02-29. The offset applies to timestamp fields
//! only, where a day alone is that day's local midnight.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::model::{FieldType, Value};

/// What a date text says, before an offset or a field type is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A calendar day alone.
    Day(NaiveDate),
    /// A date and time with no offset: local time.
    Local(NaiveDateTime),
    /// A date and time with its own offset.
    Instant(DateTime<FixedOffset>),
}

/// Why a text was not read as a date; its `Display` starts with the value, quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// No listed format reads it (and it is no Excel serial, where those are accepted).
    NoFormat { value: String, formats: Vec<String> },
    /// Excel serial 60: 1900-02-29, which Lotus 1-2-3 and Excel count but never was.
    ExcelLeapDay { value: String },
    /// An Excel serial outside 1..=2958465 (1900-01-01 to 9999-12-31).
    ExcelRange { value: String },
    /// `%Y` read a year of fewer than four digits (`01/02/24` as the year 24).
    ShortYear { value: String, format: String },
    /// A local time that does not exist, or exists twice, at the offset.
    NoSuchLocalTime {
        value: String,
        local: NaiveDateTime,
        offset: String,
    },
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateError::NoFormat { value, formats } if formats.is_empty() => {
                write!(f, "{value:?} is not an Excel serial day number")
            }
            DateError::NoFormat { value, formats } => {
                write!(f, "{value:?} matches none of the formats {}", formats.join(", "))
            }
            DateError::ExcelLeapDay { value } => write!(
                f,
                "{value:?}: Excel serial 60 is 1900-02-29, a day that never existed (Lotus 1-2-3's leap-year bug)"
            ),
            DateError::ExcelRange { value } => write!(
                f,
                "{value:?}: an Excel serial day must be from 1 (1900-01-01) to 2958465 (9999-12-31)"
            ),
            DateError::ShortYear { value, format } => write!(
                f,
                "{value:?}: format {format:?} reads a year that is not written with four digits; if the file \
                 writes two-digit years, use %y"
            ),
            DateError::NoSuchLocalTime { value, local, offset } => write!(
                f,
                "{value:?}: {local} at offset {offset} is not one single instant (out of range or ambiguous)"
            ),
        }
    }
}

impl std::error::Error for DateError {}

/// Read with one chrono format, as an instant when the format has an offset. chrono's `%Y`
/// takes one to four digits: a reading with a year outside 1000..=9999 is `Err` (read, but not
/// as a person would read it).
fn read_format(text: &str, format: &str) -> Option<Result<Reading, ()>> {
    let reading = if let Ok(dt) = DateTime::parse_from_str(text, format) {
        Reading::Instant(dt)
    } else if let Ok(n) = NaiveDateTime::parse_from_str(text, format) {
        Reading::Local(n)
    } else {
        Reading::Day(NaiveDate::parse_from_str(text, format).ok()?)
    };
    let four_digits = (1000..=9999).contains(&reading.day().year());
    Some(if format.contains("%Y") && !four_digits {
        Err(())
    } else {
        Ok(reading)
    })
}

/// Read a text with the first listed format that reads it, then as an Excel serial.
pub fn read(text: &str, formats: &[String], excel: bool) -> Result<Reading, DateError> {
    let t = text.trim();
    let mut short_year = None;
    for f in formats {
        match read_format(t, f) {
            Some(Ok(r)) => return Ok(r),
            Some(Err(())) => {
                short_year.get_or_insert(f);
            }
            None => {}
        }
    }
    let no_format = || match short_year {
        Some(format) => DateError::ShortYear {
            value: text.to_string(),
            format: format.clone(),
        },
        None => DateError::NoFormat {
            value: text.to_string(),
            formats: formats.to_vec(),
        },
    };
    if excel {
        return excel_reading(t).unwrap_or_else(|| Err(no_format()));
    }
    Err(no_format())
}

/// An Excel serial as a reading: `None` when the text is no number at all.
fn excel_reading(t: &str) -> Option<Result<Reading, DateError>> {
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !number(int) || !number(frac) {
        return None;
    }
    let err = |e: fn(String) -> DateError| Some(Err(e(t.to_string())));
    let Ok(serial) = Decimal::from_str_exact(t) else {
        return err(|value| DateError::ExcelRange { value });
    };
    match excel_serial(serial) {
        Ok(r) => Some(Ok(r)),
        Err(ExcelSerialError::LeapDay) => err(|value| DateError::ExcelLeapDay { value }),
        Err(ExcelSerialError::Range) => err(|value| DateError::ExcelRange { value }),
    }
}

/// Why a serial day number has no date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExcelSerialError {
    /// Serial 60, Excel's 1900-02-29.
    LeapDay,
    /// Below 1 or past 9999-12-31.
    Range,
}

/// The largest serial Excel shows as a date: 9999-12-31.
const EXCEL_LAST_SERIAL: i64 = 2_958_465;

/// An Excel serial day number as Excel reads it: 1 is 1900-01-01, 59 is 1900-02-28, 60 is the
/// 1900-02-29 that Lotus 1-2-3 wrongly believed in (refused), 61 is 1900-03-01, so from 61 on it
/// counts days since 1899-12-30. A fraction is the time of day, to the millisecond.
pub fn excel_serial(serial: Decimal) -> Result<Reading, ExcelSerialError> {
    let day = serial.trunc();
    let day_number = i64::try_from(day).map_err(|_| ExcelSerialError::Range)?;
    if !(1..=EXCEL_LAST_SERIAL).contains(&day_number) {
        return Err(ExcelSerialError::Range);
    }
    if day_number == 60 {
        return Err(ExcelSerialError::LeapDay);
    }
    let epoch = if day_number < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)
    };
    let date = epoch
        .and_then(|e| e.checked_add_days(Days::new(day_number.unsigned_abs())))
        .ok_or(ExcelSerialError::Range)?;
    let fraction = serial - day;
    if fraction.is_zero() {
        return Ok(Reading::Day(date));
    }
    // `fraction` is below 1, so the product is below 86.4 million: no overflow.
    let millis =
        (fraction * Decimal::from(86_400_000)).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let millis = i64::try_from(millis).map_err(|_| ExcelSerialError::Range)?;
    date.and_time(NaiveTime::MIN)
        .checked_add_signed(Duration::milliseconds(millis))
        .map(Reading::Local)
        .ok_or(ExcelSerialError::Range)
}

impl Reading {
    /// The reading as a value of a date field (the day as written) or a timestamp field (UTC).
    pub fn to_value(self, ty: FieldType, offset: FixedOffset, text: &str) -> Result<Value, DateError> {
        if ty == FieldType::Date {
            return Ok(Value::Date(self.day()));
        }
        self.instant(offset, text).map(Value::Timestamp)
    }

    /// The calendar day as written: the time and any offset are not applied.
    pub fn day(self) -> NaiveDate {
        match self {
            Reading::Day(d) => d,
            Reading::Local(n) => n.date(),
            Reading::Instant(dt) => dt.date_naive(),
        }
    }

    /// The instant, a day alone being its local midnight; times without an offset are in `offset`.
    pub fn instant(self, offset: FixedOffset, text: &str) -> Result<DateTime<Utc>, DateError> {
        let local = match self {
            Reading::Instant(dt) => return Ok(dt.with_timezone(&Utc)),
            Reading::Day(d) => d.and_time(NaiveTime::MIN),
            Reading::Local(n) => n,
        };
        match offset.from_local_datetime(&local) {
            LocalResult::Single(dt) => Ok(dt.with_timezone(&Utc)),
            LocalResult::Ambiguous(..) | LocalResult::None => Err(DateError::NoSuchLocalTime {
                value: text.to_string(),
                local,
                offset: offset.to_string(),
            }),
        }
    }
}

/// Read a date or timestamp for a field of type `ty`; see the module doc for what the offset does.
pub fn read_for(
    text: &str,
    formats: &[String],
    excel: bool,
    offset: FixedOffset,
    ty: FieldType,
) -> Result<Value, DateError> {
    read(text, formats, excel)?.to_value(ty, offset, text)
}

/// Parse a date or timestamp as an instant (a day alone is its local midnight).
pub fn parse_datetime(text: &str, formats: &[String], excel: bool, offset: FixedOffset) -> Option<DateTime<Utc>> {
    read(text, formats, excel).ok()?.instant(offset, text).ok()
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
/// No two read the same text, so the first that reads it is the only one.
const DEFAULT_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y%m%d",
];

/// A date or timestamp field's value from text in one of the default formats or RFC 3339, UTC
/// where no offset is given.
pub fn coerce_instant(text: &str, ty: FieldType) -> Option<Value> {
    let reading = match DateTime::parse_from_rfc3339(text) {
        Ok(dt) => Reading::Instant(dt),
        Err(_) => DEFAULT_DATE_FORMATS.iter().find_map(|f| read_format(text, f))?.ok()?,
    };
    reading.to_value(ty, FixedOffset::east_opt(0)?, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn formats(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn excel_serials_are_read_as_excel_reads_them() {
        let serial = |s: &str| excel_serial(Decimal::from_str_exact(s).unwrap());
        assert_eq!(serial("1"), Ok(Reading::Day(day(1900, 1, 1))));
        assert_eq!(serial("59"), Ok(Reading::Day(day(1900, 2, 28))));
        assert_eq!(serial("60"), Err(ExcelSerialError::LeapDay));
        assert_eq!(serial("60.5"), Err(ExcelSerialError::LeapDay));
        assert_eq!(serial("61"), Ok(Reading::Day(day(1900, 3, 1))));
        assert_eq!(serial("45000"), Ok(Reading::Day(day(2023, 3, 15))));
        assert_eq!(serial("2958465"), Ok(Reading::Day(day(9999, 12, 31))));
        assert_eq!(serial("2958466"), Err(ExcelSerialError::Range));
        assert_eq!(serial("0"), Err(ExcelSerialError::Range));
        assert_eq!(serial("0.5"), Err(ExcelSerialError::Range));
        assert_eq!(serial("-1"), Err(ExcelSerialError::Range));
        assert_eq!(serial("99999999999999999999999"), Err(ExcelSerialError::Range));
        let noon = day(2023, 3, 15).and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(serial("45000.5"), Ok(Reading::Local(noon)));
        // Excel writes 09:30 as a binary fraction; the millisecond rounding recovers it.
        let half_past_nine = day(2023, 3, 15).and_hms_opt(9, 30, 0).unwrap();
        assert_eq!(serial("45000.3958333333"), Ok(Reading::Local(half_past_nine)));
    }

    #[test]
    fn a_date_keeps_its_day_and_a_timestamp_moves_by_the_offset() {
        let f = formats(&["%Y-%m-%d", "%Y-%m-%d %H:%M"]);
        for o in ["+01:00", "+05:30", "+14:00", "-05:00", "-12:00"] {
            let offset = parse_offset(o).unwrap();
            let v = read_for("2024-03-01", &f, false, offset, FieldType::Date).unwrap();
            assert_eq!(v, Value::Date(day(2024, 3, 1)), "{o}");
            let v = read_for("2024-03-01 23:59", &f, false, offset, FieldType::Date).unwrap();
            assert_eq!(v, Value::Date(day(2024, 3, 1)), "{o}");
        }
        let plus_one = parse_offset("+01:00").unwrap();
        let v = read_for("2024-03-01", &f, false, plus_one, FieldType::Timestamp).unwrap();
        assert_eq!(v.to_text().unwrap(), "2024-02-29T23:00:00Z");
        let dt = parse_datetime("2024-03-02 10:00", &f, false, plus_one).unwrap();
        assert_eq!(dt.to_rfc3339(), "2024-03-02T09:00:00+00:00");
    }

    #[test]
    fn the_first_listed_format_that_reads_wins() {
        let f = formats(&["%m/%d/%y"]);
        let dt = parse_datetime("1/23/23", &f, false, FixedOffset::east_opt(0).unwrap()).unwrap();
        assert_eq!(dt.date_naive(), day(2023, 1, 23));
    }

    #[test]
    fn formats_are_checked() {
        assert!(format_is_valid("%Y-%m-%d"));
        assert!(!format_is_valid("%Y-%Q"));
    }

    #[test]
    fn messages_name_the_value() {
        let e = read("60", &[], true).unwrap_err();
        assert!(
            e.to_string().starts_with("\"60\": Excel serial 60 is 1900-02-29"),
            "{e}"
        );
        let e = read("0", &[], true).unwrap_err();
        assert!(
            e.to_string().starts_with("\"0\": an Excel serial day must be from 1"),
            "{e}"
        );
        let e = read("soon", &formats(&["%Y-%m-%d"]), true).unwrap_err();
        assert_eq!(e.to_string(), "\"soon\" matches none of the formats %Y-%m-%d");
    }

    #[test]
    fn a_local_time_out_of_range_is_refused_not_nulled() {
        let f = formats(&["%Y-%m-%d %H:%M"]);
        let west = parse_offset("-12:00").unwrap();
        let e = read_for("+262142-12-31 23:00", &f, false, west, FieldType::Timestamp).unwrap_err();
        assert!(matches!(e, DateError::ShortYear { .. }), "{e:?}");
        for short in ["01/02/24", "31/12/1", "1/1/999"] {
            let e = read(short, &formats(&["%d/%m/%Y"]), false).unwrap_err();
            assert!(e.to_string().contains("not written with four digits"), "{short}: {e}");
        }
        assert!(read("01/02/2024", &formats(&["%d/%m/%Y"]), false).is_ok());
        assert_eq!(coerce_instant("24-03-01", FieldType::Date), None);
    }
}
