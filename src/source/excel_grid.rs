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

/// The first `r` or `ref` attribute value in `xml` naming a place beyond the grid, streamed:
/// only attributes inside tags count, never text that looks like one.
fn first_beyond_grid(xml: &mut impl Read) -> std::io::Result<Option<String>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut in_tag = false;
    // The quote of the attribute value being skipped, or of the reference being read.
    let mut quote: Option<u8> = None;
    let mut reference: Option<Vec<u8>> = None;
    // The last bytes of the tag, white space collapsed to one space and dropped around `=`, so
    // that ` r="` and ` ref = '` both end in `r=` / `ref=` after a space.
    let mut tail: u64 = 0;
    loop {
        let n = xml.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        for &b in &buf[..n] {
            if let Some(q) = quote {
                if b == q {
                    quote = None;
                    if let Some(r) = reference.take()
                        && beyond_grid(&r)
                    {
                        return Ok(Some(String::from_utf8_lossy(&r).into_owned()));
                    }
                } else if let Some(r) = reference.as_mut()
                    && r.len() <= 64
                {
                    r.push(b);
                }
                continue;
            }
            if !in_tag {
                if b == b'<' {
                    in_tag = true;
                    tail = 0;
                }
                continue;
            }
            match b {
                b'>' => in_tag = false,
                b'"' | b'\'' => {
                    let last = |k: u32| (tail >> (8 * k)) & 0xFF;
                    let separated = |k: u32| matches!(last(k) as u8, b' ' | b':');
                    let is_r = tail & 0xFFFF == u64::from(u16::from_be_bytes(*b"r=")) && separated(2);
                    let is_ref = tail & 0xFFFF_FFFF == u64::from(u32::from_be_bytes(*b"ref=")) && separated(4);
                    quote = Some(b);
                    reference = (is_r || is_ref).then(Vec::new);
                }
                b' ' | b'\t' | b'\n' | b'\r' => {
                    if !matches!((tail & 0xFF) as u8, b'=' | b' ') {
                        tail = (tail << 8) | u64::from(b' ');
                    }
                }
                b'=' => {
                    if tail & 0xFF == u64::from(b' ') {
                        tail >>= 8;
                    }
                    tail = (tail << 8) | u64::from(b'=');
                }
                _ => tail = (tail << 8) | u64::from(b),
            }
        }
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
