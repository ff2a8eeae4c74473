//! Number formats: when the number Excel shows through a cell's format is not the one the cell
//! stores, the cell reads two ways, and loading either reading would be a guess.
//!
//! A format has up to four sections (positive; negative; zero; text). Most show a number as it
//! is, with a currency sign, thousands separators and as many decimals as it has. Some make a
//! person read more than the number: zero padding (`00000` shows 123 as `00123`) and text
//! (`"PO-"0000` shows 45 as `PO-0045`). Others make a person read another number: fewer
//! decimals than the number has (`0` shows 2.6 as `3`), scaling commas (`#,##0,` shows 1234567
//! as `1,235`), a negative section without a minus sign (`0;[Red]0` shows -5 as `5`), an empty
//! section (`;;;` shows 42 as nothing). A percent format shows 0.15 as `15%`, read as the stored
//! 0.15 (a documented rule), unless it rounds: `0%` shows 0.155 as `16%`. Fractions (`# ?/?`),
//! `General`, dates and formats with `[>100]` conditions are not judged here beyond padding and
//! text.

use super::cell::{STORE_AS_TEXT, TwoReadings, number_text};
use super::decimal::Decimal;

/// What to do about a number its format shows rounded, scaled, without its sign or not at all.
const SHOW_AS_STORED: &str = "change the cells' number format in the workbook to one that shows the number as \
                              stored (General), or export the column as text";

/// Excel keeps a format code to 255 characters and shows at most 30 decimals. A crafted code
/// can be far longer; past these bounds the reading differs anyway, and a message drawing a
/// number through thousands of `%` or `0` would be as long.
const MAX_CODE: usize = 255;
const MAX_DECIMALS: usize = 30;
/// At most this many `%` signs or scaling commas are counted.
const MAX_TIMES: u32 = 4;

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
    /// `General` or `@`: the number as it is.
    general: bool,
    /// A decimal point.
    point: bool,
    /// Digit placeholders after the point (of the mantissa, in scientific notation).
    decimals: usize,
    /// Of those, the `0`s, which show a digit even where the number has none.
    zero_decimals: usize,
    /// A comma between the placeholders of the whole part: thousands separators.
    thousands: bool,
    /// Commas after the last placeholder of the whole part or of the decimals: each divides
    /// the number by 1000.
    scaling: u32,
    /// `%` signs: each multiplies the number by 100.
    percent: u32,
    /// Scientific notation (`0.00E+00`): how many exponent placeholders, and whether `E+`
    /// shows the sign of a positive exponent.
    exponent: Option<(usize, bool)>,
    /// A `-` or `(` in the literal text: a negative section showing its sign.
    sign: bool,
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
    /// The format, when it can show a number otherwise than as it is stored; `None` for
    /// `General`, `@` and dates.
    pub(super) fn parse(code: &str) -> Option<NumberFormat> {
        let sections: Vec<Section> = split_sections(code).iter().take(3).map(|s| section(s)).collect();
        let matters = sections.iter().any(|s| !s.date && (!s.general || !s.parts.is_empty()));
        matters.then(|| NumberFormat {
            code: code.to_string(),
            sections,
        })
    }

    /// Why `f` reads two ways under this format, and what to do about it: Excel shows it
    /// padded with zeros or with text a person reads as part of it, or shows another number.
    pub(super) fn check(&self, f: f64) -> Option<TwoReadings> {
        let number = number_text(f).unwrap_or_else(|two| two.stored);
        let reading = |shown: &str, fix| TwoReadings {
            why: format!(
                "holds the number {number}, which Excel shows{shown} through its number format {:?}",
                self.shown_code()
            ),
            stored: number.clone(),
            fix,
        };
        // With conditions, which section applies is theirs to say: any that decorates counts.
        let conditional = self.sections.iter().any(|s| s.conditional);
        let at = match (self.sections.len(), f) {
            (n, f) if f < 0.0 && n >= 2 => 1,
            (n, f) if f == 0.0 && n >= 3 => 2,
            _ => 0,
        };
        if let Some((_, section)) = self
            .sections
            .iter()
            .enumerate()
            .find(|&(i, s)| (conditional || i == at) && !s.date && decorates(s, f))
        {
            let shown = if section.numeric || conditional {
                String::new()
            } else {
                // Without a section of its own, a negative number is its positive one with a minus.
                format!(" as {:?}", draw(section, f.abs().round(), f < 0.0 && at == 0))
            };
            return Some(reading(&shown, STORE_AS_TEXT));
        }
        if conditional {
            return None;
        }
        let section = self.sections.get(at)?;
        if section.hidden() {
            return Some(reading(" as blank", SHOW_AS_STORED));
        }
        if section.date || section.general || section.fraction {
            return None;
        }
        let how = section.another_number(&Decimal::parse(&number), f < 0.0 && at == 1)?;
        let shown = format!(" {} as {:?}", how.0, section.render(&how.1, f < 0.0 && at == 0));
        Some(reading(&shown, SHOW_AS_STORED))
    }
}

impl NumberFormat {
    /// The code as a message names it: its first [`MAX_CODE`] characters.
    fn shown_code(&self) -> String {
        match self.code.char_indices().nth(MAX_CODE) {
            Some((at, _)) => format!("{}...", &self.code[..at]),
            None => self.code.clone(),
        }
    }
}

impl Section {
    /// A section with nothing to show (`;;;`, or only a colour): the number is hidden.
    fn hidden(&self) -> bool {
        self.parts.is_empty() && !self.numeric && !self.date && !self.general
    }

    /// How this section makes a person read another number than `stored` (its digits, without
    /// sign), in words, and the number shown; `None` when it shows the stored number.
    /// `negative` is set when this is the negative section and the number is negative.
    fn another_number(&self, stored: &Decimal, negative: bool) -> Option<(String, Decimal)> {
        // Percent reads as stored: 15% is 0.15. Scaling commas do not: 1,235 is not 1234567.
        let percent = 2 * i32::try_from(self.percent).unwrap_or(i32::MAX / 4);
        let scaling = 3 * i32::try_from(self.scaling).unwrap_or(i32::MAX / 4);
        let scaled = stored.shift(percent.saturating_sub(scaling));
        let shown = match self.exponent {
            // One placeholder before the point: the mantissa shows 1 + decimals digits. With
            // more (engineering notation, `##0.0E+0`) the count depends on the exponent.
            Some(_) if self.placeholders() == 1 => scaled.keep(1 + self.decimals),
            Some(_) => scaled.clone(),
            None => scaled.round(self.decimals),
        };
        let mut how = Vec::new();
        if self.scaling > 0 && !stored.is_zero() {
            how.push(match self.scaling {
                1 => "in thousands".to_string(),
                2 => "in millions".to_string(),
                n => format!("divided by 10^{}", u64::from(n) * 3),
            });
        }
        if shown != scaled {
            how.push(match (self.exponent, self.decimals) {
                (Some(_), n) => format!("rounded to {} significant digits", n + 1),
                (None, 0) => "rounded to a whole number".to_string(),
                (None, 1) => "rounded to 1 decimal".to_string(),
                (None, n) => format!("rounded to {n} decimals"),
            });
        }
        if negative && !self.sign {
            how.push("without its minus sign".to_string());
        }
        let how = match how.as_slice() {
            [] => return None,
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        };
        Some((how, shown))
    }

    /// Digit placeholders before the point.
    fn placeholders(&self) -> usize {
        self.parts.iter().filter(|p| matches!(p, Part::Digit(_))).count()
    }

    /// The text Excel shows for `value` (rounded and scaled already) through this section:
    /// literal text around the number, zero padding, thousands separators, decimals, percent.
    fn render(&self, value: &Decimal, minus: bool) -> String {
        let first = self.parts.iter().position(|p| matches!(p, Part::Digit(_)));
        let literals = |parts: &[Part]| {
            parts
                .iter()
                .filter_map(|p| match p {
                    Part::Literal(text) => Some(text.as_str()),
                    Part::Digit(_) => None,
                })
                .collect::<String>()
        };
        let split = first.unwrap_or(self.parts.len());
        let mut out = String::from(if minus { "-" } else { "" });
        out.push_str(&literals(&self.parts[..split]));
        let zeros = self
            .parts
            .iter()
            .filter(|p| **p == Part::Digit('0'))
            .count()
            .min(MAX_CODE);
        match self.exponent {
            Some((width, plus)) => {
                let (digits, power) = value.scientific();
                let mut digits = digits.chars();
                out.push(digits.next().unwrap_or('0'));
                if self.point {
                    out.push('.');
                    out.push_str(&format!("{:0<width$}", digits.as_str(), width = self.zero_decimals));
                }
                let sign = if power < 0 {
                    "-"
                } else if plus {
                    "+"
                } else {
                    ""
                };
                out.push_str(&format!("E{sign}{:0width$}", power.unsigned_abs()));
            }
            None => {
                let whole = value.whole();
                let whole = if whole == "0" && zeros == 0 {
                    String::new()
                } else {
                    format!("{whole:0>zeros$}")
                };
                out.push_str(&if self.thousands { grouped(&whole) } else { whole });
                if self.point {
                    out.push('.');
                    out.push_str(&format!("{:0<width$}", value.fraction(), width = self.zero_decimals));
                }
            }
        }
        out.push_str(&"%".repeat(self.percent as usize));
        out.push_str(&literals(&self.parts[split..]));
        out
    }
}

/// Digits with a comma between groups of three, from the right.
fn grouped(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    // Commas after a placeholder, not yet known to separate thousands or to scale.
    let mut commas = 0u32;
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
            '0' | '#' | '?' => {
                if let Some((width, _)) = s.exponent.as_mut() {
                    *width += 1;
                } else if s.fraction {
                    // A denominator.
                } else if after_point {
                    s.decimals += 1;
                    s.zero_decimals += usize::from(c == '0');
                    commas = 0;
                } else {
                    // A comma with placeholders on both sides separates thousands.
                    s.thousands |= commas > 0;
                    commas = 0;
                    s.parts.push(Part::Digit(c));
                }
            }
            '.' | '%' | ',' | '/' => {
                let placeholders = s.parts.iter().any(|p| matches!(p, Part::Digit(_)));
                if c == '/' && !placeholders {
                    literal(&mut s, "/");
                } else {
                    s.numeric = true;
                    s.fraction |= c == '/';
                    match c {
                        ',' if placeholders || after_point => commas += 1,
                        '.' if !after_point => {
                            s.point = true;
                            s.scaling += std::mem::take(&mut commas);
                        }
                        '%' => s.percent += 1,
                        _ => {}
                    }
                    after_point |= c == '.' || c == '/';
                }
            }
            'E' | 'e' if matches!(chars.peek(), Some('+' | '-')) => {
                let plus = chars.next() == Some('+');
                s.numeric = true;
                s.exponent = Some((0, plus));
                s.scaling += std::mem::take(&mut commas);
                after_point = true;
            }
            'G' | 'g' => {
                let rest: String = chars.clone().take(6).collect();
                if rest.eq_ignore_ascii_case("eneral") {
                    chars.nth(5);
                    s.numeric = true;
                    s.general = true;
                } else {
                    literal(&mut s, &c.to_string());
                }
            }
            'y' | 'Y' | 'm' | 'M' | 'd' | 'D' | 'h' | 'H' | 's' | 'S' => s.date = true,
            'A' | 'a' if matches!(chars.peek(), Some('/' | 'M' | 'm')) => s.date = true,
            '@' => s.general = true,
            _ => literal(&mut s, &c.to_string()),
        }
    }
    // Commas after the last placeholder, whole part or decimals, scale.
    if !s.fraction {
        s.scaling += commas;
    }
    s.scaling = s.scaling.min(MAX_TIMES);
    s.percent = s.percent.min(MAX_TIMES);
    s.decimals = s.decimals.min(MAX_DECIMALS);
    s.zero_decimals = s.zero_decimals.min(MAX_DECIMALS);
    if let Some((width, _)) = s.exponent.as_mut() {
        *width = (*width).min(MAX_CODE);
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
    s.sign = s.parts.iter().any(|p| match p {
        Part::Literal(text) => text.contains(['-', '(', '\u{2212}']),
        Part::Digit(_) => false,
    });
    s
}

#[cfg(test)]
#[path = "excel_format_tests.rs"]
mod tests;
