//! Property tests of the conversions against independent oracles: a decimal formatted the ways
//! people write it reads back exactly; whatever text the parser accepts, a reference reading
//! (every decomposition into currency, sign and a number matching a regular expression, valued
//! with integer arithmetic) accepts too, with the same value and with one value only; dates
//! formatted with random formats and offsets read back to the same day or instant.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use proptest::prelude::*;
use regex::Regex;
use rust_decimal::Decimal;

use super::*;
use crate::model::{FieldType, Value};

// ---------------------------------------------------------------------------------------------
// Decimals: format, read back.

/// How a random decimal is written.
#[derive(Debug, Clone)]
struct Style {
    decimal_comma: bool,
    /// Grouping character, if any.
    group: Option<char>,
    /// 0 none, 1 `-x`, 2 `x-`, 3 `(x)`, 4 `+x` (only for non-negatives).
    sign: u8,
    /// 0 none, 1 `$x`, 2 `x €`, 3 `USD x`.
    currency: u8,
}

fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), 0usize..5, 0u8..4, 0u8..4, any::<bool>()).prop_map(|(dc, g, sign, currency, plus)| {
        let groups: [Option<char>; 5] = if dc {
            [None, Some('.'), Some(' '), Some('\''), Some('\u{a0}')]
        } else {
            [None, Some(','), Some(' '), Some('\''), Some('\u{202f}')]
        };
        Style {
            decimal_comma: dc,
            group: groups[g],
            sign: if plus && sign == 0 { 4 } else { sign },
            currency,
        }
    })
}

/// A decimal of up to 28 digits, any scale it can have, either sign.
fn decimal() -> impl Strategy<Value = Decimal> {
    (0u32..=28, 1usize..=28, any::<u128>(), any::<bool>()).prop_map(|(scale, digits, raw, negative)| {
        let modulus = 10u128.pow(u32::try_from(digits).unwrap_or(28));
        let m = i128::try_from(raw % modulus).unwrap_or(0);
        Decimal::from_i128_with_scale(if negative { -m } else { m }, scale.min(28))
    })
}

fn write(d: Decimal, s: &Style) -> String {
    let text = d.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if let Some(g) = s.group
            && i > 0
            && (int.len() - i) % 3 == 0
        {
            grouped.push(g);
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push(if s.decimal_comma { ',' } else { '.' });
        grouped.push_str(frac);
    }
    let negative = d.is_sign_negative() && !d.is_zero();
    let signed = match (negative, s.sign) {
        (false, 4) => format!("+{grouped}"),
        (false, _) => grouped,
        (true, 2) => format!("{grouped}-"),
        (true, 3) => format!("({grouped})"),
        (true, _) => format!("-{grouped}"),
    };
    match s.currency {
        1 => format!("${signed}"),
        2 => format!("{signed} €"),
        3 => format!("USD {signed}"),
        _ => signed,
    }
}

// ---------------------------------------------------------------------------------------------
// The reference reading.

/// Every way to take a sign (or none) off the outside of a text.
fn sign_forms(x: &str) -> Vec<(bool, &str)> {
    let mut out = vec![(false, x)];
    if let Some(r) = x.strip_prefix('-') {
        out.push((true, r.trim()));
    }
    if let Some(r) = x.strip_prefix('+') {
        out.push((false, r.trim()));
    }
    // `12,-` and `12.-` are whole prices in German and Swiss notation, not negative numbers.
    if let Some(r) = x.strip_suffix('-')
        && !r.ends_with(['.', ','])
    {
        out.push((true, r.trim()));
    }
    if let Some(r) = x.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        out.push((true, r.trim()));
    }
    out
}

/// Every way to take a `$` (or none) off the outside of a text.
fn currency_forms(x: &str) -> Vec<&str> {
    let mut out = vec![x];
    out.extend(x.strip_prefix('$').map(str::trim));
    out.extend(x.strip_suffix('$').map(str::trim));
    out
}

fn body_regexes(decimal_comma: bool) -> &'static [Regex] {
    static POINT: OnceLock<Vec<Regex>> = OnceLock::new();
    static COMMA: OnceLock<Vec<Regex>> = OnceLock::new();
    let build = |d: &str, groups: &[&str]| -> Vec<Regex> {
        let plain = format!(r"^(?P<int>\d*)(?:{d}(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?$");
        let mut v = vec![Regex::new(&plain).unwrap()];
        for g in groups {
            // The first group of a grouped number has no leading zero (`0,500` is not 500).
            v.push(
                Regex::new(&format!(
                    r"^(?P<int>[1-9]\d{{0,2}}(?:{g}\d{{3}})+)(?:{d}(?P<frac>\d*))?$"
                ))
                .unwrap(),
            );
        }
        v
    };
    if decimal_comma {
        COMMA.get_or_init(|| build(",", &[r"\.", " ", "'", "\u{a0}", "\u{2009}", "\u{202f}"]))
    } else {
        POINT.get_or_init(|| build(r"\.", &[",", " ", "'", "\u{a0}", "\u{2009}", "\u{202f}"]))
    }
}

/// The value of digits `m` times ten to `e`, if a decimal holds it exactly.
fn value_of(mut m: u128, mut e: i128, keep_scale: bool) -> Option<Decimal> {
    const MAX: u128 = (1u128 << 96) - 1;
    if m == 0 {
        let scale = if keep_scale && (-28..=0).contains(&e) { -e } else { 0 };
        return Some(Decimal::from_i128_with_scale(0, u32::try_from(scale).ok()?));
    }
    let fits = |m: u128, e: i128| m <= MAX && (-28..=0).contains(&e);
    if !(keep_scale && fits(m, e)) {
        while m.is_multiple_of(10) {
            m /= 10;
            e += 1;
        }
    }
    while e > 0 {
        m = m.checked_mul(10)?;
        e -= 1;
    }
    if !fits(m, e) {
        return None;
    }
    Some(Decimal::from_i128_with_scale(
        i128::try_from(m).ok()?,
        u32::try_from(-e).ok()?,
    ))
}

fn body_value(body: &str, decimal_comma: bool) -> Option<Decimal> {
    for re in body_regexes(decimal_comma) {
        let Some(c) = re.captures(body) else { continue };
        let int: String = c["int"].chars().filter(char::is_ascii_digit).collect();
        let frac = c.name("frac").map_or("", |m| m.as_str());
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let digits = format!("{int}{frac}");
        // Longer than u128 holds: more than a decimal does anyway (the tests stay below).
        let m: u128 = digits.parse().ok()?;
        let exp: i128 = match c.name("exp") {
            Some(x) => x.as_str().trim_start_matches('+').parse().ok()?,
            None => 0,
        };
        let e = exp - i128::try_from(frac.len()).ok()?;
        return value_of(m, e, c.name("exp").is_none());
    }
    None
}

/// Every value the reference grammar gives a text (a set: more than one would be a guess).
fn reference(text: &str, decimal_comma: bool) -> BTreeSet<(String, u32)> {
    let mut out = BTreeSet::new();
    let t = text.trim();
    let mut add = |negative: bool, body: &str| {
        if let Some(v) = body_value(body, decimal_comma) {
            out.insert(key(if negative { -v } else { v }));
        }
    };
    for (neg, inner) in sign_forms(t) {
        for body in currency_forms(inner) {
            add(neg, body);
        }
    }
    for outer in currency_forms(t) {
        for (neg, body) in sign_forms(outer) {
            add(neg, body);
        }
    }
    out
}

/// A value as (number, scale), compared exactly; -0 and 0 are one number.
fn key(v: Decimal) -> (String, u32) {
    let n = v.normalize();
    let number = if n.is_zero() { "0".to_string() } else { n.to_string() };
    (number, v.scale())
}

fn number_text() -> impl Strategy<Value = String> {
    // Runs of digits between single marks, so that a fair share of texts are numbers.
    proptest::string::string_regex(r"([0-9]{1,4}|[,. '()$eE+\-]){0,7}").unwrap()
}

/// Whether a text has an exponent the reference read (then only the value is compared).
fn has_exponent(t: &str) -> bool {
    t.contains(['e', 'E'])
}

fn same_reading(text: &str, decimal_comma: bool) -> Result<(), TestCaseError> {
    let want = reference(text, decimal_comma);
    prop_assert!(want.len() <= 1, "{text:?} has two readings: {want:?}");
    let got = read_decimal(text, decimal_comma);
    match (want.first(), got) {
        (None, Err(_)) => {}
        (None, Ok(v)) => prop_assert!(false, "{text:?} read as {v}, the reference refuses it"),
        (Some(w), Err(e)) => prop_assert!(false, "{text:?} refused ({e}), the reference reads {w:?}"),
        (Some(w), Ok(v)) if has_exponent(text) => prop_assert_eq!(&w.0, &key(v).0, "{:?}", text),
        (Some(w), Ok(v)) => prop_assert_eq!(w, &key(v), "{:?}", text),
    }
    Ok(())
}

/// Inputs the property tests once found the reference and the parser disagreeing on.
#[test]
fn found_cases_read_the_same_way() {
    for (text, dc) in [
        ("0.-", false),
        ("0.-", true),
        ("12,-", true),
        ("12,-", false),
        ("5 -", false),
    ] {
        same_reading(text, dc).unwrap();
    }
}

proptest! {
    #[test]
    fn a_decimal_written_as_people_write_it_reads_back_exactly(d in decimal(), s in style()) {
        let text = write(d, &s);
        let got = read_decimal(&text, s.decimal_comma);
        prop_assert_eq!(got.as_ref().map(|v| key(*v)), Ok(key(d)), "{:?} {:?}", text, s);
    }

    #[test]
    fn what_the_parser_reads_the_reference_reads_the_same_way(t in number_text(), dc in any::<bool>()) {
        same_reading(&t, dc)?;
    }

    #[test]
    fn long_digit_strings_are_read_exactly_or_refused(
        int in "[0-9]{0,34}",
        frac in proptest::option::of("[0-9]{0,34}"),
        exp in proptest::option::of(-40i32..40),
    ) {
        let mut t = int;
        if let Some(f) = frac {
            t = format!("{t}.{f}");
        }
        if let Some(e) = exp {
            t = format!("{t}e{e}");
        }
        same_reading(&t, false)?;
    }

    #[test]
    fn integers_read_back_and_refuse_what_is_not_whole(i in any::<i64>(), s in style()) {
        let text = write(Decimal::from(i), &s);
        prop_assert_eq!(read_integer(&text, s.decimal_comma), Ok(i), "{:?}", text);
    }

    #[test]
    fn an_integer_is_read_only_where_the_reference_reads_a_whole_number(t in number_text(), dc in any::<bool>()) {
        let want = reference(&t, dc);
        let whole = want.first().and_then(|(v, _)| v.parse::<i64>().ok());
        match read_integer(&t, dc) {
            Ok(i) => prop_assert_eq!(Some(i), whole, "{:?}", t),
            Err(_) => prop_assert!(whole.is_none(), "{:?} refused, the reference reads {:?}", t, whole),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dates and timestamps.

const DAY_FORMATS: &[&str] = &["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d.%m.%Y", "%b %d, %Y"];
const TIME_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M:%S%.3f"];

fn date() -> impl Strategy<Value = NaiveDate> {
    (1900i32..2100, 1u32..=12, 1u32..=31).prop_filter_map("a real day", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

fn time() -> impl Strategy<Value = NaiveTime> {
    (0u32..24, 0u32..60, 0u32..60, 0u32..1000)
        .prop_filter_map("a time", |(h, m, s, ms)| NaiveTime::from_hms_milli_opt(h, m, s, ms))
}

/// Offsets from -12:00 to +14:00 by quarter hours, as written in a step.
fn offset() -> impl Strategy<Value = FixedOffset> {
    (-48i32..=56).prop_filter_map("an offset", |q| FixedOffset::east_opt(q * 15 * 60))
}

fn local_to_utc(n: NaiveDateTime, o: FixedOffset) -> chrono::DateTime<chrono::Utc> {
    (n - Duration::seconds(i64::from(o.local_minus_utc()))).and_utc()
}

proptest! {
    #[test]
    fn a_date_keeps_its_day_and_a_timestamp_is_its_local_midnight(
        d in date(), f in proptest::sample::select(DAY_FORMATS), o in offset(),
    ) {
        let text = d.format(f).to_string();
        let formats = vec![f.to_string()];
        prop_assert_eq!(read_instant(&text, &formats, false, o, FieldType::Date), Ok(Value::Date(d)));
        let want = local_to_utc(d.and_time(NaiveTime::MIN), o);
        prop_assert_eq!(read_instant(&text, &formats, false, o, FieldType::Timestamp), Ok(Value::Timestamp(want)));
    }

    #[test]
    fn a_local_time_moves_by_the_offset_and_a_date_field_keeps_the_written_day(
        d in date(), t in time(), f in proptest::sample::select(TIME_FORMATS), o in offset(),
    ) {
        let n = d.and_time(t);
        let text = n.format(f).to_string();
        // What the format keeps of the time (seconds, milliseconds).
        let Ok(written) = NaiveDateTime::parse_from_str(&text, f) else {
            return Err(TestCaseError::fail(format!("{text:?} does not parse with {f}")));
        };
        let formats = vec![f.to_string()];
        prop_assert_eq!(read_instant(&text, &formats, false, o, FieldType::Date), Ok(Value::Date(d)));
        let want = local_to_utc(written, o);
        prop_assert_eq!(read_instant(&text, &formats, false, o, FieldType::Timestamp), Ok(Value::Timestamp(want)));
    }

    #[test]
    fn a_time_with_its_own_offset_ignores_the_steps(
        d in date(), t in time(), written_at in offset(), step_offset in offset(),
    ) {
        let n = d.and_time(t.with_nanosecond(0).unwrap_or(t));
        let Some(dt) = written_at.from_local_datetime(&n).single() else {
            return Err(TestCaseError::reject("out of range"));
        };
        let text = dt.format("%Y-%m-%d %H:%M:%S %:z").to_string();
        let formats = vec!["%Y-%m-%d %H:%M:%S %:z".to_string()];
        prop_assert_eq!(read_instant(&text, &formats, false, step_offset, FieldType::Date), Ok(Value::Date(d)));
        prop_assert_eq!(
            read_instant(&text, &formats, false, step_offset, FieldType::Timestamp),
            Ok(Value::Timestamp(dt.to_utc()))
        );
    }

    #[test]
    fn an_excel_serial_with_a_fraction_is_a_local_date_and_time(
        d in date(), ms in 0u32..86_400_000, o in offset(),
    ) {
        prop_assume!(d >= NaiveDate::from_ymd_opt(1900, 3, 1).unwrap_or(d));
        let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or(d);
        let days = (d - epoch).num_days();
        let fraction = Decimal::from(ms) / Decimal::from(86_400_000);
        let serial = (Decimal::from(days) + fraction).round_dp(12);
        let n = d.and_time(NaiveTime::MIN) + Duration::milliseconds(i64::from(ms));
        let text = serial.to_string();
        prop_assert_eq!(read_instant(&text, &[], true, o, FieldType::Date), Ok(Value::Date(n.date())), "{}", text);
        prop_assert_eq!(
            read_instant(&text, &[], true, o, FieldType::Timestamp),
            Ok(Value::Timestamp(local_to_utc(n, o))),
            "{}", text
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Booleans.

fn spelling() -> impl Strategy<Value = (String, bool)> {
    let words: Vec<(&str, bool)> = TRUE_WORDS
        .iter()
        .map(|w| (*w, true))
        .chain(FALSE_WORDS.iter().map(|w| (*w, false)))
        .collect();
    (proptest::sample::select(words), any::<u64>(), " {0,2}", " {0,2}").prop_map(|((w, b), case, l, r)| {
        let cased: String = w
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if case >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        (format!("{l}{cased}{r}"), b)
    })
}

proptest! {
    #[test]
    fn every_spelling_of_yes_and_no_in_any_case(s in spelling()) {
        prop_assert_eq!(parse_boolean(&s.0, &[], &[]), Some(s.1), "{:?}", s.0);
    }

    #[test]
    fn nothing_else_is_a_boolean(t in "[a-zA-Z0-9 ]{0,6}") {
        let w = t.trim().to_lowercase();
        let want = if TRUE_WORDS.contains(&w.as_str()) {
            Some(true)
        } else if FALSE_WORDS.contains(&w.as_str()) {
            Some(false)
        } else {
            None
        };
        prop_assert_eq!(parse_boolean(&t, &[], &[]), want, "{:?}", t);
    }
}
