//! Decimal digits of a number, rounded as Excel rounds what it shows: half away from zero, on
//! the 15 significant digits it reads a cell as, never on the binary double (where 2.675 is
//! 2.67499999... and would round down).

/// A number of no sign as its decimal digits: `digits` × 10^`exp`, with no leading or trailing
/// zero in `digits` (none at all for zero). Rounding the digits a cell holds, rather than the
/// binary double, rounds 2.5 and 0.125 as Excel does: half away from zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    digits: Vec<u8>,
    exp: i32,
}

impl Decimal {
    /// From a number's text as `number_text` writes it (`-12345.6`, `0.000125`, `1200`);
    /// the sign is dropped.
    pub(super) fn parse(text: &str) -> Decimal {
        let text = text.trim_start_matches('-');
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = whole
            .bytes()
            .chain(fraction.bytes())
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let exp = -i32::try_from(fraction.len()).unwrap_or(i32::MAX);
        Decimal { digits, exp }.normalized()
    }

    fn normalized(mut self) -> Decimal {
        let leading = self.digits.iter().take_while(|&&d| d == 0).count();
        self.digits.drain(..leading);
        while self.digits.last() == Some(&0) {
            self.digits.pop();
            self.exp = self.exp.saturating_add(1);
        }
        if self.digits.is_empty() {
            self.exp = 0;
        }
        self
    }

    pub(super) fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Times 10^`by`.
    pub(super) fn shift(&self, by: i32) -> Decimal {
        if self.is_zero() {
            return self.clone();
        }
        Decimal {
            digits: self.digits.clone(),
            exp: self.exp.saturating_add(by),
        }
    }

    /// Rounded half away from zero to its first `n` digits.
    pub(super) fn keep(&self, n: usize) -> Decimal {
        let Some(&next) = self.digits.get(n) else {
            return self.clone();
        };
        let dropped = i32::try_from(self.digits.len() - n).unwrap_or(i32::MAX);
        let mut digits = self.digits[..n].to_vec();
        if next >= 5 {
            let nines = digits.iter().rev().take_while(|&&d| d == 9).count();
            let kept = digits.len() - nines;
            digits.truncate(kept);
            match digits.last_mut() {
                Some(d) => *d += 1,
                None => digits.push(1),
            }
            // The nines carried over are trailing zeros: part of the power of ten.
            return Decimal {
                digits,
                exp: self.exp.saturating_add(dropped).saturating_add(nines as i32),
            }
            .normalized();
        }
        Decimal {
            digits,
            exp: self.exp.saturating_add(dropped),
        }
        .normalized()
    }

    /// Rounded half away from zero to `decimals` digits after the point.
    pub(super) fn round(&self, decimals: usize) -> Decimal {
        let decimals = i32::try_from(decimals).unwrap_or(i32::MAX);
        let after = self.exp.saturating_neg();
        if after <= decimals {
            return self.clone();
        }
        let len = i32::try_from(self.digits.len()).unwrap_or(i32::MAX);
        match len.checked_sub(after - decimals) {
            // Every digit is past the rounding place, the first one just past it or further.
            Some(n) if n >= 0 => self.keep(n as usize),
            _ => Decimal {
                digits: Vec::new(),
                exp: 0,
            },
        }
    }

    /// The digits before the point (`0` when none).
    pub(super) fn whole(&self) -> String {
        let len = i32::try_from(self.digits.len()).unwrap_or(i32::MAX);
        let text = |d: &[u8]| d.iter().map(|d| char::from(b'0' + d)).collect::<String>();
        if self.is_zero() || len.saturating_add(self.exp) <= 0 {
            "0".into()
        } else if self.exp >= 0 {
            format!("{}{}", text(&self.digits), "0".repeat(self.exp as usize))
        } else {
            text(&self.digits[..(len + self.exp) as usize])
        }
    }

    /// The digits after the point, without trailing zeros.
    pub(super) fn fraction(&self) -> String {
        if self.exp >= 0 {
            return String::new();
        }
        let after = self.exp.unsigned_abs() as usize;
        let shown = &self.digits[self.digits.len().saturating_sub(after)..];
        let text: String = shown.iter().map(|d| char::from(b'0' + d)).collect();
        format!("{text:0>after$}")
    }

    /// The digits and the power of ten of the first one: 1234.5 is (`12345`, 3).
    pub(super) fn scientific(&self) -> (String, i32) {
        if self.is_zero() {
            return ("0".into(), 0);
        }
        let len = i32::try_from(self.digits.len()).unwrap_or(i32::MAX);
        let digits = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        (digits, self.exp.saturating_add(len - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_away_from_zero() {
        let d = |t: &str| Decimal::parse(t);
        assert_eq!(d("12345.6").round(0), d("12346"));
        assert_eq!(d("99.95").round(1), d("100"));
        assert_eq!(d("0.6").round(0), d("1"));
        assert_eq!(d("0.4").round(0), d("0"));
        assert_eq!(d("0.004").round(1), d("0"));
        assert_eq!(d("0.05").round(1), d("0.1"));
        assert_eq!(d("1200").round(0), d("1200"));
        assert_eq!(d("1234567").shift(-3).round(0), d("1235"));
        assert_eq!(d("99999").keep(3), d("100000"));
        assert_eq!(d("0.000125").keep(2), d("0.00013"));
        assert_eq!(d("1200").whole(), "1200");
        assert_eq!(d("0.05").whole(), "0");
        assert_eq!(d("0.05").fraction(), "05");
        assert_eq!(d("12.5").scientific(), ("125".into(), 1));
    }
}
