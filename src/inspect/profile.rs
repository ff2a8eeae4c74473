//! Per-column statistics and type inference over the rows `inspect` reads.
//!
//! Inference is streaming: each column keeps a set of hypotheses (boolean, integer, decimal, GTIN,
//! each date format of [`DATE_FORMATS`]) and every non-empty value rules out the ones it does not fit,
//! so memory stays flat however many rows are read. The parsers are the mapping's own
//! ([`crate::mapping::convert`]): a format reported here is one the `parse_date` step accepts.
//! Hypotheses are checked from the narrowest to the widest (boolean, GTIN, integer, decimal, date,
//! text), so a column of `0123456789012` digits reads as a GTIN rather than a number.

use std::collections::HashSet;
use std::fmt;

use super::shape::{
    DATE_FORMATS, Separator, boolean_word, could_be_date, fits_date_format, number_shape, swap_day_month,
};
use crate::mapping::convert::parse_decimal;
use crate::mapping::rules::gtin_is_valid;

/// Distinct values are counted up to this many; past it the count reads `1000+`.
pub const DISTINCT_CAP: usize = 1000;

/// A column with at most this many distinct values reports them all.
pub const DOMAIN_MAX: usize = 12;

const SAMPLES: usize = 3;

/// The type a column's values fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InferredType {
    /// Every value read was empty.
    Empty,
    /// TRUE/FALSE, Yes/No, Y/N, T/F.
    Boolean,
    /// Whole numbers without leading zeros.
    Integer,
    /// Numbers with a fraction, a currency symbol or thousands separators.
    Decimal {
        /// Values use a comma before the fraction (`12,50`).
        decimal_comma: bool,
        /// Values carry a currency symbol or code.
        currency: bool,
    },
    /// Calendar dates in one format (`ambiguous_with`: a day/month swap that fits too).
    Date {
        /// chrono format that parses every value.
        format: String,
        /// The day/month swap of `format`, when it parses every value too.
        ambiguous_with: Option<String>,
    },
    /// Dates with a time of day in one format.
    Timestamp {
        /// chrono format that parses every value.
        format: String,
        /// The day/month swap of `format`, when it parses every value too.
        ambiguous_with: Option<String>,
    },
    /// 8, 12, 13 or 14 digits, most with a valid GS1 check digit.
    Gtin {
        /// Values whose check digit is wrong.
        bad_check_digits: u64,
    },
    /// JSON objects or arrays (JSON sources only).
    Nested,
    /// Anything else.
    Text,
}

impl InferredType {
    /// Whether values are dates or timestamps.
    pub fn date_format(&self) -> Option<&str> {
        match self {
            InferredType::Date { format, .. } | InferredType::Timestamp { format, .. } => Some(format),
            _ => None,
        }
    }
}

impl fmt::Display for InferredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferredType::Empty => f.write_str("empty"),
            InferredType::Boolean => f.write_str("boolean"),
            InferredType::Integer => f.write_str("integer"),
            InferredType::Decimal {
                decimal_comma,
                currency,
            } => {
                f.write_str("decimal")?;
                if *decimal_comma {
                    f.write_str(", decimal comma")?;
                }
                if *currency {
                    f.write_str(", currency")?;
                }
                Ok(())
            }
            InferredType::Date { format, ambiguous_with } | InferredType::Timestamp { format, ambiguous_with } => {
                let word = if matches!(self, InferredType::Date { .. }) {
                    "date"
                } else {
                    "timestamp"
                };
                write!(f, "{word} {format}")?;
                if let Some(other) = ambiguous_with {
                    write!(f, " (or {other}?)")?;
                }
                Ok(())
            }
            InferredType::Gtin { bad_check_digits: 0 } => f.write_str("gtin"),
            InferredType::Gtin { bad_check_digits } => {
                write!(f, "gtin, {bad_check_digits} bad check digit(s)")
            }
            InferredType::Nested => f.write_str("object/array"),
            InferredType::Text => f.write_str("text"),
        }
    }
}

/// What one column looks like after the rows read.
#[derive(Debug, Clone)]
pub struct ColumnSummary {
    /// Column name (header cell, `column_N`, or JSON key).
    pub name: String,
    /// Inferred type.
    pub ty: InferredType,
    /// Values that were empty (or absent from a JSON record).
    pub empty: u64,
    /// Distinct non-empty values, counted up to [`DISTINCT_CAP`].
    pub distinct: usize,
    /// Whether there were more distinct values than were counted.
    pub distinct_capped: bool,
    /// Longest value, in characters.
    pub max_len: usize,
    /// The first few distinct non-empty values.
    pub samples: Vec<String>,
    /// Every distinct value, sorted, when there are at most [`DOMAIN_MAX`] (codes, flags).
    pub domain: Vec<String>,
}

impl ColumnSummary {
    /// The distinct count as shown to people: `17` or `1000+`.
    pub fn distinct_label(&self) -> String {
        if self.distinct_capped {
            format!("{}+", self.distinct)
        } else {
            self.distinct.to_string()
        }
    }

    /// Whether at least one value was not empty.
    pub fn has_values(&self) -> bool {
        self.ty != InferredType::Empty
    }
}

/// The running statistics of one column.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    name: String,
    empty: u64,
    filled: u64,
    distinct: HashSet<String>,
    distinct_capped: bool,
    max_len: usize,
    samples: Vec<String>,
    nested: bool,
    boolean: bool,
    integer: bool,
    gtin: bool,
    bad_check_digits: u64,
    decimal_point: bool,
    decimal_comma: bool,
    saw_point: bool,
    saw_comma: bool,
    currency: bool,
    replaced: u64,
    /// One flag per entry of [`DATE_FORMATS`]: still fits every value.
    dates: Vec<bool>,
}

impl ColumnProfile {
    /// An empty profile for a column; `missing` values were already read before it appeared.
    pub fn new(name: impl Into<String>, missing: u64) -> Self {
        ColumnProfile {
            name: name.into(),
            empty: missing,
            filled: 0,
            distinct: HashSet::new(),
            distinct_capped: false,
            max_len: 0,
            samples: Vec::new(),
            nested: false,
            boolean: true,
            integer: true,
            gtin: true,
            bad_check_digits: 0,
            decimal_point: true,
            decimal_comma: true,
            saw_point: false,
            saw_comma: false,
            currency: false,
            replaced: 0,
            dates: vec![true; DATE_FORMATS.len()],
        }
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Values holding U+FFFD: text already mis-decoded by whatever wrote the file.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Count a missing value (a JSON record without this key).
    pub fn observe_missing(&mut self) {
        self.empty += 1;
    }

    /// A JSON object or array: counted and sampled, but never a scalar type.
    pub fn observe_nested(&mut self, compact: &str) {
        self.nested = true;
        self.observe(compact);
    }

    /// Take one value into account.
    pub fn observe(&mut self, raw: &str) {
        let value = raw.trim();
        if value.is_empty() {
            self.empty += 1;
            return;
        }
        self.filled += 1;
        if value.contains('\u{FFFD}') {
            self.replaced += 1;
        }
        self.max_len = self.max_len.max(raw.chars().count());
        if !self.distinct_capped && !self.distinct.contains(value) {
            if self.distinct.len() >= DISTINCT_CAP {
                self.distinct_capped = true;
            } else {
                self.distinct.insert(value.to_string());
                if self.samples.len() < SAMPLES {
                    self.samples.push(value.to_string());
                }
            }
        }
        if self.nested {
            return;
        }
        if self.boolean {
            self.boolean = boolean_word(value).is_some();
        }
        let digits = value.bytes().all(|b| b.is_ascii_digit());
        if self.gtin {
            if digits && matches!(value.len(), 8 | 12 | 13 | 14) {
                if !gtin_is_valid(value) {
                    self.bad_check_digits += 1;
                }
            } else {
                self.gtin = false;
            }
        }
        // `007` is a code, not the number 7: leading zeros would be lost.
        let code = digits && value.len() > 1 && value.starts_with('0');
        if code {
            (self.integer, self.decimal_point, self.decimal_comma) = (false, false, false);
        }
        if self.integer {
            let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
            let leading_zero = unsigned.len() > 1 && unsigned.starts_with('0');
            self.integer = !leading_zero
                && !unsigned.is_empty()
                && unsigned.bytes().all(|b| b.is_ascii_digit())
                && value.parse::<i64>().is_ok();
        }
        // Plain digits are numbers in either convention: no need to ask `to_decimal`.
        if !digits && (self.decimal_point || self.decimal_comma) {
            match number_shape(value) {
                Some((separator, currency)) => {
                    self.currency |= currency;
                    self.saw_point |= separator == Separator::Point;
                    self.saw_comma |= separator == Separator::Comma;
                    if self.decimal_point {
                        self.decimal_point = parse_decimal(value, false).is_some();
                    }
                    if self.decimal_comma {
                        self.decimal_comma = parse_decimal(value, true).is_some();
                    }
                }
                None => {
                    self.decimal_point = false;
                    self.decimal_comma = false;
                }
            }
        }
        if self.dates.iter().any(|d| *d) {
            self.observe_date(value);
        }
    }

    fn observe_date(&mut self, value: &str) {
        let possible = could_be_date(value);
        for (index, alive) in self.dates.iter_mut().enumerate() {
            *alive = *alive && possible && fits_date_format(value, index);
        }
    }

    /// The column's summary. `european` (a `;` delimiter or decimal commas elsewhere in the file)
    /// settles ambiguous dates as day-first and ambiguous numbers as decimal-comma.
    pub fn finish(&self, european: bool) -> ColumnSummary {
        let ty = self.infer(european);
        ColumnSummary {
            name: self.name.clone(),
            ty,
            empty: self.empty,
            distinct: self.distinct.len(),
            distinct_capped: self.distinct_capped,
            max_len: self.max_len,
            samples: self.samples.clone(),
            domain: if self.distinct.len() <= DOMAIN_MAX && !self.distinct_capped {
                let mut values: Vec<String> = self.distinct.iter().cloned().collect();
                values.sort();
                values
            } else {
                Vec::new()
            },
        }
    }

    /// Whether values show a decimal comma, as evidence for the file's conventions.
    pub fn shows_decimal_comma(&self) -> bool {
        self.filled > 0 && self.saw_comma && !self.saw_point && self.decimal_comma
    }

    fn infer(&self, european: bool) -> InferredType {
        if self.filled == 0 {
            return InferredType::Empty;
        }
        if self.nested {
            return InferredType::Nested;
        }
        if self.boolean {
            return InferredType::Boolean;
        }
        // Random digit strings pass the check digit one time in ten: most must pass.
        if self.gtin && self.bad_check_digits * 2 <= self.filled {
            return InferredType::Gtin {
                bad_check_digits: self.bad_check_digits,
            };
        }
        if let Some(t) = self.date_type(european) {
            return t;
        }
        if self.integer {
            return InferredType::Integer;
        }
        let comma = match (self.saw_point, self.saw_comma) {
            (true, true) => None,
            (false, true) => Some(true),
            (true, false) => Some(false),
            (false, false) => Some(european && self.decimal_comma),
        };
        match comma {
            Some(true) if self.decimal_comma => InferredType::Decimal {
                decimal_comma: true,
                currency: self.currency,
            },
            Some(false) if self.decimal_point => InferredType::Decimal {
                decimal_comma: false,
                currency: self.currency,
            },
            _ => InferredType::Text,
        }
    }

    fn date_type(&self, european: bool) -> Option<InferredType> {
        let alive: Vec<&str> = DATE_FORMATS
            .iter()
            .zip(&self.dates)
            .filter(|(_, a)| **a)
            .map(|(f, _)| *f)
            .collect();
        let first = *alive.first()?;
        let swapped = swap_day_month(first);
        let twin = alive.iter().find(|f| **f == swapped).map(|f| f.to_string());
        let (format, ambiguous_with) = match twin {
            Some(day_first) if european && first.find("%m") < first.find("%d") => (day_first, Some(first.to_string())),
            Some(other) => (first.to_string(), Some(other)),
            None => (first.to_string(), None),
        };
        let timestamp = format.contains("%H") || format.contains("%I");
        Some(if timestamp {
            InferredType::Timestamp { format, ambiguous_with }
        } else {
            InferredType::Date { format, ambiguous_with }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> InferredType {
        infer_in(values, false)
    }

    fn infer_in(values: &[&str], european: bool) -> InferredType {
        let mut p = ColumnProfile::new("c", 0);
        values.iter().for_each(|v| p.observe(v));
        p.finish(european).ty
    }

    fn date(format: &str, ambiguous_with: Option<&str>) -> InferredType {
        InferredType::Date {
            format: format.into(),
            ambiguous_with: ambiguous_with.map(String::from),
        }
    }

    #[test]
    fn month_first_dates_with_two_digit_years() {
        assert_eq!(infer(&["1/23/23", "11/14/22", "", "3/1/23"]), date("%m/%d/%y", None));
    }

    #[test]
    fn day_first_dates_are_settled_by_a_day_above_twelve() {
        assert_eq!(infer(&["01/02/2024", "25/02/2024"]), date("%d/%m/%Y", None));
        assert_eq!(infer(&["01/02/2024", "02/25/2024"]), date("%m/%d/%Y", None));
    }

    #[test]
    fn ambiguous_dates_name_the_other_reading() {
        assert_eq!(infer(&["01/02/2024", "03/04/2024"]), date("%m/%d/%Y", Some("%d/%m/%Y")));
        assert_eq!(
            infer_in(&["01/02/2024", "03/04/2024"], true),
            date("%d/%m/%Y", Some("%m/%d/%Y"))
        );
    }

    #[test]
    fn timestamps_of_the_field() {
        let ts = |f: &str| InferredType::Timestamp {
            format: f.into(),
            ambiguous_with: None,
        };
        assert_eq!(
            infer(&["24/Feb/2021 03:59:34", "01/Mar/2021 11:24:23"]),
            ts("%d/%b/%Y %H:%M:%S")
        );
        assert_eq!(
            infer(&["2024-03-02 01:33:49.802", "2024-03-02 16:25:04"]),
            ts("%Y-%m-%d %H:%M:%S%.f")
        );
        assert_eq!(infer(&["2018-07-05T17:03:00Z"]), ts("%Y-%m-%dT%H:%M:%S%.fZ"));
        assert_eq!(infer(&["2018-07-05T17:03:00+02:00"]), ts("%Y-%m-%dT%H:%M:%S%.f%:z"));
        assert_eq!(infer(&["2024-12-18", "2025-01-01"]), date("%Y-%m-%d", None));
        assert_eq!(infer(&["31.12.2024"]), date("%d.%m.%Y", None));
    }

    #[test]
    fn numbers_that_are_not_dates() {
        assert_eq!(infer(&["20", "200", "5"]), InferredType::Integer);
        assert_eq!(infer(&["3271901481", "-12"]), InferredType::Integer);
        assert_eq!(infer(&["007", "12"]), InferredType::Text, "leading zeros are codes");
    }

    #[test]
    fn decimals_with_point_comma_and_currency() {
        let dec = |decimal_comma, currency| InferredType::Decimal {
            decimal_comma,
            currency,
        };
        assert_eq!(infer(&["2266.13", "1292", ""]), dec(false, false));
        assert_eq!(infer(&["12,50", "1.234,56"]), dec(true, false));
        assert_eq!(infer(&["$1,234.50", "$0.49"]), dec(false, true));
        assert_eq!(infer(&["12,50 €", "3"]), dec(true, true));
        assert_eq!(infer(&["1.2E+3", "0.25"]), dec(false, false));
        assert_eq!(
            infer(&["1,234"]),
            dec(false, false),
            "a lone thousands comma reads as thousands"
        );
        assert_eq!(infer_in(&["1,234"], true), dec(true, false));
        assert_eq!(infer(&["12,50", "1,234.50"]), InferredType::Text, "mixed conventions");
        assert_eq!(infer(&["555 1234"]), InferredType::Text);
    }

    #[test]
    fn booleans_in_their_spellings() {
        assert_eq!(infer(&["TRUE", "FALSE", ""]), InferredType::Boolean);
        assert_eq!(infer(&["Yes", "No"]), InferredType::Boolean);
        assert_eq!(infer(&["Y", "N", "y"]), InferredType::Boolean);
        assert_eq!(infer(&["0", "1"]), InferredType::Integer);
    }

    #[test]
    fn gtins_need_valid_check_digits() {
        assert_eq!(
            infer(&["4006381333931", "036000291452", "00012345600012"]),
            InferredType::Gtin { bad_check_digits: 0 }
        );
        assert_eq!(
            infer(&["4006381333931", "4006381333932"]),
            InferredType::Gtin { bad_check_digits: 1 }
        );
        assert_eq!(infer(&["77061229", "12345678", "87654321"]), InferredType::Integer);
    }

    #[test]
    fn statistics() {
        let mut p = ColumnProfile::new("c", 2);
        for v in ["a", "bb", "a", "", "ccc", "dddd"] {
            p.observe(v);
        }
        let s = p.finish(false);
        assert_eq!((s.empty, s.distinct, s.max_len), (3, 4, 4));
        assert_eq!(s.samples, ["a", "bb", "ccc"]);
        assert_eq!(s.ty, InferredType::Text);
        let mut p = ColumnProfile::new("c", 0);
        (0..DISTINCT_CAP + 5).for_each(|i| p.observe(&format!("v{i}")));
        assert_eq!(p.finish(false).distinct_label(), "1000+");
    }

    #[test]
    fn empty_and_nested() {
        assert_eq!(infer(&["", " "]), InferredType::Empty);
        let mut p = ColumnProfile::new("c", 0);
        p.observe_nested("{\"a\":1}");
        assert_eq!(p.finish(false).ty, InferredType::Nested);
    }
}
