//! Cells as text: numbers, dates and times, and when what a workbook stores differs from what a
//! person reads in it.
//!
//! A number cell holds a binary double. Excel shows at most 15 significant digits of it, and
//! shows it through the cell's number format. Most of the time the two readings agree (the
//! format adds a currency sign or a thousands separator, the 16th and 17th digits are the
//! binary noise of a computed `0.1 + 0.2`). When they do not — a 16-digit id of which Excel
//! shows 15, a code `00123` stored as the number 123, `PO-0045` stored as 45 — loading either
//! reading would be a guess, so the cell is refused with both. Number formats are read in
//! `excel_format.rs`.

use calamine::{Data, ExcelDateTime};
use chrono::{NaiveDateTime, TimeDelta, Timelike};

/// Every whole number below 2^53 has its own double; past it, neighbouring doubles are 2 or
/// more apart, so the digits a file wrote may not be the digits read back.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

/// What to do about a number Excel shows with more digits or text than it stores.
pub(super) const STORE_AS_TEXT: &str = "store the column as text in the workbook";

/// A number whose digits are not what Excel shows.
#[derive(Debug)]
pub(super) struct TwoReadings {
    /// The digits the cell holds.
    pub stored: String,
    /// Why it reads two ways, in words that follow "cell B7 (column "id")".
    pub why: String,
    /// What to do about it, in words that follow "so neither is loaded; ".
    pub fix: &'static str,
}

/// A number as text, in Rust's shortest form (no `.0`, no exponent): the digits the cell holds.
///
/// A fraction is rounded to Excel's 15 significant digits, because past them a fraction's
/// digits are the binary noise of a computation (`2266.1299999999997` is the `2266.13` Excel
/// shows). A whole number is never rounded: with more than 15 significant digits it is an id
/// Excel shows otherwise, and it reads two ways.
pub(super) fn number_text(f: f64) -> Result<String, TwoReadings> {
    if !f.is_finite() {
        return Ok(String::new());
    }
    if f.fract() == 0.0 {
        return whole_text(f);
    }
    let shortest = f.to_string();
    let digits = shortest
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect::<String>();
    if digits.trim_matches('0').len() <= 15 {
        return Ok(shortest);
    }
    let rounded = excel_rounding(f);
    Ok(if rounded == 0.0 {
        "0".into()
    } else {
        rounded.to_string()
    })
}

/// A whole number's exact digits, or why they are not what Excel shows.
fn whole_text(f: f64) -> Result<String, TwoReadings> {
    whole_digits_or_why(f).map_err(|why| TwoReadings {
        stored: format!("{f:.0}"),
        why,
        fix: STORE_AS_TEXT,
    })
}

fn whole_digits_or_why(f: f64) -> Result<String, String> {
    if f == 0.0 {
        return Ok("0".into());
    }
    // `{:.0}` prints the double's exact value: only digits it really holds.
    let stored = format!("{f:.0}");
    let significant = stored.trim_start_matches('-').trim_end_matches('0').len();
    let shown = format!("{:.0}", excel_rounding(f));
    if f.abs() >= EXACT_WHOLE {
        let excel = if shown == stored {
            String::new()
        } else {
            format!(", and Excel shows it rounded to 15 significant digits as {shown}")
        };
        return Err(format!(
            "holds the whole number {stored}, past 9007199254740992 (2^53), where a number cell cannot hold every \
             whole number: the digits written in the file may not be these{excel}"
        ));
    }
    if significant <= 15 {
        return Ok(stored);
    }
    Err(format!(
        "holds the whole number {stored}, which Excel shows rounded to 15 significant digits as {shown}"
    ))
}

/// `f` rounded to 15 significant digits, as Excel shows it.
fn excel_rounding(f: f64) -> f64 {
    format!("{f:.14e}").parse().unwrap_or(f)
}

/// A cell as the text a person would type for it, or both of its readings.
pub(super) fn cell_text(value: &Data) -> Result<String, TwoReadings> {
    Ok(match value {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f)?,
        Data::Bool(true) => "TRUE".into(),
        Data::Bool(false) => "FALSE".into(),
        Data::DateTime(dt) => datetime_text(dt)?,
        Data::DateTimeIso(s) => iso_text(s),
        Data::DurationIso(s) => s.clone(),
    })
}

/// Excel stores dates as days since 1899-12-30 (the Lotus 1-2-3 leap-year bug shifts the epoch by a
/// day) and times as fractions of a day; calamine turns the serial into a date and time.
pub(super) fn datetime_text(dt: &ExcelDateTime) -> Result<String, TwoReadings> {
    if dt.is_duration() {
        return match dt.as_duration() {
            Some(d) => Ok(duration_text(d)),
            None => number_text(dt.as_f64()),
        };
    }
    let Some(t) = dt.as_datetime() else {
        return number_text(dt.as_f64());
    };
    let t = round_to_second(t);
    if (0.0..1.0).contains(&dt.as_f64()) {
        // A serial below 1 has no date: it is a time of day.
        return Ok(t.format("%H:%M:%S").to_string());
    }
    Ok(format_datetime(t))
}

/// ISO text from ods (`2024-03-01`, `2024-03-16T09:30:00.000`), normalized like serial dates.
pub(super) fn iso_text(s: &str) -> String {
    match NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(t) => format_datetime(round_to_second(t)),
        Err(_) => s.to_string(),
    }
}

fn format_datetime(t: NaiveDateTime) -> String {
    if t.time() == chrono::NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// Excel times are binary fractions of a day: 09:30 comes back as 09:29:59.999 or so. Never
/// across midnight: 23:59:59.999 (a typical `valid_to`) stays on its day, as Excel shows it.
fn round_to_second(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond();
    let whole = t.with_nanosecond(0).unwrap_or(t);
    let up = whole + TimeDelta::seconds(1);
    if nanos >= 500_000_000 && up.date() == whole.date() {
        up
    } else {
        whole
    }
}

/// A duration (`[h]:mm:ss` cells: labor hours, downtime) as hours:minutes:seconds, hours unbounded.
fn duration_text(d: TimeDelta) -> String {
    let ms = d.num_milliseconds();
    let sign = if ms < 0 { "-" } else { "" };
    let secs = (ms.unsigned_abs() + 500) / 1000;
    format!("{sign}{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_round_to_fifteen_digits_and_whole_numbers_print_exactly() {
        assert_eq!(number_text(12.0).unwrap(), "12");
        assert_eq!(number_text(2266.13).unwrap(), "2266.13");
        assert_eq!(number_text(2266.1299999999997).unwrap(), "2266.13");
        assert_eq!(number_text(0.1 + 0.2).unwrap(), "0.3");
        assert_eq!(number_text(-0.0).unwrap(), "0");
        assert_eq!(number_text(0.000125).unwrap(), "0.000125");
        assert_eq!(number_text(10614200000123.0).unwrap(), "10614200000123");
        assert_eq!(number_text(-12.5).unwrap(), "-12.5");
        assert_eq!(number_text(123456.78901234567).unwrap(), "123456.789012346");
        assert_eq!(number_text(1e15).unwrap(), "1000000000000000");
        assert_eq!(number_text(-999999999999999.0).unwrap(), "-999999999999999");
        assert_eq!(number_text(1234567890123450.0).unwrap(), "1234567890123450");
        assert_eq!(number_text(f64::NAN).unwrap(), "");
    }

    #[test]
    fn a_whole_number_past_fifteen_digits_reads_two_ways() {
        let why = number_text(1_000_000_000_000_001.0).unwrap_err().why;
        assert_eq!(
            why,
            "holds the whole number 1000000000000001, which Excel shows rounded to 15 significant digits as \
             1000000000000000"
        );
        let why = number_text(-1_234_567_890_123_456.0).unwrap_err().why;
        assert!(
            why.contains("-1234567890123456") && why.ends_with("as -1234567890123460"),
            "{why}"
        );
        // 2^53 - 1 is the last whole number every double spelling keeps.
        assert!(
            number_text(9_007_199_254_740_991.0)
                .unwrap_err()
                .why
                .contains("9007199254740991,")
        );
    }

    #[test]
    fn past_two_to_the_53_only_the_digits_the_double_holds_are_named() {
        // `<v>12345678901234567</v>` reads back as the double 12345678901234568.
        let why = number_text(12345678901234567.0).unwrap_err();
        assert_eq!(why.stored, "12345678901234568");
        let why = why.why;
        assert!(
            why.starts_with("holds the whole number 12345678901234568, past 9007199254740992"),
            "{why}"
        );
        assert!(why.ends_with("as 12345678901234600"), "{why}");
        // 1e20 has one digit, but so has the double of `100000000000000000001`.
        let why = number_text(1e20).unwrap_err().why;
        assert!(
            why.contains("100000000000000000000, past") && !why.contains("Excel shows"),
            "{why}"
        );
        assert!(number_text(-1e300).is_err());
    }
}
