//! Sniffing a delimited text file from its first bytes: encoding, line endings, delimiter and
//! whether the first row is a header.
//!
//! Only the first [`SNIFF_BYTES`] are looked at; the rows themselves are then read through the
//! CSV source like any job would read them. The encoding is settled first (a byte-order mark, then
//! UTF-16 by its zero bytes, then valid UTF-8, else the legacy code page that decodes the bytes
//! and reads most like text: Windows-1252 or Mac Roman), because the delimiter and header tests need
//! text. The delimiter is the candidate that splits the most rows into the same number of fields as
//! the first row; quotes are honoured by parsing with the csv crate rather than counting characters.

use std::fmt;
use std::io::Read;
use std::path::Path;

use encoding_rs::Encoding;

use super::InspectError;
use super::profile::{ColumnProfile, InferredType};

/// How many bytes of a text file are sniffed.
pub const SNIFF_BYTES: usize = 1 << 20;

/// Delimiters tried, in order of preference on a tie.
const DELIMITERS: &[u8] = b",;\t|";

/// Rows parsed to choose the delimiter and the header.
const SNIFF_ROWS: usize = 50;

/// The encoding a text file is read in, and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEncoding {
    /// Label for the job file (`utf-8`, `windows-1252`, `utf-16le`, ...).
    pub label: String,
    /// The file starts with a byte-order mark.
    pub bom: bool,
    /// Given with `--encoding` rather than detected.
    pub given: bool,
}

impl TextEncoding {
    /// The `encoding` a job's `[source]` needs: none for UTF-8 (with or without BOM).
    pub fn job_label(&self) -> Option<&str> {
        (self.label != "utf-8").then_some(self.label.as_str())
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)?;
        if self.bom {
            f.write_str(" with BOM")?;
        }
        if self.given {
            f.write_str(" (given)")?;
        }
        Ok(())
    }
}

/// Line endings seen in the sniffed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// `\n` (Unix).
    Lf,
    /// `\r\n` (Windows).
    CrLf,
    /// `\r` alone (classic Mac OS, some legacy exports).
    Cr,
    /// More than one kind.
    Mixed,
    /// A single line without a terminator.
    None,
}

impl fmt::Display for LineEnding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineEnding::Lf => "LF",
            LineEnding::CrLf => "CRLF",
            LineEnding::Cr => "CR",
            LineEnding::Mixed => "mixed",
            LineEnding::None => "none",
        })
    }
}

/// What sniffing found out about a delimited text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLayout {
    /// The text encoding.
    pub encoding: TextEncoding,
    /// The field delimiter (`,` `;` tab `|`).
    pub delimiter: u8,
    /// Line endings seen.
    pub line_ending: LineEnding,
    /// The first row names the columns.
    pub header: bool,
}

/// A delimiter as people name it: `','`, `tab`.
pub fn delimiter_label(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        _ => format!("'{}'", d as char),
    }
}

/// Sniff a text file. `encoding` is the `--encoding` label, if given.
pub fn sniff_file(path: &Path, encoding: Option<&str>) -> Result<TextLayout, InspectError> {
    let io = |source| InspectError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(64 * 1024);
    file.take(SNIFF_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    let truncated = bytes.len() > SNIFF_BYTES;
    bytes.truncate(SNIFF_BYTES);
    // An unknown label is reported by the sniffing below; here it only means no declared encoding.
    let declared = encoding.and_then(|l| crate::source::resolve_encoding(Some(l)).ok().flatten());
    if let Some((what, todo)) = crate::source::binary_kind(&bytes, declared) {
        return Err(InspectError::NotText {
            path: path.display().to_string(),
            what,
            todo,
        });
    }
    sniff_bytes(&bytes, truncated, encoding).map_err(|e| match e {
        SniffError::Empty => InspectError::Empty {
            path: path.display().to_string(),
        },
        SniffError::UnknownEncoding(message) => InspectError::UnknownEncoding(format!("--encoding: {message}")),
    })
}

/// Why sniffing failed.
#[derive(Debug, PartialEq, Eq)]
pub enum SniffError {
    /// No text at all (or only white space and a BOM).
    Empty,
    /// The `--encoding` label names no encoding.
    UnknownEncoding(String),
}

/// Sniff the first bytes of a file; `truncated` means the file goes on past them.
pub fn sniff_bytes(bytes: &[u8], truncated: bool, label: Option<&str>) -> Result<TextLayout, SniffError> {
    let (encoding, text) = decode(bytes, label)?;
    if text.trim().is_empty() {
        return Err(SniffError::Empty);
    }
    let line_ending = line_ending(&text);
    let delimiter = delimiter(&text, truncated);
    let rows = parse_rows(&text, delimiter, truncated);
    let header = has_header(&rows);
    Ok(TextLayout {
        encoding,
        delimiter,
        line_ending,
        header,
    })
}

fn decode(bytes: &[u8], label: Option<&str>) -> Result<(TextEncoding, String), SniffError> {
    if let Some(l) = label {
        let resolved = crate::source::resolve_encoding(Some(l)).map_err(SniffError::UnknownEncoding)?;
        let enc = resolved.unwrap_or(encoding_rs::UTF_8);
        let (text, had_bom) = match Encoding::for_bom(bytes) {
            Some((bom_enc, len)) => (bom_enc.decode_without_bom_handling(&bytes[len..]).0, true),
            None => (enc.decode_without_bom_handling(bytes).0, false),
        };
        let label = if resolved.is_none() {
            "utf-8".to_string()
        } else {
            l.trim().to_ascii_lowercase()
        };
        return Ok((
            TextEncoding {
                label,
                bom: had_bom,
                given: true,
            },
            text.into_owned(),
        ));
    }
    let (enc, bom, body): (&'static Encoding, bool, &[u8]) = match Encoding::for_bom(bytes) {
        Some((e, len)) => (e, true, &bytes[len..]),
        None => (detect(bytes), false, bytes),
    };
    let text = enc.decode_without_bom_handling(body).0.into_owned();
    let label = if enc == encoding_rs::UTF_8 {
        "utf-8".to_string()
    } else {
        enc.name().to_ascii_lowercase()
    };
    Ok((
        TextEncoding {
            label,
            bom,
            given: false,
        },
        text,
    ))
}

/// The encoding of bytes without a byte-order mark: UTF-16 by its zero bytes, UTF-8 when the bytes
/// are valid UTF-8, else the legacy code page that decodes them and reads most like text
/// (windows-1252 or Mac Roman; never one that leaves a byte undefined).
fn detect(bytes: &[u8]) -> &'static Encoding {
    if let Some(utf16) = crate::source::looks_utf16(bytes) {
        return utf16;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => encoding_rs::UTF_8,
        // A character cut in two at the end of the sniffed bytes is still UTF-8.
        Err(e) if e.error_len().is_none() => encoding_rs::UTF_8,
        Err(_) => crate::source::legacy_candidates(bytes)
            .first()
            .copied()
            // Mac Roman defines all 256 bytes, so a candidate is always found.
            .unwrap_or(encoding_rs::MACINTOSH),
    }
}

fn line_ending(text: &str) -> LineEnding {
    let bytes = text.as_bytes();
    let (mut lf, mut crlf, mut cr) = (0, 0, 0);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                crlf += 1;
                i += 1;
            }
            b'\r' => cr += 1,
            b'\n' => lf += 1,
            _ => {}
        }
        i += 1;
    }
    match (lf > 0, crlf > 0, cr > 0) {
        (false, false, false) => LineEnding::None,
        (true, false, false) => LineEnding::Lf,
        (false, true, false) => LineEnding::CrLf,
        (false, false, true) => LineEnding::Cr,
        _ => LineEnding::Mixed,
    }
}

/// The first rows split by `delimiter`, honouring quotes; a row cut off by the end of the sniffed
/// bytes is dropped.
fn parse_rows(text: &str, delimiter: u8, truncated: bool) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map_while(Result::ok)
        .filter(|r| !(r.len() == 1 && r[0].is_empty()))
        .take(SNIFF_ROWS + 1)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    if truncated || rows.len() > SNIFF_ROWS {
        rows.pop();
    }
    rows
}

fn delimiter(text: &str, truncated: bool) -> u8 {
    let mut best = (b',', 0.0, 1);
    for &d in DELIMITERS {
        let rows = parse_rows(text, d, truncated);
        let Some(first) = rows.first().map(Vec::len) else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let same = rows.iter().filter(|r| r.len() == first).count() as f64 / rows.len() as f64;
        if same > best.1 || (same == best.1 && first > best.2) {
            best = (d, same, first);
        }
    }
    best.0
}

/// A first row of text names over columns whose other values are numbers or dates is a header;
/// a first row holding a number or a date is data. When every value is text, the first row is a
/// header unless it has an empty cell or a value that comes back lower in its column.
fn has_header(rows: &[Vec<String>]) -> bool {
    let Some((first, rest)) = rows.split_first() else {
        return true;
    };
    let typed = |ty: &InferredType| !matches!(ty, InferredType::Text | InferredType::Empty | InferredType::Nested);
    let cell_is_typed = |v: &str| {
        let mut p = ColumnProfile::new("", 0);
        p.observe(v);
        let ty = p.finish(false).ty;
        typed(&ty) && ty != InferredType::Boolean
    };
    if first.iter().any(|v| cell_is_typed(v)) {
        return false;
    }
    let mut later_typed = false;
    let mut repeated = false;
    for (i, name) in first.iter().enumerate() {
        let mut p = ColumnProfile::new("", 0);
        for row in rest {
            if let Some(v) = row.get(i) {
                p.observe(v);
                repeated |= !name.trim().is_empty() && v.trim() == name.trim();
            }
        }
        later_typed |= typed(&p.finish(false).ty);
    }
    if later_typed {
        return true;
    }
    !repeated && first.iter().all(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(bytes: &[u8]) -> TextLayout {
        sniff_bytes(bytes, false, None).unwrap()
    }

    #[test]
    fn encodings_by_bom_bytes_and_label() {
        let utf8_bom = sniff(b"\xEF\xBB\xBFName,Cost\nA,1\n");
        assert_eq!(
            utf8_bom.encoding,
            TextEncoding {
                label: "utf-8".into(),
                bom: true,
                given: false
            }
        );
        assert_eq!(utf8_bom.encoding.job_label(), None);
        assert_eq!(sniff("Caf\u{e9},1\n".as_bytes()).encoding.label, "utf-8");
        assert_eq!(sniff(b"Unit;Cost\n\xB0C;1,5\n").encoding.label, "windows-1252");
        let utf16: Vec<u8> = "Name,Cost\nA,1\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(sniff(&utf16).encoding.label, "utf-16le");
        let with_bom = [&[0xFF, 0xFE][..], &utf16].concat();
        let layout = sniff(&with_bom);
        assert_eq!(
            (layout.encoding.label.as_str(), layout.encoding.bom),
            ("utf-16le", true)
        );
        assert_eq!(layout.delimiter, b',');
        let given = sniff_bytes(b"a;b\n", false, Some("latin1")).unwrap();
        assert_eq!(
            given.encoding,
            TextEncoding {
                label: "latin1".into(),
                bom: false,
                given: true
            }
        );
        assert!(matches!(
            sniff_bytes(b"a,b\n", false, Some("klingon")),
            Err(SniffError::UnknownEncoding(_))
        ));
    }

    #[test]
    fn a_character_cut_at_the_end_is_still_utf8() {
        let text = "Name\nCaf\u{e9}".as_bytes();
        assert_eq!(
            sniff_bytes(&text[..text.len() - 1], true, None).unwrap().encoding.label,
            "utf-8"
        );
    }

    #[test]
    fn empty_files() {
        assert_eq!(sniff_bytes(b"", false, None), Err(SniffError::Empty));
        assert_eq!(sniff_bytes(b"\xEF\xBB\xBF\r\n \n", false, None), Err(SniffError::Empty));
    }

    #[test]
    fn line_endings() {
        assert_eq!(sniff(b"a,b\n1,2\n").line_ending, LineEnding::Lf);
        assert_eq!(sniff(b"a,b\r\n1,2\r\n").line_ending, LineEnding::CrLf);
        assert_eq!(sniff(b"a,b\r1,2\r").line_ending, LineEnding::Cr);
        assert_eq!(sniff(b"a,b\r\n1,2\n").line_ending, LineEnding::Mixed);
        assert_eq!(sniff(b"a,b").line_ending, LineEnding::None);
    }

    #[test]
    fn delimiters_by_consistent_field_counts() {
        assert_eq!(
            sniff(b"Item;Price;Date\nA;1,50;01.02.2024\nB;2,75;03.02.2024\n").delimiter,
            b';'
        );
        assert_eq!(sniff(b"a\tb\tc\n1\t2, 3\t4\n").delimiter, b'\t');
        assert_eq!(sniff(b"a|b\n1|2\n").delimiter, b'|');
        assert_eq!(sniff(b"Name,Maker\n\"Doyle, Kunde\",Berge\n").delimiter, b',');
        assert_eq!(sniff(b"only\none\n").delimiter, b',');
    }

    #[test]
    fn header_rows() {
        assert!(sniff(b"Code,Cost\nA1,1.50\nB2,2\n").header);
        assert!(!sniff(b"A1,1.50\nB2,2\n").header, "a number in the first row is data");
        assert!(
            sniff(b"name,city\nPeace River,Airdrie\nCalgary,Iwanai\n").header,
            "all text: a header"
        );
        assert!(
            !sniff(b"Main,Depot\nCold room,Depot\n").header,
            "a value that repeats is data"
        );
        assert!(!sniff(b"x,,z\na,b,c\n").header, "an empty name is data");
        assert!(!sniff(b"QX039,Morphine,2021-02-24\nTS894,Ampoule,2021-03-01\n").header);
    }
}
