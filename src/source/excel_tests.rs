use std::path::PathBuf;

use calamine::ExcelDateTime;

use super::cell::{datetime_text, iso_text};
use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/excel")
        .join(name)
}

fn config(sheet: Option<SheetRef>, header_row: usize) -> ExcelSource {
    ExcelSource {
        path: String::new(),
        sheet,
        header_row,
        error_cells: Default::default(),
    }
}

fn open(name: &str, sheet: Option<SheetRef>, header_row: usize) -> Result<ExcelReader, SourceError> {
    ExcelReader::open(&config(sheet, header_row), &fixture(name), Arc::from(name))
}

fn rows(reader: &mut ExcelReader) -> Vec<(Vec<String>, Lineage)> {
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        let RawValues::Row(values) = r.values else {
            panic!("not a row")
        };
        out.push((values.to_vec(), r.lineage));
    }
    out
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[test]
fn first_sheet_by_default_with_dates() {
    let mut reader = open("po_lines.xlsx", None, 1).unwrap();
    assert_eq!(reader.columns(), ["PO Number", "Supplier", "Order Date", "Status"]);
    let rows = rows(&mut reader);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, strings(&["PO-1001", "Medline", "2024-03-01", "OPEN"]));
    assert_eq!(
        rows[1].0,
        strings(&["PO-1002", "Cardinal Health", "2024-03-04", "CLOSED"])
    );
    assert_eq!(rows[1].1.locator.as_deref(), Some("PO"));
    assert_eq!((rows[1].1.row, rows[1].1.line), (2, 3));
    assert_eq!(&*rows[1].1.source, "po_lines.xlsx");
}

#[test]
fn header_on_row_three_values_and_lineage() {
    // J7 holds #N/A: read as blank here, a malformed row by default (below).
    let blank = ExcelSource {
        error_cells: ErrorCells::Blank,
        ..config(Some(SheetRef::Name("Lines 2024".into())), 3)
    };
    let mut reader = ExcelReader::open(&blank, &fixture("po_lines.xlsx"), Arc::from("po_lines.xlsx")).unwrap();
    assert_eq!(
        reader.columns(),
        [
            "PO Number",
            "Line",
            "Item",
            "Qty",
            "Unit Price",
            "Need By",
            "Received At",
            "Taxable",
            "column_9",
            "Note"
        ]
    );
    let rows = rows(&mut reader);
    assert_eq!(rows.len(), 3, "the empty row 6 is skipped");
    assert_eq!(
        rows[0].0,
        strings(&[
            "PO-1001",
            "1",
            "00042",
            "12",
            "2266.13",
            "2024-03-15",
            "2024-03-16T09:30:00",
            "TRUE",
            "",
            "first"
        ])
    );
    assert_eq!(
        rows[1].0,
        strings(&[
            "PO-1001",
            "2",
            "GLV-200",
            "12",
            "0.1",
            "2024-03-20",
            "",
            "FALSE",
            "x",
            ""
        ])
    );
    assert_eq!(
        rows[2].0,
        strings(&["PO-1002", "1", "SYR-10", "1234567890123", "12.5", "", "", "", "", ""])
    );
    let lineage: Vec<(u64, u64)> = rows.iter().map(|r| (r.1.row, r.1.line)).collect();
    assert_eq!(lineage, [(1, 4), (2, 5), (3, 7)]);

    let mut reader = open("po_lines.xlsx", Some(SheetRef::Name("Lines 2024".into())), 3).unwrap();
    assert!(reader.next_record().unwrap().is_some());
    assert!(reader.next_record().unwrap().is_some());
    match reader.next_record() {
        Err(SourceError::Ragged { line: 7, reason, .. }) => {
            assert!(
                reason.contains("cell J7 (column \"Note\") holds the error #N/A"),
                "{reason}"
            )
        }
        other => panic!("expected the row of J7 refused, got {other:?}"),
    }
    assert_eq!(rows[2].1.locator.as_deref(), Some("Lines 2024"));
}

#[test]
fn sheet_by_index_and_name_ignoring_case() {
    let by_index = open("po_lines.xlsx", Some(SheetRef::Index(1)), 3).unwrap();
    assert_eq!(by_index.columns()[0], "PO Number");
    assert_eq!(&*by_index.sheet, "Lines 2024");
    let by_name = open("po_lines.xlsx", Some(SheetRef::Name("lines 2024".into())), 3).unwrap();
    assert_eq!(&*by_name.sheet, "Lines 2024");
}

#[test]
fn missing_sheet_lists_the_sheets() {
    let e = open("po_lines.xlsx", Some(SheetRef::Name("Lines".into())), 1)
        .err()
        .unwrap();
    assert!(matches!(e, SourceError::SheetNotFound { .. }));
    assert_eq!(
        e.to_string(),
        r#"po_lines.xlsx: sheet "Lines" not found; sheets are: "PO", "Lines 2024""#
    );
    let e = open("po_lines.xlsx", Some(SheetRef::Index(2)), 1).err().unwrap();
    assert_eq!(
        e.to_string(),
        r#"po_lines.xlsx: sheet at index 2 (0-based) not found; sheets are: "PO", "Lines 2024""#
    );
}

#[test]
fn header_row_past_the_data_or_on_an_empty_row() {
    let e = open("po_lines.xlsx", None, 9).err().unwrap().to_string();
    assert!(e.contains("has nothing at or below row 9"), "{e}");
    let e = open("po_lines.xlsx", Some(SheetRef::Index(1)), 2)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("row 2 is empty, expected the column names there; the first non-empty row is 3"),
        "{e}"
    );
    let e = open("po_lines.xlsx", None, 0).err().unwrap();
    assert!(matches!(e, SourceError::Config(_)));
}

#[test]
fn legacy_xls() {
    let mut reader = open("po_lines.xls", None, 1).unwrap();
    assert_eq!(reader.columns(), ["PO Number", "Supplier", "Order Date", "Status"]);
    let rows = rows(&mut reader);
    assert_eq!(rows[0].0, strings(&["PO-1001", "Medline", "2024-03-01", "OPEN"]));
    assert_eq!(rows[2].0, strings(&["PO-1003", "2266.13", "7", "TRUE"]));
    assert_eq!((rows[2].1.row, rows[2].1.line), (3, 4));
}

#[test]
fn open_document_spreadsheet() {
    let mut reader = open("po_lines.ods", None, 1).unwrap();
    let rows = rows(&mut reader);
    assert_eq!(rows[0].0, strings(&["PO-1001", "Medline", "2024-03-01", "OPEN"]));
    assert_eq!(rows[1].0, strings(&["2266.13", "12", "2024-03-16T09:30:00", "TRUE"]));
}

#[test]
fn extension_that_lies_is_read_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xls");
    std::fs::copy(fixture("po_lines.xlsx"), &path).unwrap();
    let mut reader = ExcelReader::open(&config(None, 1), &path, Arc::from("export.xls")).unwrap();
    assert_eq!(rows(&mut reader).len(), 2);
}

#[test]
fn corrupt_workbooks_are_workbook_errors() {
    for name in ["not_a_workbook.xlsx", "truncated.xlsx"] {
        let e = open(name, None, 1).err().unwrap();
        assert!(matches!(e, SourceError::Workbook { .. }), "{name}: {e:?}");
        assert!(
            e.to_string().contains("not a readable workbook (xlsx, xls, xlsb, ods)"),
            "{e}"
        );
    }
    let e = open("not_a_workbook.xlsx", None, 1).err().unwrap().to_string();
    assert!(e.contains("plain text"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.xls");
    std::fs::write(&html, "<html><body><table><tr><td>PO</td></tr></table></body></html>").unwrap();
    let e = ExcelReader::open(&config(None, 1), &html, Arc::from("report.xls"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("HTML or XML text"), "{e}");
    let empty = dir.path().join("empty.xlsx");
    std::fs::write(&empty, "").unwrap();
    let e = ExcelReader::open(&config(None, 1), &empty, Arc::from("empty.xlsx"))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "empty.xlsx: not a readable workbook (xlsx, xls, xlsb, ods): the file is empty"
    );
}

#[test]
fn workbook_unpacking_past_the_limit_is_refused() {
    let e = ExcelReader::open_with_limit(
        &config(None, 1),
        &fixture("po_lines.xlsx"),
        Arc::from("po_lines.xlsx"),
        1000,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("zip bomb"), "{e}");
}

#[test]
fn bytes_read_reaches_the_file_size() {
    let mut reader = open("po_lines.xlsx", None, 1).unwrap();
    let len = fixture("po_lines.xlsx").metadata().unwrap().len();
    assert!(reader.bytes_read() < len);
    rows(&mut reader);
    assert_eq!(reader.bytes_read(), len);
}

#[test]
fn cell_text_rules() {
    // Number cells: `excel_number.rs` tests their digits and two readings.
    assert_eq!(cell_text(&Data::Float(2266.1299999999997)).unwrap(), "2266.13");
    let two = cell_text(&Data::Float(1e15 + 1.0)).unwrap_err();
    assert_eq!(two.stored, "1000000000000001");
    assert_eq!(cell_text(&Data::Bool(true)).unwrap(), "TRUE");
    assert_eq!(cell_text(&Data::Error(calamine::CellErrorType::NA)).unwrap(), "");
    assert_eq!(cell_text(&Data::Int(-7)).unwrap(), "-7");
    let date = |v: f64| ExcelDateTime::new(v, calamine::ExcelDateTimeType::DateTime, false);
    assert_eq!(datetime_text(&date(45366.0)).unwrap(), "2024-03-15");
    // The last instants of a day stay on it (a contract's valid_to), rounding up only within it.
    assert_eq!(datetime_text(&date(45382.99999999)).unwrap(), "2024-03-31T23:59:59");
    assert_eq!(datetime_text(&date(45382.999994)).unwrap(), "2024-03-31T23:59:59");
    assert_eq!(
        datetime_text(&date(45382.5 - 0.1 / 86400.0)).unwrap(),
        "2024-03-31T12:00:00"
    );
    assert_eq!(datetime_text(&date(45367.395833333)).unwrap(), "2024-03-16T09:30:00");
    assert_eq!(datetime_text(&date(0.75)).unwrap(), "18:00:00");
    let duration = ExcelDateTime::new(1.5, calamine::ExcelDateTimeType::TimeDelta, false);
    assert_eq!(datetime_text(&duration).unwrap(), "36:00:00");
    let in_1904 = ExcelDateTime::new(43904.0, calamine::ExcelDateTimeType::DateTime, true);
    assert_eq!(datetime_text(&in_1904).unwrap(), "2024-03-15");
    assert_eq!(iso_text("2024-03-16T09:30:00.000"), "2024-03-16T09:30:00");
    assert_eq!(iso_text("2024-03-01"), "2024-03-01");
}

/// The OpenBoxes import templates (legacy BIFF .xls), when the shared sample folder is present.
#[test]
fn real_openboxes_xls_templates_open() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata/openboxes/xls");
    if !dir.is_dir() {
        return;
    }
    let open = |file: &str, sheet: &str| {
        let path = dir.join(file);
        ExcelReader::open(&config(Some(SheetRef::Name(sheet.into())), 1), &path, Arc::from(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let mut locations = open("locations.xls", "Sheet1");
    assert_eq!(&locations.columns()[..3], ["id", "name", "active"]);
    let rows = rows(&mut locations);
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|(v, l)| v.len() == 15 && l.line == l.row + 1 && !v[1].is_empty())
    );
    assert_eq!(rows[0].0[1], "New Location");

    let suppliers = open("ProductSuppliers.xls", "Sheet1");
    assert!(suppliers.columns().iter().any(|c| c == "Contract price (Each)"));
    let e = ExcelReader::open(
        &config(Some(SheetRef::Name("Lines".into())), 1),
        &dir.join("locations.xls"),
        Arc::from("x"),
    )
    .err()
    .unwrap()
    .to_string();
    assert_eq!(e, r#"x: sheet "Lines" not found; sheets are: "Instructions", "Sheet1""#);
}

#[test]
fn cells_at_opposite_corners_do_not_allocate_the_rectangle() {
    let mut reader = open("far_apart.xlsx", None, 1).unwrap();
    assert_eq!(reader.columns().len(), 16_384);
    assert_eq!(reader.columns()[0], "id");
    let rows = rows(&mut reader);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0[0], "1");
    assert_eq!((rows[1].0[16_383].as_str(), rows[1].1.line), ("far", 1_048_576));
}

#[test]
fn a_sheet_past_its_text_budget_is_refused() {
    let path = fixture("po_lines.xlsx");
    let kind = sniff(&path).unwrap();
    let mut book = open_sheets(&path, kind).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let e = read_cells(&mut book, &sheet, 20, ErrorCells::Reject).unwrap_err();
    assert!(e.contains("the text of the sheet passes 20 bytes at cell"), "{e}");
    let mut book = open_sheets(&path, kind).unwrap();
    assert!(read_cells(&mut book, &sheet, MAX_SHEET_TEXT_BYTES, ErrorCells::Reject).is_ok());
}

#[test]
fn cell_names_as_excel_shows_them() {
    assert_eq!(cell_name(0, 0), "A1");
    assert_eq!(cell_name(6, 1), "B7");
    assert_eq!(cell_name(0, 26), "AA1");
    assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
}
