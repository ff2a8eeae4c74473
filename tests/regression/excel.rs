//! Reading workbooks: what real spreadsheet programs write, and cells whose number format shows
//! another number than the cell stores.

#[allow(unused_imports)]
use crate::common::*;

use std::io::{Read, Write};

/// The relationships namespace Excel, openpyxl and xlsxwriter declare on every `<worksheet>`.
const XMLNS_R: &str = r#" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;

/// `book` with `edit` applied to the text of each worksheet part.
fn edit_sheets(book: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut from = zip::ZipArchive::new(std::io::Cursor::new(book)).unwrap();
    let mut to = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..from.len() {
        let mut entry = from.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name.starts_with("xl/worksheets/") && name.ends_with(".xml") {
            bytes = edit(std::str::from_utf8(&bytes).unwrap()).into_bytes();
        }
        to.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        to.write_all(&bytes).unwrap();
    }
    to.finish().unwrap().into_inner()
}

/// A worksheet's text with `xmlns:r` declared on its root, as Excel writes it.
fn declare_r(xml: &str) -> String {
    assert!(!xml.contains("xmlns:r="), "the sample already declares xmlns:r");
    xml.replacen("<worksheet ", &format!("<worksheet{XMLNS_R} "), 1)
}

#[test]
fn a_worksheet_declaring_the_r_namespace_loads_not_refused_as_crafted() {
    // Before: the value of `xmlns:r` ("http://...") was read as a cell reference past column XFD,
    // and every workbook Excel or openpyxl saves was refused as "damaged or crafted".
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = std::fs::read(repo.join("samples/erp/po_lines.xlsx")).unwrap();
    let d = Dir::new();
    d.write("po_lines_r.xlsx", edit_sheets(&sample, declare_r));

    let o = d.run(&["inspect", "po_lines_r.xlsx"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let mapping = repo.join("mappings/erp/po_lines.mapping.toml");
    let job = std::fs::read_to_string(repo.join("mappings/erp/po_lines.job.toml"))
        .unwrap()
        .replace(
            "\"po_lines.mapping.toml\"",
            &format!("{:?}", mapping.display().to_string()),
        )
        .replace("../../samples/erp/po_lines.xlsx", "po_lines_r.xlsx")
        .replace("../../out/opsync-demo.db", "target.db");
    d.write("po_lines.job.toml", job);
    let o = d.run(&["run", "po_lines.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(d.count("target.db", "SELECT count(*) FROM purchase_order_line") > 0);
}

#[test]
fn a_cell_reference_past_the_grid_is_still_refused_beside_the_r_namespace() {
    let d = Dir::new();
    let rows = [
        crate::sources::sheet_row("1", &[("A1", "code"), ("B1", "name")]),
        crate::sources::sheet_row("2", &[("A4294967298", "A2"), ("B4294967298", "Tape")]),
    ]
    .concat();
    d.write("items.xlsx", edit_sheets(&crate::sources::xlsx(None, &rows), declare_r));
    let o = d.run(&["inspect", "items.xlsx"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the cell reference \"A4294967298\" lies beyond the last cell of a sheet (XFD1048576)"),
        "{}",
        stderr(&o)
    );
}
