//! Mutations of a seed file's bytes: byte-level damage, line shuffles, header changes and value
//! replacements, each described in words so that a finding says what was done to the input.
//! Everything is driven by one [`Rng`] seeded per case, so a case replays from its seed alone.

use std::fmt::Write as _;

/// SplitMix64: a few lines, good enough to drive mutations, and the same sequence on every
/// machine and toolchain (a crate's generator may change its output between versions, which
/// would break the replay of a printed seed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// True `num` times in `den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// How a seed's bytes are laid out, so that mutations can aim at lines, fields and columns.
#[derive(Clone, Debug)]
pub enum Shape {
    /// Delimited text; `keys` are the header names of the key columns.
    Csv { delimiter: u8, keys: Vec<&'static str> },
    /// Fixed-width text: `skip` banner lines, then columns at (0-based start, length) in bytes.
    FixedWidth { skip: usize, columns: Vec<(usize, usize)> },
    /// A workbook: its sheet's XML is mutated and zipped again (see `workbook.rs`).
    Workbook { sheet: &'static str },
    /// Bytes only.
    Binary,
}

/// Values that conversions must read one way or reject: grouped and locale numbers, dates at
/// the edges, empties, text that looks like something else.
const NUMBERS: &[&str] = &[
    "1,234.50",
    "12,50",
    "1.234,50",
    "1,2,3",
    "1 234,5",
    "1'234.5",
    "(12.00)",
    "12.00-",
    "1e5",
    "1E-30",
    "-0",
    "+5",
    "99999999999999999999999999999",
    "79228162514264337593543950336",
    "0.00000000000000000000000000001",
    "NaN",
    "inf",
    "€ 12,50",
    "$1,000",
    "١٢٣",
    "12.5.6",
    ".5",
    "5.",
    "--1",
    "0x1F",
    " 12 ",
    "1_000",
    "1,000,000",
    "1,00",
    "-9223372036854775809",
    "18446744073709551616",
    "1e400",
    "0,5",
    "1.5",
    "2,5e3",
    "½",
];
const DATES: &[&str] = &[
    "2024-02-30",
    "2024-03-01",
    "2024-02-29",
    "2023-02-29",
    "2024-03-01T23:30:00+01:00",
    "2024-03-01 23:30",
    "2024-03-01T00:30:00-05:00",
    "31/12/2024",
    "12/31/2024",
    "45421",
    "0",
    "60",
    "-1",
    "2958466",
    "99999999999",
    "1.5",
    "9999-12-31",
    "0000-01-01",
    "2024-13-01",
    "24-03-01",
    "14.03.2024",
    "2099-01-01",
    "1/1/1",
    "2024-03-01 24:00",
    "+002024-03-01",
    "45421.99999999",
];
const TEXTS: &[&str] = &[
    "",
    " ",
    "\u{a0}",
    "NULL",
    "\"",
    "a\"b",
    "é",
    "日本語",
    "\u{feff}x",
    "TRUE",
    "no",
    "Y",
    "n/a",
    "-",
    "\\N",
    "=1+1",
    "\u{202e}abc",
    "a|b",
    "a\\|b",
    "Each",
    "BOX",
    "cs",
    "\u{0}",
    "\t",
    "PO-2024-01101",
    "V10006",
];

/// Apply one to four mutations to `bytes`; returns the new bytes and what was done.
pub fn mutate(rng: &mut Rng, bytes: &[u8], shape: &Shape) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let mut said = String::new();
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let what = match shape {
            Shape::Binary | Shape::Workbook { .. } => byte_level(rng, &mut out, b','),
            Shape::Csv { delimiter, keys } => match rng.below(10) {
                0..=2 => byte_level(rng, &mut out, *delimiter),
                3..=4 => line_level(rng, &mut out, 1),
                5 => header_level(rng, &mut out, *delimiter),
                _ => value_level(rng, &mut out, *delimiter, keys),
            },
            Shape::FixedWidth { skip, columns } => match rng.below(4) {
                0 => byte_level(rng, &mut out, b' '),
                1 => line_level(rng, &mut out, *skip),
                _ => column_level(rng, &mut out, *skip, columns),
            },
        };
        if !said.is_empty() {
            said.push_str("; ");
        }
        said.push_str(&what);
    }
    (out, said)
}

fn byte_level(rng: &mut Rng, b: &mut Vec<u8>, delimiter: u8) -> String {
    let at = rng.below(b.len() + 1);
    match rng.below(6) {
        0 if !b.is_empty() => {
            let at = at.min(b.len() - 1);
            let bit = 1u8 << rng.below(8);
            b[at] ^= bit;
            format!("flip bit {bit:#04x} of byte {at}")
        }
        1 => {
            b.truncate(at);
            format!("truncate at byte {at}")
        }
        2 if !b.is_empty() => {
            let len = (1 + rng.below(16)).min(b.len() - at.min(b.len() - 1));
            let at = at.min(b.len() - 1);
            b.drain(at..at + len);
            format!("delete {len} bytes at {at}")
        }
        _ => {
            let high = [0x80 + rng.below(0x80) as u8];
            let tokens: [&[u8]; 11] = [
                b"\"",
                &[delimiter],
                b"\r",
                b"\n",
                b"\r\n",
                b"\0",
                &high,
                b"\xEF\xBB\xBF",
                b"\"\"",
                b"\xFF\xFE",
                b"\\",
            ];
            let t = *rng.pick(&tokens);
            b.splice(at..at, t.iter().copied());
            format!("insert {} at byte {at}", show(t))
        }
    }
}

/// Lines with their terminators, so that joining them gives the bytes back.
fn split_lines(b: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            lines.push(b[start..=i].to_vec());
            start = i + 1;
        }
    }
    if start < b.len() {
        lines.push(b[start..].to_vec());
    }
    lines
}

fn line_level(rng: &mut Rng, b: &mut Vec<u8>, first_data: usize) -> String {
    let mut lines = split_lines(b);
    if lines.len() <= first_data + 1 {
        return byte_level(rng, b, b',');
    }
    let pick = |rng: &mut Rng, n: usize| first_data + rng.below(n - first_data);
    let i = pick(rng, lines.len());
    let j = pick(rng, lines.len());
    let what = match rng.below(7) {
        0 | 1 => {
            let copy = lines[i].clone();
            lines.insert(j, copy);
            format!("duplicate line {} before line {}", i + 1, j + 1)
        }
        2 => {
            lines.swap(i, j);
            format!("swap lines {} and {}", i + 1, j + 1)
        }
        3 => {
            lines.remove(i);
            format!("delete line {}", i + 1)
        }
        4 => {
            lines.insert(j, b"\n".to_vec());
            format!("blank line before line {}", j + 1)
        }
        5 => {
            let cut = rng.below(lines[i].len().max(1));
            lines.truncate(i + 1);
            lines[i].truncate(cut);
            format!("end the file at byte {cut} of line {}", i + 1)
        }
        _ => {
            let endings: [&[u8]; 3] = [b"\r\n", b"\r", b"\n"];
            let ending = *rng.pick(&endings);
            for l in &mut lines {
                while matches!(l.last(), Some(b'\n' | b'\r')) {
                    l.pop();
                }
                l.extend_from_slice(ending);
            }
            format!("every line ending {}", show(ending))
        }
    };
    *b = lines.concat();
    what
}

/// A CSV file as rows of raw fields (quotes kept), split where a delimiter or a line end falls
/// outside quotes: crude on purpose, so that damaged files still give rows to aim at.
struct Table {
    rows: Vec<(Vec<Vec<u8>>, Vec<u8>)>,
}

impl Table {
    fn parse(b: &[u8], delimiter: u8) -> Table {
        let mut rows = Vec::new();
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'"' {
                quoted = !quoted;
                field.push(c);
            } else if !quoted && c == delimiter {
                fields.push(std::mem::take(&mut field));
            } else if !quoted && (c == b'\n' || c == b'\r') {
                let end = if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                    b"\r\n".to_vec()
                } else {
                    vec![c]
                };
                fields.push(std::mem::take(&mut field));
                rows.push((std::mem::take(&mut fields), end));
            } else {
                field.push(c);
            }
            i += 1;
        }
        if !field.is_empty() || !fields.is_empty() {
            fields.push(field);
            rows.push((fields, Vec::new()));
        }
        Table { rows }
    }

    fn bytes(&self, delimiter: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for (fields, end) in &self.rows {
            out.extend_from_slice(&fields.join(&delimiter));
            out.extend_from_slice(end);
        }
        out
    }

    fn column(&self, name: &str) -> Option<usize> {
        let header = &self.rows.first()?.0;
        header
            .iter()
            .position(|h| unquote(h).strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&unquote(h)) == name.as_bytes())
    }
}

fn unquote(f: &[u8]) -> Vec<u8> {
    let inner = f.strip_prefix(b"\"").and_then(|f| f.strip_suffix(b"\"")).unwrap_or(f);
    inner.to_vec()
}

/// A value as a CSV field: quoted when it must be, or (sometimes) raw anyway.
fn field(rng: &mut Rng, value: &[u8], delimiter: u8) -> Vec<u8> {
    let needs = value
        .iter()
        .any(|&c| c == delimiter || c == b'"' || c == b'\n' || c == b'\r');
    if needs && rng.chance(3, 4) {
        let mut f = vec![b'"'];
        for &c in value {
            if c == b'"' {
                f.push(b'"');
            }
            f.push(c);
        }
        f.push(b'"');
        f
    } else {
        value.to_vec()
    }
}

fn header_level(rng: &mut Rng, b: &mut Vec<u8>, delimiter: u8) -> String {
    let mut t = Table::parse(b, delimiter);
    let Some(width) = t.rows.first().map(|r| r.0.len()).filter(|&w| w >= 2) else {
        return byte_level(rng, b, delimiter);
    };
    let i = rng.below(width);
    let j = rng.below(width);
    let what = match rng.below(5) {
        0 => {
            t.rows[0].0[i].clear();
            format!("blank header name {}", i + 1)
        }
        1 => {
            t.rows[0].0[i] = t.rows[0].0[j].clone();
            format!("header name {} repeated as name {}", j + 1, i + 1)
        }
        2 => {
            t.rows[0].0.swap(i, j);
            format!("header names {} and {} swapped (data not)", i + 1, j + 1)
        }
        3 => {
            for (row, _) in &mut t.rows {
                if i < row.len() && j < row.len() {
                    row.swap(i, j);
                }
            }
            format!("columns {} and {} swapped in every row", i + 1, j + 1)
        }
        _ => {
            let name = rng_text(rng);
            let extra = field(rng, name.as_bytes(), delimiter);
            t.rows[0].0.insert(i, extra.clone());
            format!("header gains a column {} at {}", show(&extra), i + 1)
        }
    };
    *b = t.bytes(delimiter);
    what
}

fn rng_text(rng: &mut Rng) -> String {
    rng.pick(TEXTS).to_string()
}

fn value_level(rng: &mut Rng, b: &mut Vec<u8>, delimiter: u8, keys: &[&str]) -> String {
    let mut t = Table::parse(b, delimiter);
    if t.rows.len() < 2 {
        return byte_level(rng, b, delimiter);
    }
    let r = 1 + rng.below(t.rows.len() - 1);
    let other = 1 + rng.below(t.rows.len() - 1);
    let key = keys.first().and_then(|k| t.column(k));
    let what = match rng.below(8) {
        // A key emptied.
        0 if key.is_some_and(|k| k < t.rows[r].0.len()) => {
            let k = key.unwrap_or(0);
            t.rows[r].0[k].clear();
            format!("empty key in line {}", r + 1)
        }
        // Another row's key given to this row, whose other values differ.
        1 if key.is_some() => {
            let mut copied = 0;
            for name in keys {
                if let Some(k) = t.column(name)
                    && k < t.rows[r].0.len()
                    && k < t.rows[other].0.len()
                {
                    t.rows[r].0[k] = t.rows[other].0[k].clone();
                    copied += 1;
                }
            }
            format!(
                "line {} takes the key of line {} ({copied} column(s))",
                r + 1,
                other + 1
            )
        }
        // A row repeated with one value changed.
        2 => {
            let mut copy = t.rows[r].clone();
            if !copy.0.is_empty() {
                let c = rng.below(copy.0.len());
                let value = *rng.pick(NUMBERS);
                copy.0[c] = field(rng, value.as_bytes(), delimiter);
            }
            t.rows.insert(other, copy);
            format!(
                "line {} repeated before line {} with one value changed",
                r + 1,
                other + 1
            )
        }
        // A very long field, sometimes holding delimiters and line breaks.
        3 => {
            let len = 1_000 << rng.below(8);
            let mut v = vec![b'x'; len];
            if rng.chance(1, 2) {
                for _ in 0..8 {
                    let at = rng.below(len);
                    v[at] = *rng.pick(&[delimiter, b'\n', b'"', b'\r']);
                }
            }
            let c = rng.below(t.rows[r].0.len().max(1));
            if let Some(f) = t.rows[r].0.get_mut(c) {
                *f = field(rng, &v, delimiter);
            }
            format!("a field of {len} bytes in line {} column {}", r + 1, c + 1)
        }
        _ => {
            let value = match rng.below(3) {
                0 => rng.pick(NUMBERS),
                1 => rng.pick(DATES),
                _ => rng.pick(TEXTS),
            };
            let c = rng.below(t.rows[r].0.len().max(1));
            if let Some(f) = t.rows[r].0.get_mut(c) {
                *f = field(rng, value.as_bytes(), delimiter);
            }
            format!("value {value:?} in line {} column {}", r + 1, c + 1)
        }
    };
    *b = t.bytes(delimiter);
    what
}

fn column_level(rng: &mut Rng, b: &mut Vec<u8>, skip: usize, columns: &[(usize, usize)]) -> String {
    let mut lines = split_lines(b);
    if lines.len() <= skip || columns.is_empty() {
        return byte_level(rng, b, b' ');
    }
    let i = skip + rng.below(lines.len() - skip);
    let &(start, len) = rng.pick(columns);
    let value = match rng.below(3) {
        0 => rng.pick(NUMBERS),
        1 => rng.pick(DATES),
        _ => rng.pick(TEXTS),
    };
    let line = &mut lines[i];
    let what = if rng.chance(1, 2) {
        // Written over the column, padded or cut to its width: the layout stays.
        let mut v = value.as_bytes().to_vec();
        v.resize(len, b' ');
        let end = (start + len).min(line.len());
        if start <= end {
            line.splice(start..end, v);
        }
        format!("value {value:?} over line {} bytes {start}..{}", i + 1, start + len)
    } else {
        // Inserted: everything after it shifts.
        let at = start.min(line.len());
        line.splice(at..at, value.bytes());
        format!("value {value:?} inserted in line {} at byte {at}", i + 1)
    };
    *b = lines.concat();
    what
}

/// Bytes in words for a finding: printable ASCII as is, the rest escaped.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &c in bytes.iter().take(40) {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(c as char);
        } else {
            let _ = write!(s, "\\x{c:02X}");
        }
    }
    if bytes.len() > 40 {
        let _ = write!(s, "...({} bytes)", bytes.len());
    }
    format!("\"{s}\"")
}
