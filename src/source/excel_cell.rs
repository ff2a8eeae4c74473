//! Cells as text: numbers, dates and times, and when what a workbook stores differs from what a
//! person reads in it.
//!
//! A number cell holds a binary double. Excel shows at most 15 significant digits of it, and
//! shows it through the cell's number format. Most of the time the two readings agree (the
//! format adds a currency sign or a thousands separator, the 16th and 17th digits are the
//! binary noise of a computed `0.1 + 0.2`). When they do not — a 16-digit id of which Excel
//! shows 15, a code `00123` stored as the number 123, `PO-0045` stored as 45 — loading either
//! reading would be a guess, so the cell is refused with both.

use calamine::{Data, ExcelDateTime};
use chrono::{NaiveDateTime, TimeDelta, Timelike};

/// Every whole number below 2^53 has its own double; past it, neighbouring doubles are 2 or
/// more apart, so the digits a file wrote may not be the digits read back.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

/// A number whose digits are not what Excel shows.
#[derive(Debug)]
pub(super) struct TwoReadings {
    /// The digits the cell holds.
    pub stored: String,
    /// Why it reads two ways, in words that follow "cell B7 (column "id")".
    pub why: String,
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

/// What one section of a number format does to a number, as far as its reading goes.
#[derive(Debug, Default)]
struct Section {
    /// Digit placeholders (`0`, `#`, `?`) and literal text, in order, up to a decimal point.
    parts: Vec<Part>,
    /// The section has a decimal point, exponent, fraction, percent, scaling comma or
    /// `General`: it shows a number as a number, and is not drawn here.
    numeric: bool,
    /// A date or time format: the cell is read as a date, not here.
    date: bool,
    /// A `[<=9999999]` condition: which section applies is the condition's choice.
    conditional: bool,
    /// A fraction (`# ?/?`): the space before the numerator is no text between digits.
    fraction: bool,
    /// Text with letters or digits, or text between the digit placeholders (`000-00-0000`):
    /// what a person reads is more than the number. A currency sign, spaces and brackets
    /// around a number are not.
    text: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Digit(char),
    Literal(String),
}

/// A cell's number format, read once per style of the workbook.
#[derive(Debug)]
pub(super) struct NumberFormat {
    code: String,
    sections: Vec<Section>,
}

impl NumberFormat {
    /// The format, when it can show a number otherwise than as its digits (zero padding,
    /// literal text); `None` for `General`, dates, currency and the like.
    pub(super) fn parse(code: &str) -> Option<NumberFormat> {
        let sections: Vec<Section> = split_sections(code).iter().take(3).map(|s| section(s)).collect();
        let matters = sections.iter().any(|s| {
            !s.date
                && s.parts
                    .iter()
                    .any(|p| matches!(p, Part::Literal(_)) || *p == Part::Digit('0'))
        });
        matters.then(|| NumberFormat {
            code: code.to_string(),
            sections,
        })
    }

    /// Why `f` reads two ways under this format: Excel shows it padded with zeros, or with text
    /// a person reads as part of it.
    pub(super) fn check(&self, f: f64) -> Option<String> {
        // With conditions, which section applies is theirs to say: any that decorates counts.
        let conditional = self.sections.iter().any(|s| s.conditional);
        let at = match (self.sections.len(), f) {
            (n, f) if f < 0.0 && n >= 2 => 1,
            (n, f) if f == 0.0 && n >= 3 => 2,
            _ => 0,
        };
        let section = self
            .sections
            .iter()
            .enumerate()
            .find(|&(i, s)| (conditional || i == at) && !s.date && decorates(s, f))?
            .1;
        let shown = if section.numeric || conditional {
            String::new()
        } else {
            // Without a section of its own, a negative number is its positive one with a minus.
            format!(" as {:?}", draw(section, f.abs().round(), f < 0.0 && at == 0))
        };
        let number = number_text(f).unwrap_or_else(|two| two.stored);
        Some(format!(
            "holds the number {number}, which Excel shows{shown} through its number format {:?}",
            self.code
        ))
    }
}

/// Whether a section shows `f` with text, or pads its whole part with zeros.
fn decorates(section: &Section, f: f64) -> bool {
    if section.text {
        return true;
    }
    if section.numeric {
        return false;
    }
    let zeros = section.parts.iter().filter(|p| **p == Part::Digit('0')).count();
    zeros > 1 && zeros > whole_digits(f).len().max(1)
}

/// The digits of the whole part of `|f|` as Excel rounds it for a format without decimals; no
/// digits for zero, which `#` shows as nothing and `0` as `0`.
fn whole_digits(f: f64) -> String {
    let whole = f.abs().round();
    if whole == 0.0 {
        String::new()
    } else {
        format!("{whole:.0}")
    }
}

/// The text Excel shows for a whole number through a section of placeholders and literal text:
/// digits fill the placeholders from the right, the first one takes any digits left over.
fn draw(section: &Section, whole: f64, sign: bool) -> String {
    let digits: Vec<char> = whole_digits(whole).chars().collect();
    let slots = section.parts.iter().filter(|p| matches!(p, Part::Digit(_))).count();
    let mut out = String::from(if sign { "-" } else { "" });
    let mut next = 0usize;
    let mut slot = 0usize;
    for part in &section.parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Digit(kind) => {
                // The digits this placeholder shows: the overflow at the first, then one each.
                let take = if slot == 0 {
                    digits.len().saturating_sub(slots.saturating_sub(1))
                } else {
                    usize::from(slots - slot <= digits.len())
                };
                if take == 0 {
                    match kind {
                        '0' => out.push('0'),
                        '?' => out.push(' '),
                        _ => {}
                    }
                }
                for _ in 0..take {
                    if let Some(d) = digits.get(next) {
                        out.push(*d);
                        next += 1;
                    }
                }
                slot += 1;
            }
        }
    }
    out
}

/// The sections of a format code, split at `;` outside quotes, escapes and brackets.
fn split_sections(code: &str) -> Vec<String> {
    let mut sections = vec![String::new()];
    let mut chars = code.chars();
    let mut quoted = false;
    let mut bracket = false;
    while let Some(c) = chars.next() {
        let Some(current) = sections.last_mut() else { break };
        match c {
            ';' if !quoted && !bracket => {
                sections.push(String::new());
                continue;
            }
            '"' if !bracket => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            '\\' | '_' | '*' if !quoted && !bracket => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    sections
}

/// One section read into placeholders and literal text.
fn section(code: &str) -> Section {
    let mut s = Section::default();
    let literal = |s: &mut Section, text: &str| match s.parts.last_mut() {
        Some(Part::Literal(last)) => last.push_str(text),
        _ => s.parts.push(Part::Literal(text.to_string())),
    };
    let mut chars = code.chars().peekable();
    let mut after_point = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
                literal(&mut s, &text);
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    literal(&mut s, &next.to_string());
                }
            }
            // A space as wide as the next character, or the next character repeated to fill
            // the cell: layout, not text.
            '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let lower = inner.to_ascii_lowercase();
                if lower.starts_with(['<', '>', '=']) {
                    s.conditional = true;
                } else if !lower.is_empty() && lower.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    s.date = true;
                }
                // `[$€-407]` is a currency and locale, `[Red]` a colour: neither is read.
            }
            '0' | '#' | '?' if !after_point => s.parts.push(Part::Digit(c)),
            '0' | '#' | '?' => {}
            '.' | '%' | ',' | '/' => {
                if c == '/' && !s.parts.iter().any(|p| matches!(p, Part::Digit(_))) {
                    literal(&mut s, "/");
                } else {
                    s.numeric = true;
                    s.fraction |= c == '/';
                    after_point |= c == '.' || c == '/';
                }
            }
            'E' | 'e' if matches!(chars.peek(), Some('+' | '-')) => {
                chars.next();
                s.numeric = true;
                after_point = true;
            }
            'G' | 'g' => {
                let rest: String = chars.clone().take(6).collect();
                if rest.eq_ignore_ascii_case("eneral") {
                    chars.nth(5);
                    s.numeric = true;
                } else {
                    literal(&mut s, &c.to_string());
                }
            }
            'y' | 'Y' | 'm' | 'M' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' => s.date = true,
            'A' | 'a' if matches!(chars.peek(), Some('/' | 'M' | 'm')) => s.date = true,
            '@' => {}
            _ => literal(&mut s, &c.to_string()),
        }
    }
    let letters = s.parts.iter().any(|p| match p {
        Part::Literal(text) => text.chars().any(char::is_alphanumeric),
        Part::Digit(_) => false,
    });
    let first = s.parts.iter().position(|p| matches!(p, Part::Digit(_)));
    let last = s.parts.iter().rposition(|p| matches!(p, Part::Digit(_)));
    let between = match (first, last) {
        (Some(a), Some(b)) if !s.fraction => s.parts[a..b].iter().any(|p| matches!(p, Part::Literal(_))),
        _ => false,
    };
    s.text = letters || between;
    s
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

    fn check(code: &str, f: f64) -> Option<String> {
        NumberFormat::parse(code).and_then(|format| format.check(f))
    }

    #[test]
    fn formats_that_show_a_number_as_its_digits_are_not_kept() {
        for code in [
            "General",
            "0",
            "0.00",
            "#,##0",
            "#,##0.00",
            "0%",
            "0.00%",
            "0.00E+00",
            "# ?/?",
            "@",
            "\"$\"#,##0.00",
            "[$€-407]#,##0.00",
            "_($* #,##0.00_);_($* (#,##0.00);_($* \"-\"??_);_(@_)",
            "#,##0;[Red]-#,##0",
            "mm-dd-yy",
            "[h]:mm:ss",
            "yyyy-mm-dd",
            "#,##0 ;(#,##0)",
        ] {
            let kept = NumberFormat::parse(code);
            let readings = kept
                .as_ref()
                .and_then(|f| [123.0, -45.0, 0.0, 1.5].iter().find_map(|&v| f.check(v)));
            assert_eq!(readings, None, "{code}: {kept:?}");
        }
    }

    #[test]
    fn zero_padding_longer_than_the_number_reads_two_ways() {
        assert_eq!(
            check("00000", 123.0).as_deref(),
            Some("holds the number 123, which Excel shows as \"00123\" through its number format \"00000\"")
        );
        assert_eq!(check("00000", 12345.0), None);
        assert_eq!(check("0000", 123456.0), None);
        assert!(check("00", 0.0).unwrap().contains("\"00\" through"));
        assert!(check("000000", -42.0).unwrap().contains("as \"-000042\""));
        assert!(check("#,##0.00", 1.0).is_none());
    }

    #[test]
    fn literal_text_with_letters_or_between_digits_reads_two_ways() {
        assert!(check("\"PO-\"0000", 45.0).unwrap().contains("shows as \"PO-0045\""));
        assert!(
            check("\"PO-\"0000", 123456.0)
                .unwrap()
                .contains("shows as \"PO-123456\"")
        );
        assert!(check("0\" kg\"", 5.0).unwrap().contains("as \"5 kg\""));
        assert!(check("\\A\\B0", 7.0).unwrap().contains("as \"AB7\""));
        assert!(
            check("000-00-0000", 123456789.0)
                .unwrap()
                .contains("as \"123-45-6789\"")
        );
        assert!(check("##-##", 1234.0).unwrap().contains("as \"12-34\""));
        // Without a drawing of its own: the format is named.
        let why = check("[<=9999999]###-####;(###) ###-####", 5551234.0).unwrap();
        assert!(
            why.ends_with("shows through its number format \"[<=9999999]###-####;(###) ###-####\""),
            "{why}"
        );
        assert!(check("\"Lot \"0.00", 1.5).is_some());
        // The section for negative numbers decides for them.
        assert_eq!(check("0;\"minus \"0", 5.0), None);
        assert!(check("0;\"minus \"0", -5.0).is_some());
    }
}
