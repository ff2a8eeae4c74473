//! Source kinds and mapping features end to end through `opsync run`: line endings, encodings,
//! globs, fixed width, workbooks, one row to several entities, filters and masking.

mod common;

use common::{Dir, ITEM_FIELDS, code, item_job, redact, stderr};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn load_items(d: &Dir, source_extra: &str) -> std::process::Output {
    let job = item_job("items", "items*.csv", "", ITEM_FIELDS)
        .replace("kind = \"csv\"", &format!("kind = \"csv\"\n{source_extra}"));
    d.write("items.job.toml", job);
    d.run(&["run", "items.job.toml"])
}

fn descriptions(d: &Dir) -> Vec<Vec<String>> {
    d.query("target.db", "SELECT item_id, description FROM item ORDER BY item_id")
}

#[test]
fn cr_and_crlf_line_endings_read_alike() {
    for (name, ending) in [("crlf", "\r\n"), ("cr", "\r"), ("lf", "\n")] {
        let d = Dir::new();
        let text = ["code,name,cost,gtin,uom", "A1,Gauze,1,,EA", "A2,Tape,2,,EA"].join(ending) + ending;
        d.write("items.csv", text);
        let o = load_items(&d, "");
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(
            descriptions(&d),
            vec![vec!["A1", "Gauze"], vec!["A2", "Tape"]],
            "{name}"
        );
    }
}

#[test]
fn utf8_with_bom_utf16_and_latin1_decode() {
    let d = Dir::new();
    d.write("items.csv", "\u{feff}code,name,cost,gtin,uom\nA1,Gaze stérile,1,,EA\n");
    assert_eq!(
        code(&load_items(&d, "")),
        0,
        "the BOM is not part of the first column name"
    );
    assert_eq!(descriptions(&d), vec![vec!["A1", "Gaze stérile"]]);

    let d = Dir::new();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "code,name,cost,gtin,uom\r\nA1,Müller Spritze,1,,EA\r\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    d.write("items.csv", utf16);
    let o = load_items(&d, "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(descriptions(&d), vec![vec!["A1", "Müller Spritze"]]);

    let d = Dir::new();
    d.write("items.csv", b"code;name;cost;gtin;uom\nA1;Comp\xe8 st\xe9rile;1;;EA\n");
    let o = load_items(&d, "delimiter = \";\"\nencoding = \"iso-8859-1\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(descriptions(&d), vec![vec!["A1", "Compè stérile"]]);
}

#[test]
fn a_glob_reads_every_file_with_lineage_per_file() {
    let d = Dir::new();
    d.write("items_1.csv", "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\n");
    d.write("items_2.csv", "code,name,cost,gtin,uom\nA2,Tape,x,,EA\n");
    let o = load_items(&d, "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(descriptions(&d), vec![vec!["A1", "Gauze"]]);
    let rejects = d.query("opsync.db", "SELECT source, line FROM rejects");
    assert!(
        rejects[0][0].ends_with("items_2.csv") && rejects[0][1] == "2",
        "{rejects:?}"
    );

    d.write("items_3.csv", "code,name,price,gtin,uom\nA3,Pads,1,,EA\n");
    let o = load_items(&d, "");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("items_3.csv: the header differs from the first file's"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fixed_width_columns_with_banner_lines() {
    let d = Dir::new();
    d.write(
        "cc.txt",
        "COST CENTER EXTRACT 2024-03-01\n----------\n4100  Cardiology          MAIN  610\n4200  Radiology           EAST  620\n",
    );
    d.write(
        "cc.job.toml",
        r#"[job]
name = "cc"

[source]
kind = "fixed_width"
path = "cc.txt"
skip_rows = 2
columns = [
  { name = "code", start = 1, length = 6 },
  { name = "name", start = 7, length = 20 },
  { name = "facility", start = 27, length = 6 },
  { name = "gl", start = 33, length = 3 },
]

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "cost_center"
[entity.fields]
cost_center_id = { from = "code" }
name = { from = "name" }
facility = { from = "facility" }
gl_department = { from = "gl" }
"#,
    );
    let o = d.run(&["run", "cc.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = d.query("target.db", "SELECT * FROM cost_center ORDER BY cost_center_id");
    assert_eq!(rows[0][..4], ["4100", "Cardiology", "MAIN", "610"]);
    assert_eq!(d.query("target.db", "SELECT min(_line) FROM cost_center")[0][0], "3");
}

const PO_JOB: &str = r#"[job]
name = "po"

[source]
kind = "excel"
path = "po.xlsx"
sheet = "Lines 2024"
header_row = 3

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "purchase_order"
[entity.fields]
po_number = { from = "PO Number" }
supplier_id = { const = "UNKNOWN" }

[[entity]]
name = "purchase_order_line"
[entity.fields]
po_number = { from = "PO Number" }
line_no = { from = "Line" }
item_id = { from = "Item" }
quantity = { from = "Qty" }
unit_price = { from = "Unit Price" }
need_by_date = { from = "Need By" }
"#;

#[test]
fn one_workbook_row_makes_a_header_and_a_line_and_headers_deduplicate() {
    let d = Dir::new();
    d.write("po.xlsx", fixture("excel/po_lines.xlsx"));
    d.write("po.job.toml", PO_JOB);
    let o = d.run(&["run", "po.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT po_number FROM purchase_order ORDER BY 1"),
        vec![vec!["PO-1001"], vec!["PO-1002"]]
    );
    let lines = d.query(
        "target.db",
        "SELECT po_number, line_no, item_id, quantity, unit_price, need_by_date FROM purchase_order_line ORDER BY 1, 2",
    );
    assert_eq!(
        lines,
        vec![
            vec!["PO-1001", "1", "00042", "12", "2266.13", "2024-03-15"],
            vec!["PO-1001", "2", "GLV-200", "12", "0.1", "2024-03-20"],
            vec!["PO-1002", "1", "SYR-10", "1234567890123", "12.5", "NULL"],
        ]
    );
    assert_eq!(
        d.count("opsync.db", "SELECT deduplicated FROM runs"),
        1,
        "PO-1001's header came twice"
    );
    let lineage = d.query(
        "target.db",
        "SELECT _line FROM purchase_order_line WHERE po_number = 'PO-1002' AND line_no = 1",
    );
    assert_eq!(lineage, vec![vec!["7"]], "the spreadsheet row");
}

#[test]
fn a_workbook_without_the_sheet_names_the_sheets_it_has() {
    let d = Dir::new();
    d.write("po.xlsx", fixture("excel/po_lines.xlsx"));
    d.write("po.job.toml", PO_JOB.replace("Lines 2024\"", "Lines\""));
    let o = d.run(&["run", "po.job.toml"]);
    assert_eq!(code(&o), 1);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn a_corrupt_workbook_is_a_clear_error() {
    let d = Dir::new();
    d.write("po.xlsx", fixture("excel/truncated.xlsx"));
    d.write("po.job.toml", PO_JOB);
    let o = d.run(&["run", "po.job.toml"]);
    assert_eq!(code(&o), 1);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn filters_skip_rows_and_sensitive_columns_are_masked_in_rejects() {
    let d = Dir::new();
    d.write(
        "suppliers.csv",
        "id,name,tax_id,active\nS1,Medline,12-3456789,Y\nS2,Old Vendor,98-7654321,N\nS3,,55-5555555,Y\n",
    );
    d.write(
        "s.job.toml",
        r#"[job]
name = "suppliers"

[source]
kind = "csv"
path = "suppliers.csv"

[target]
kind = "sqlite"
path = "target.db"

[[filter]]
skip_if = 'row["active"] == "N"'

[[entity]]
name = "supplier"
[entity.fields]
supplier_id = { from = "id" }
name = { from = "name" }
tax_id = { from = "tax_id", sensitive = true }
"#,
    );
    let o = d.run(&["run", "s.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT supplier_id, tax_id FROM supplier"),
        vec![vec!["S1", "12-3456789"]]
    );
    assert_eq!(d.count("opsync.db", "SELECT filtered FROM runs"), 1);
    let raw = d.query("opsync.db", "SELECT raw FROM rejects");
    assert_eq!(raw, vec![vec![r#"{"id":"S3","name":"","tax_id":"****","active":"Y"}"#]]);
}

#[test]
fn file_targets_write_one_file_per_entity_and_leave_it_alone_when_nothing_changed() {
    for (kind, file) in [("csv", "out/item.csv"), ("jsonl", "out/item.jsonl")] {
        let d = Dir::new();
        d.write(
            "items.csv",
            "code,name,cost,gtin,uom\nA1,Gauze,1.50,,EA\nA2,Tape,2,,EA\n",
        );
        let job = item_job("items", "items.csv", "", ITEM_FIELDS).replace(
            "kind = \"sqlite\"\npath = \"target.db\"",
            &format!("kind = \"{kind}\"\ndir = \"out\""),
        );
        d.write("items.job.toml", job);
        let o = d.run(&["run", "items.job.toml"]);
        assert_eq!(code(&o), 0, "{kind}: {}", stderr(&o));
        let first = std::fs::read_to_string(d.join(file)).unwrap();
        match kind {
            "csv" => assert!(
                first.starts_with("item_id,description,") && first.contains("A1,Gauze,,,,,EA,,1.5,"),
                "{first}"
            ),
            _ => assert!(first.contains(r#""item_id":"A1","description":"Gauze""#), "{first}"),
        }
        let modified = std::fs::metadata(d.join(file)).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
        assert_eq!(
            std::fs::metadata(d.join(file)).unwrap().modified().unwrap(),
            modified,
            "{kind}: untouched"
        );
        assert_eq!(d.count("opsync.db", "SELECT unchanged FROM runs WHERE id = 2"), 2);
        let o = d.run(&["explain", "item", "A2"]);
        assert!(
            common::stdout(&o).contains("Tape"),
            "{kind}: explain reads the file: {}",
            common::stdout(&o)
        );
    }
}
