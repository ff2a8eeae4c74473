//! Number formats: when the number Excel shows through a cell's format is not the one the cell
//! stores. Zero padding (`00000` shows 123 as `00123`) and text (`"PO-"0000` shows 45 as
//! `PO-0045`) make a person read more than the number; such a cell reads two ways.

use super::cell::number_text;

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

#[cfg(test)]
mod tests {
    use super::*;

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
