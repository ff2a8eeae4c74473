//! How one value is written: as a yes/no word, as a number (and with which decimal separator), as
//! a date in one of the formats `inspect` knows. [`super::profile`] asks these questions of every
//! value of a column and keeps the answers that held for all of them.
//!
//! Dates are parsed with the mapping's own [`parse_datetime`], so a format found here is one the
//! `parse_date` step accepts; numbers are checked against `to_decimal`'s rules in the same way.

use std::sync::LazyLock;

use chrono::{Datelike, FixedOffset};

use crate::mapping::convert::parse_datetime;

/// Date and timestamp formats tried, in order of preference: when two fit every value, the first
/// one wins (month-first before day-first, unless the file looks European).
pub const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%m/%d/%y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d/%b/%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%Y%m%d",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%b/%Y %H:%M:%S",
];

/// The formats as owned strings, the type [`parse_datetime`] takes.
static FORMATS: LazyLock<Vec<String>> = LazyLock::new(|| DATE_FORMATS.iter().map(|f| f.to_string()).collect());

/// Years outside this range mean a format read the wrong digits (`%Y` taking `23` as year 23).
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Yes/no spellings of boolean columns. `0`/`1` are left to integers.
const TRUE_WORDS: &[&str] = &["true", "t", "yes", "y"];
const FALSE_WORDS: &[&str] = &["false", "f", "no", "n"];
/// Currency marks that `to_decimal` strips.
const CURRENCY_SYMBOLS: &[char] = &['$', '€', '£', '¥'];
const CURRENCY_CODES: &[&str] = &["USD", "EUR", "GBP", "CAD", "CHF"];

/// Which decimal separator a number shows, if it shows one unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// `1,234.50`, `12.5`.
    Point,
    /// `1.234,50`, `12,5`.
    Comma,
    /// No separator, or only an ambiguous one (`1,234`).
    Unknown,
}

/// `%m/%d/%Y` <-> `%d/%m/%Y`.
pub fn swap_day_month(format: &str) -> String {
    format.replace("%m", "\u{0}").replace("%d", "%m").replace('\u{0}', "%d")
}

/// Whether `value` is written like a number; if so, the decimal separator it shows (when it
/// shows one unambiguously) and whether it carries a currency.
pub fn number_shape(value: &str) -> Option<(Separator, bool)> {
    let mut s = value.trim();
    let mut currency = false;
    loop {
        let before = s;
        for code in CURRENCY_CODES {
            s = s
                .strip_prefix(code)
                .or_else(|| s.strip_suffix(code))
                .unwrap_or(s)
                .trim();
        }
        if let Some(rest) = s
            .strip_prefix(CURRENCY_SYMBOLS)
            .or_else(|| s.strip_suffix(CURRENCY_SYMBOLS))
        {
            s = rest.trim();
        }
        if s == before {
            break;
        }
        currency = true;
    }
    let s = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(s);
    let s = s.strip_prefix(['-', '+']).or_else(|| s.strip_suffix('-')).unwrap_or(s);
    let s = s.strip_prefix(CURRENCY_SYMBOLS).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exponent {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let first_is_digit = mantissa.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let last_is_digit = mantissa.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if !first_is_digit || !last_is_digit || !mantissa.bytes().all(|b| b.is_ascii_digit() || b".,'".contains(&b)) {
        return None;
    }
    let commas = mantissa.matches(',').count();
    let points = mantissa.matches('.').count();
    let after = |sep: char| mantissa.rsplit(sep).next().map_or(0, str::len);
    let separator = match (commas, points) {
        (0, 0) => Separator::Unknown,
        (_, p) if p > 0 && commas > 0 => {
            if mantissa.rfind(',') > mantissa.rfind('.') {
                Separator::Comma
            } else {
                Separator::Point
            }
        }
        (1, 0) if after(',') != 3 => Separator::Comma,
        (c, 0) if c > 1 => Separator::Point,
        (0, 1) if after('.') != 3 => Separator::Point,
        (0, p) if p > 1 => Separator::Comma,
        _ => Separator::Unknown,
    };
    Some((separator, currency))
}

/// The value as a yes/no word (`TRUE`, `No`, `y`, ...), if it is one.
pub fn boolean_word(value: &str) -> Option<bool> {
    let lower = value.trim().to_ascii_lowercase();
    if TRUE_WORDS.contains(&lower.as_str()) {
        Some(true)
    } else if FALSE_WORDS.contains(&lower.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// The opposite yes/no word in the same spelling: `TRUE` -> `FALSE`, `Yes` -> `No`, `n` -> `y`.
pub fn boolean_counterpart(word: &str) -> Option<String> {
    let lower = word.trim().to_ascii_lowercase();
    let other = match TRUE_WORDS.iter().position(|w| *w == lower) {
        Some(i) => FALSE_WORDS[i],
        None => TRUE_WORDS[FALSE_WORDS.iter().position(|w| *w == lower)?],
    };
    let mut chars = word.trim().chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let rest_upper = chars.clone().next().is_none() || chars.all(char::is_uppercase);
    Some(match (first_upper, rest_upper) {
        (true, true) => other.to_ascii_uppercase(),
        (true, false) => other[..1].to_ascii_uppercase() + &other[1..],
        _ => other.to_string(),
    })
}

/// Whether the value could be a date at all: it has digits and is long enough.
pub fn could_be_date(value: &str) -> bool {
    value.len() >= 6 && value.bytes().any(|b| b.is_ascii_digit())
}

/// Whether `value` parses with the `index`th of [`DATE_FORMATS`] to a plausible year.
pub fn fits_date_format(value: &str, index: usize) -> bool {
    let (Some(format), Some(utc)) = (FORMATS.get(index), FixedOffset::east_opt(0)) else {
        return false;
    };
    parse_datetime(value, std::slice::from_ref(format), false, utc)
        .is_some_and(|dt| PLAUSIBLE_YEARS.contains(&dt.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_shapes_and_separators() {
        assert_eq!(number_shape("1,234.50"), Some((Separator::Point, false)));
        assert_eq!(number_shape("1.234,50"), Some((Separator::Comma, false)));
        assert_eq!(number_shape("12,5"), Some((Separator::Comma, false)));
        assert_eq!(number_shape("1,234"), Some((Separator::Unknown, false)));
        assert_eq!(number_shape("1.234.567"), Some((Separator::Comma, false)));
        assert_eq!(number_shape("$ 12.00"), Some((Separator::Point, true)));
        assert_eq!(number_shape("EUR 12,00"), Some((Separator::Comma, true)));
        assert_eq!(number_shape("(12.00)"), Some((Separator::Point, false)));
        assert_eq!(number_shape("1.2E+3"), Some((Separator::Point, false)));
        assert_eq!(number_shape("12-34"), None);
        assert_eq!(number_shape("A1"), None);
        assert_eq!(number_shape("1e"), None);
    }

    #[test]
    fn date_formats_need_plausible_years() {
        let index = |f: &str| DATE_FORMATS.iter().position(|x| *x == f).unwrap();
        assert!(fits_date_format("1/23/23", index("%m/%d/%y")));
        assert!(!fits_date_format("1/23/23", index("%m/%d/%Y")), "year 23 is no year");
        assert!(!fits_date_format("77061229", index("%Y%m%d")));
        assert_eq!(swap_day_month("%m/%d/%Y %H:%M"), "%d/%m/%Y %H:%M");
    }

    #[test]
    fn words() {
        assert_eq!(
            (boolean_word("TRUE"), boolean_word("n"), boolean_word("1")),
            (Some(true), Some(false), None)
        );
        assert_eq!(boolean_counterpart("TRUE").as_deref(), Some("FALSE"));
        assert_eq!(boolean_counterpart("Yes").as_deref(), Some("No"));
        assert_eq!(boolean_counterpart("n").as_deref(), Some("y"));
        assert_eq!(boolean_counterpart("N").as_deref(), Some("Y"));
        assert_eq!(boolean_counterpart("maybe"), None);
        assert!(could_be_date("1/2/23") && !could_be_date("Yes") && !could_be_date("1/2/3"));
    }
}
