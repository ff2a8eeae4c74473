//! Workbook mutations that get past the zip container: the sheet's XML is taken out, its cell
//! values, types and references changed (or its bytes damaged), and the workbook zipped again,
//! so that the cell reader and the mapping see the damage rather than a checksum error.

use std::io::{Cursor, Read, Write};

use super::mutate::{Rng, Shape, mutate};

const CELL_TYPES: &[&str] = &["inlineStr", "n", "s", "b", "e", "d", "str", "x", ""];
const REFS: &[&str] = &[
    "A1",
    "A3",
    "XFD1048576",
    "A0",
    "AAAA1",
    "M34",
    "B",
    "1",
    "A99999999999",
    "Z2",
];
const VALUES: &[&str] = &[
    "45421",
    "45421.5",
    "60",
    "0",
    "-1",
    "1e308",
    "NaN",
    "2958466",
    "99999999999",
    "PO-2024-01101",
    "V10006",
    "1,200",
    "12,50",
    "",
    " ",
    "TRUE",
    "#N/A",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "&lt;x&gt;",
    "&bogus;",
    "\u{0}",
    "日本語",
    "1.234,50",
    "2024-02-30",
    "99999999999999999999999999999",
];

/// Mutate the workbook `bytes`: mostly the sheet `sheet` inside it, sometimes the zip itself.
pub fn mutate_workbook(rng: &mut Rng, bytes: &[u8], sheet: &str) -> (Vec<u8>, String) {
    if rng.chance(1, 6) {
        let (b, said) = mutate(rng, bytes, &Shape::Binary);
        return (b, format!("zip bytes: {said}"));
    }
    let Ok(mut entries) = unzip(bytes) else {
        return mutate(rng, bytes, &Shape::Binary);
    };
    let Some(at) = entries.iter().position(|(name, _)| name == sheet) else {
        return mutate(rng, bytes, &Shape::Binary);
    };
    let mut said = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let xml = &mut entries[at].1;
        said.push(match rng.below(6) {
            0 => {
                let (b, s) = mutate(rng, xml, &Shape::Binary);
                *xml = b;
                format!("sheet bytes: {s}")
            }
            1 => replace_one(rng, xml, r#"t="[A-Za-z]*""#, |rng| {
                format!("t=\"{}\"", rng.pick(CELL_TYPES))
            }),
            2 => replace_one(rng, xml, r#" r="[A-Z]*[0-9]*""#, |rng| {
                format!(" r=\"{}\"", rng.pick(REFS))
            }),
            3 => duplicate_row(rng, xml),
            _ => replace_one(rng, xml, r"<(t|v)>[^<]*</(t|v)>", |rng| {
                let v = rng.pick(VALUES);
                if rng.chance(1, 2) {
                    format!("<t>{v}</t>")
                } else {
                    format!("<v>{v}</v>")
                }
            }),
        });
    }
    (zip(&entries, rng.chance(1, 2)), said.join("; "))
}

fn replace_one(rng: &mut Rng, xml: &mut Vec<u8>, pattern: &str, with: impl Fn(&mut Rng) -> String) -> String {
    let re = regex::bytes::Regex::new(pattern).expect("pattern");
    let found: Vec<(usize, usize)> = re.find_iter(xml).map(|m| (m.start(), m.end())).collect();
    if found.is_empty() {
        return "nothing to replace".into();
    }
    let (start, end) = *rng.pick(&found);
    let new = with(rng);
    let old = String::from_utf8_lossy(&xml[start..end]).into_owned();
    xml.splice(start..end, new.bytes());
    format!("{old} -> {new} at byte {start}")
}

fn duplicate_row(rng: &mut Rng, xml: &mut Vec<u8>) -> String {
    let re = regex::bytes::Regex::new(r"<row [^>]*>.*?</row>").expect("pattern");
    let rows: Vec<(usize, usize)> = re.find_iter(xml).map(|m| (m.start(), m.end())).collect();
    if rows.is_empty() {
        return "no row to repeat".into();
    }
    let (start, end) = *rng.pick(&rows);
    let (to, _) = *rng.pick(&rows);
    let copy = xml[start..end].to_vec();
    xml.splice(to..to, copy);
    format!("sheet row at byte {start} repeated at byte {to}")
}

fn unzip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, zip::result::ZipError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i)?;
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        out.push((f.name()?.into_owned(), data));
    }
    Ok(out)
}

fn zip(entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(name.as_str(), options).expect("zip entry");
        w.write_all(data).expect("zip data");
    }
    w.finish().expect("zip").into_inner()
}
