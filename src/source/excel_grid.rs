//! Cell references checked before calamine reads an xlsx sheet. calamine 0.38 adds up the
//! letters and digits of a reference (`<c r="B7">`, `<row r="7">`, `<dimension ref="A1:M34">`)
//! in a `u32` with no bound (tafia/calamine#694): in a debug build a long one panics, in a release
//! build it wraps and the cell is placed where the file never put it — a value loaded into the
//! wrong row with no word said. Excel's grid ends at XFD1048576, so a reference past it is a
//! damaged or crafted workbook, refused here naming the part and the reference.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The last column (XFD) and row of an Excel sheet.
const MAX_COLUMN: u64 = 16_384;
const MAX_ROW: u64 = 1_048_576;

/// Refuse an xlsx whose worksheets hold a cell reference beyond the grid.
pub(super) fn check_references(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        let name = entry.name().map_err(|e| e.to_string())?.into_owned();
        if !(name.starts_with("xl/worksheets/") && name.ends_with(".xml")) {
            continue;
        }
        if let Some(reference) = first_beyond_grid(&mut entry).map_err(|e| format!("{name}: {e}"))? {
            return Err(format!(
                "{name}: the cell reference {reference:?} lies beyond the last cell of a sheet (XFD1048576): a \
                 damaged or crafted workbook; open it in a spreadsheet and save it again, or export CSV"
            ));
        }
    }
    Ok(())
}

/// The first cell reference in `xml` naming a place beyond the grid, streamed. A reference is the
/// value of an attribute named exactly `r` on a `<c>` or `<row>` element, or exactly `ref` on any
/// element (`<dimension>`, `<f>`, `<mergeCell>`, `<hyperlink>`: the places calamine reads one;
/// SpreadsheetML gives every `ref` that type). Elements count by their local name (`<x:c>` is a
/// cell), attributes by their whole name, as calamine reads them: `xmlns:r` (the relationships
/// namespace every real workbook declares on `<worksheet>`) and `x:r` are other attributes.
/// Text, comments, CDATA sections and processing instructions hold no references.
fn first_beyond_grid(xml: &mut impl Read) -> std::io::Result<Option<String>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut scan = Scan::default();
    loop {
        let n = xml.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        for &b in &buf[..n] {
            if let Some(reference) = scan.push(b) {
                return Ok(Some(String::from_utf8_lossy(&reference).into_owned()));
            }
        }
    }
}

/// Where the scanner is in the XML.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between tags.
    #[default]
    Text,
    /// Just after `<`.
    Open,
    /// In `<!`, deciding between a comment, a CDATA section and a declaration.
    Bang,
    /// Inside `<!-- ... -->`, `<![CDATA[ ... ]]>` or `<? ... ?>`, until the closing bytes.
    Skip(&'static [u8]),
    /// The element's name.
    Name,
    /// Between attributes.
    Tag,
    /// An attribute's name.
    Attribute,
    /// After an attribute's name, before `=`.
    BeforeEq,
    /// After `=`, before the quote.
    BeforeValue,
    /// Inside a value quoted with this byte.
    Value(u8),
}

/// Longest element or attribute name kept: enough for `mergeCell`, and a prefix.
const NAME_MAX: usize = 32;
/// Longest reference kept: past 64 bytes it is beyond the grid whatever follows.
const REFERENCE_MAX: usize = 64;

/// A byte-at-a-time reader of just enough XML to find the references calamine reads.
#[derive(Debug, Default)]
struct Scan {
    at: At,
    /// The local name of the element (after any prefix), or the bytes after `<!`.
    element: Vec<u8>,
    attribute: Vec<u8>,
    /// The value being read, when it is a reference.
    reference: Option<Vec<u8>>,
    /// The last bytes of a skipped part, to find its closing sequence.
    last: [u8; 3],
}

impl Scan {
    /// Take one byte; the reference just closed, when it lies beyond the grid.
    fn push(&mut self, b: u8) -> Option<Vec<u8>> {
        let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match self.at {
            At::Text => {
                if b == b'<' {
                    self.at = At::Open;
                }
            }
            At::Open => {
                self.element.clear();
                self.at = match b {
                    b'!' => At::Bang,
                    b'?' => self.skip(b"?>"),
                    b'>' => At::Text,
                    // An end tag carries no attributes; reading it as a tag is harmless.
                    b'/' => At::Name,
                    _ => {
                        self.element.push(b);
                        At::Name
                    }
                };
            }
            At::Bang => {
                self.element.push(b);
                if self.element == b"--" {
                    self.at = self.skip(b"-->");
                } else if self.element == b"[CDATA[" {
                    self.at = self.skip(b"]]>");
                } else if !(b"--".starts_with(&self.element) || b"[CDATA[".starts_with(&self.element)) {
                    // A declaration (`<!DOCTYPE ...>`): read as a tag, so its quotes are honoured.
                    self.element.clear();
                    self.at = if b == b'>' { At::Text } else { At::Tag };
                }
            }
            At::Skip(end) => {
                self.last = [self.last[1], self.last[2], b];
                if self.last.ends_with(end) {
                    self.at = At::Text;
                }
            }
            At::Name => match b {
                b'>' => self.at = At::Text,
                b':' => self.element.clear(),
                _ if space || b == b'/' => self.at = At::Tag,
                _ => {
                    if self.element.len() < NAME_MAX {
                        self.element.push(b);
                    }
                }
            },
            At::Tag => match b {
                b'>' => self.at = At::Text,
                b'/' => {}
                _ if space => {}
                _ => {
                    self.attribute.clear();
                    self.attribute.push(b);
                    self.at = if b == b'=' { At::BeforeValue } else { At::Attribute };
                }
            },
            At::Attribute => match b {
                b'=' => self.at = At::BeforeValue,
                b'>' => self.at = At::Text,
                _ if space => self.at = At::BeforeEq,
                _ => {
                    if self.attribute.len() < NAME_MAX {
                        self.attribute.push(b);
                    } else {
                        // Longer than any name that matters: make sure it matches none.
                        self.attribute[0] = b':';
                    }
                }
            },
            At::BeforeEq => match b {
                b'=' => self.at = At::BeforeValue,
                b'>' => self.at = At::Text,
                _ if space => {}
                // A name without a value: malformed; read on from the next name.
                _ => {
                    self.attribute.clear();
                    self.attribute.push(b);
                    self.at = At::Attribute;
                }
            },
            At::BeforeValue => match b {
                b'"' | b'\'' => {
                    let is_reference = match self.attribute.as_slice() {
                        b"r" => matches!(self.element.as_slice(), b"c" | b"row"),
                        b"ref" => true,
                        _ => false,
                    };
                    self.reference = is_reference.then(Vec::new);
                    self.at = At::Value(b);
                }
                b'>' => self.at = At::Text,
                _ if space => {}
                _ => self.at = At::Tag,
            },
            At::Value(quote) => {
                if b == quote {
                    self.at = At::Tag;
                    if let Some(r) = self.reference.take()
                        && beyond_grid(&r)
                    {
                        return Some(r);
                    }
                } else if let Some(r) = self.reference.as_mut()
                    && r.len() <= REFERENCE_MAX
                {
                    r.push(b);
                }
            }
        }
        None
    }

    fn skip(&mut self, end: &'static [u8]) -> At {
        self.last = [0; 3];
        At::Skip(end)
    }
}

/// Whether a reference (`B7`, `$B$7`, `7`, `A1:M34`) names a column or row past the grid. Only
/// the leading letters and digits of each part count: they are what calamine adds up.
fn beyond_grid(reference: &[u8]) -> bool {
    reference.split(|&c| c == b':').any(|part| {
        let part: Vec<u8> = part.iter().copied().filter(|&c| c != b'$').collect();
        let letters = part.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        let digits = part[letters..].iter().take_while(|c| c.is_ascii_digit()).count();
        let column = part[..letters].iter().try_fold(0u64, |n, c| {
            let v = n * 26 + u64::from(c.to_ascii_uppercase() - b'A') + 1;
            (v <= MAX_COLUMN).then_some(v)
        });
        let row = part[letters..letters + digits].iter().try_fold(0u64, |n, c| {
            let v = n * 10 + u64::from(c - b'0');
            (v <= MAX_ROW).then_some(v)
        });
        column.is_none() || row.is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(xml: &str) -> Option<String> {
        first_beyond_grid(&mut xml.as_bytes()).unwrap()
    }

    #[test]
    fn references_inside_the_grid_pass() {
        for r in ["A1", "XFD1048576", "$B$7", "A1:M34", "7", "1048576", "xfd1"] {
            assert!(!beyond_grid(r.as_bytes()), "{r}");
        }
        let xml =
            r#"<worksheet><dimension ref="A1:M34"/><row r="3"><c r="XFD1048576" t="n"><v>1</v></c></row></worksheet>"#;
        assert_eq!(found(xml), None);
    }

    #[test]
    fn references_past_the_grid_or_past_u32_are_found() {
        for r in [
            "XFE1",
            "A1048577",
            "A99999999999",
            "AAAAAAA1",
            "A1:ZZZZZZZ1",
            "1048577",
            "A4294967299",
        ] {
            assert!(beyond_grid(r.as_bytes()), "{r}");
        }
        assert_eq!(
            found(r#"<row r="3"><c r="A4294967299"><v>1</v></c></row>"#).as_deref(),
            Some("A4294967299")
        );
        assert_eq!(found(r#"<row r='99999999999'>"#).as_deref(), Some("99999999999"));
        assert_eq!(
            found("<dimension\n ref=\"A1:AAAAAAAA9\"/>").as_deref(),
            Some("A1:AAAAAAAA9")
        );
    }

    #[test]
    fn other_attributes_and_text_are_not_references() {
        let xml = r#"<c r="A1" s="1" t="inlineStr"><is><t>x r="A99999999999" ref="XFE1"</t></is></c><selection sqref="A99999999999"/><c s="r=" t='ref='/><x:c x:r="B2"/>"#;
        assert_eq!(found(xml), None);
        assert_eq!(found("<c\tr = \"A99999999999\"/>").as_deref(), Some("A99999999999"));
    }

    #[test]
    fn the_r_namespace_declaration_on_the_worksheet_is_no_cell_reference() {
        // Excel, openpyxl and xlsxwriter all declare `xmlns:r` on `<worksheet>`; its value
        // ("http...") was read as a reference past column XFD and every such workbook refused.
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><dimension ref="A1:B2"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData><hyperlinks><hyperlink ref="B2" r:id="rId1"/></hyperlinks></worksheet>"#;
        assert_eq!(found(xml), None);
        // Only the attribute named exactly `r` of a cell or row, as calamine reads it.
        assert_eq!(found(r#"<c t:r="ZZZZZZZ1" r="A1"/><row xr:r="99999999999"/>"#), None);
        assert_eq!(
            found(r#"<pageSetup r="ZZZZZZZ1"/><col min="1" r="99999999999"/>"#),
            None
        );
        // A prefixed element is still a cell: calamine matches elements by local name.
        assert_eq!(found(r#"<x:c r="A99999999999"/>"#).as_deref(), Some("A99999999999"));
        assert_eq!(found(r#"<x:row r='99999999999'>"#).as_deref(), Some("99999999999"));
        assert_eq!(found(r#"<mergeCell ref="A1:XFE2"/>"#).as_deref(), Some("A1:XFE2"));
    }

    #[test]
    fn comments_cdata_and_instructions_hide_no_reference_and_make_none() {
        assert_eq!(found(r#"<!-- <c r="A99999999999"> --><c r="A1"/>"#), None);
        assert_eq!(found(r#"<![CDATA[ <c r="A99999999999"> ]]><c r="A1"/>"#), None);
        // A quote in a comment or instruction opens no value that could hide the next cell.
        assert_eq!(
            found(r#"<!-- it's --><c r="A99999999999"/>"#).as_deref(),
            Some("A99999999999")
        );
        assert_eq!(
            found(r#"<?pi it's ?><!----><c r="A99999999999"/>"#).as_deref(),
            Some("A99999999999")
        );
        assert_eq!(
            found(r#"<!DOCTYPE worksheet [<!ENTITY e "x>">]><c r="A99999999999"/>"#).as_deref(),
            Some("A99999999999")
        );
    }

    #[test]
    fn a_reference_split_across_reads_is_found() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let xml = br#"<row r="2"><c r="A99999999999"><v>1</v></c></row>"#;
        assert_eq!(
            first_beyond_grid(&mut Trickle(xml)).unwrap().as_deref(),
            Some("A99999999999")
        );
    }
}
