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

/// `book` with a styles part: cell style `i` (from 1) has the number format `codes[i - 1]`;
/// style 0 is General.
fn with_formats(book: Vec<u8>, codes: &[&str]) -> Vec<u8> {
    let escape = |code: &str| code.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let formats: String = codes
        .iter()
        .enumerate()
        .map(|(i, code)| format!(r#"<numFmt numFmtId="{}" formatCode="{}"/>"#, 164 + i, escape(code)))
        .collect();
    let styles: String = (0..codes.len())
        .map(|i| format!(r#"<xf numFmtId="{}" applyNumberFormat="1"/>"#, 164 + i))
        .collect();
    let mut zip = zip::ZipWriter::new_append(std::io::Cursor::new(book)).unwrap();
    zip.start_file("xl/styles.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="{n}">{formats}</numFmts><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="{m}"><xf numFmtId="0"/>{styles}</cellXfs></styleSheet>"#,
        n = codes.len(),
        m = codes.len() + 1
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_number_cell_its_format_shows_as_another_number_is_a_reject_not_the_stored_number() {
    use crate::sources::{live_items, number_cell, sheet_row, workbook_job_on_written, xlsx};
    let codes = [
        "0",
        "0;[Red]0",
        "#,##0,",
        ";;;",
        "0.00",
        "#,##0.00",
        "yyyy-mm-dd",
        "\"$\"#,##0.00",
        "0%",
        "0;(0)",
    ];
    let style = |code: &str| codes.iter().position(|c| *c == code).map_or(0, |i| i as u32 + 1);
    let d = Dir::new();
    let cases: [(u32, &str, &str); 12] = [
        // Excel shows 12346, 3, 5, 1,235 and nothing.
        (2, "12345.6", "0"),
        (3, "2.6", "0"),
        (4, "-5", "0;[Red]0"),
        (5, "1234567", "#,##0,"),
        (6, "42", ";;;"),
        // General, decimals that fit, thousands separators, a date, currency, percent and a
        // bracketed negative show the number stored.
        (7, "12.5", "General"),
        (8, "8.25", "0.00"),
        (9, "1234.5", "#,##0.00"),
        (10, "45000", "yyyy-mm-dd"),
        (11, "7.5", "\"$\"#,##0.00"),
        (12, "0.15", "0%"),
        (13, "-5", "0;(0)"),
    ];
    let mut rows = sheet_row("1", &[("A1", "code"), ("B1", "name")]);
    for (r, number, code) in cases {
        rows.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>K{r:02}</t></is></c>{}</row>"#,
            number_cell(&format!("B{r}"), number, style(code))
        ));
    }
    d.write("items.xlsx", with_formats(xlsx(None, &rows), &codes));
    let o = workbook_job_on_written(&d);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: 12345.6, 2.6, -5, 1234567 and 42 loaded, numbers no one reads in the sheet.
    assert_eq!(
        live_items(&d),
        [
            ["K07", "12.5"],
            ["K08", "8.25"],
            ["K09", "1234.5"],
            ["K10", "2023-03-15"],
            ["K11", "7.5"],
            ["K12", "0.15"],
            ["K13", "-5"],
        ]
    );
    let rejects = d.query("opsync.db", "SELECT line, rule, message FROM rejects ORDER BY line");
    let fix = ": the cell reads two ways, so neither is loaded; change the cells' number format in the workbook to \
               one that shows the number as stored (General), or export the column as text";
    let expected = [
        "cell B2 (column \"name\") holds the number 12345.6, which Excel shows rounded to a whole number as \"12346\" \
         through its number format \"0\"",
        "cell B3 (column \"name\") holds the number 2.6, which Excel shows rounded to a whole number as \"3\" through \
         its number format \"0\"",
        "cell B4 (column \"name\") holds the number -5, which Excel shows without its minus sign as \"5\" through its \
         number format \"0;[Red]0\"",
        "cell B5 (column \"name\") holds the number 1234567, which Excel shows in thousands and rounded to a whole \
         number as \"1,235\" through its number format \"#,##0,\"",
        "cell B6 (column \"name\") holds the number 42, which Excel shows as blank through its number format \";;;\"",
    ];
    let got: Vec<[String; 3]> = rejects
        .iter()
        .map(|r| [r[0].clone(), r[1].clone(), r[2].clone()])
        .collect();
    let want: Vec<[String; 3]> = expected
        .iter()
        .enumerate()
        .map(|(i, why)| {
            [
                (i + 2).to_string(),
                "malformed_row".to_string(),
                format!("sheet \"Items\": {why}{fix}"),
            ]
        })
        .collect();
    assert_eq!(got, want);
}
