//! Reading sources: CSV shapes, encodings, JSON, workbooks, fixed width, globs.

#[allow(unused_imports)]
use crate::common::*;

/// A job over `items.csv` (or another path) with the usual item fields, in `mode`.
pub(crate) fn items(d: &Dir, path: &str, job_extra: &str, source_extra: &str) -> std::process::Output {
    let job = item_job("items", path, job_extra, ITEM_FIELDS)
        .replace("kind = \"csv\"", &format!("kind = \"csv\"\n{source_extra}"));
    d.write("items.job.toml", job);
    d.run(&["run", "items.job.toml"])
}

pub(crate) fn live_items(d: &Dir) -> Vec<Vec<String>> {
    d.query(
        "target.db",
        "SELECT item_id, description FROM item WHERE _deleted = 0 ORDER BY item_id",
    )
}

const HEADER: &str = "code,name,cost,gtin,uom\n";

/// Twenty good rows `I01` .. `I20`.
fn twenty_rows() -> String {
    (1..=20).map(|i| format!("I{i:02},Item {i},1,,EA\n")).collect()
}

#[test]
fn an_unclosed_quote_in_the_last_column_is_an_error_and_deletes_nothing() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}{}", twenty_rows()));
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Row 18's last column opens a quote that never closes: rows 19 and 20 vanish into it.
    let mut bad = format!("{HEADER}{}", twenty_rows());
    bad = bad.replace("I18,Item 18,1,,EA", "I18,Item 18,1,,\"EA");
    d.write("items.csv", bad);
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("items.csv:19: unclosed quote: the quoted field opened on line 19 runs to the end of the file"),
        "{err}"
    );
    assert_eq!(live_items(&d).len(), 20, "nothing may be marked deleted");
}

#[test]
fn an_unclosed_quote_in_the_first_or_a_middle_column_is_an_error() {
    for (row, line) in [("\"I02,Item 2,1,,EA", 3), ("I02,\"Item 2,1,,EA", 3)] {
        let d = Dir::new();
        d.write(
            "items.csv",
            format!("{HEADER}I01,Item 1,1,,EA\n{row}\nI03,Item 3,1,,EA\n"),
        );
        let o = items(&d, "items.csv", "", "");
        assert_eq!(code(&o), 1, "{row}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("items.csv:{line}: unclosed quote")),
            "{row}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn an_unclosed_quote_in_a_cr_only_file_names_its_line() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\rA1,\"Gauze,1,,EA\rA2,Tape,2,,EA\r",
    );
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("items.csv:2: unclosed quote"), "{}", stderr(&o));
}

#[test]
fn a_file_cut_off_inside_quotes_is_an_error_and_a_short_last_row_a_reject() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,Gauze,1,,EA\nA2,\"Tape with"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("items.csv:3: unclosed quote"), "{}", stderr(&o));

    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,Gauze,1,,EA\nA2,Tape,2"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gauze"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects, [["3", "row has 3 fields, the header has 5"]]);
}

#[test]
fn a_quoted_value_over_several_lines_with_the_right_field_count_is_kept() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{HEADER}A1,\"Gauze\nsterile, 4\"\"\",1,,EA\nA2,Tape,2,,EA\n"),
    );
    let o = items(&d, "items.csv", "", "trust_multiline = true");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gauze\nsterile, 4\""], ["A2", "Tape"]]);
}

/// A stray quote opening one row's value and an inch mark closing the next row's: the two rows
/// read as one with the right field count. Unless the job trusts multi-line values, a quoted value
/// whose text after a line break holds the delimiter is a malformed row, and the snapshot deletes nothing.
#[test]
fn a_stray_quote_closed_on_the_next_row_does_not_swallow_it() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{HEADER}A1,Tape,2,,EA\nA2,Gauze,3,,EA\nA3,Pad,4,,EA\n"),
    );
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    d.write(
        "items.csv",
        format!("{HEADER}A1,\"Tape,2,,EA\nA2,Gauze 4\",3,,EA\nA3,Pad,4,,EA\n"),
    );
    let o = items(&d, "items.csv", "mode = \"snapshot\"", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Tape"], ["A2", "Gauze"], ["A3", "Pad"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0][0], "2");
    assert!(rejects[0][1].contains("trust_multiline = true"), "{rejects:?}");
}

#[test]
fn a_quote_closed_on_a_later_line_then_followed_by_text_is_an_error() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{HEADER}A1,\"Gauze,1,,EA\nA2,Tape,2,,EA\nA3,Pads,3,,\"EA\" box\n"),
    );
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("items.csv:2: unbalanced quote: the quoted field opened on line 2 closes on line 4"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn text_after_a_closing_quote_is_a_malformed_row_not_a_glued_value() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,\"5\" gauze,1,,EA\nA2,Tape,2,,EA\n"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A2", "Tape"]], "`5 gauze` must not load");
    let rejects = d.query("opsync.db", "SELECT line, rule FROM rejects");
    assert_eq!(rejects, [["2", "malformed_row"]]);
}

#[test]
fn a_quote_inside_an_unquoted_value_is_text() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,5\" gauze,1,,EA\n"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "5\" gauze"]]);
}

#[test]
fn a_byte_order_mark_in_the_middle_of_a_file_is_a_reject_not_a_record() {
    let d = Dir::new();
    // Two exports joined with `cat`: the second one's BOM and header land in the middle.
    d.write(
        "items.csv",
        format!("\u{feff}{HEADER}A1,Gauze,1,,EA\n\u{feff}{HEADER}A2,Tape,2,,EA\n"),
    );
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Gauze"], ["A2", "Tape"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0][0], "3");
    assert!(rejects[0][1].contains("byte-order mark"), "{rejects:?}");
}

#[test]
fn a_nul_in_a_value_is_a_reject_and_never_loaded() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,Gau\0ze,1,,EA\nA2,Tape,2,,EA\n"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A2", "Tape"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert!(
        rejects[0][1].contains("column \"name\" holds a NUL character"),
        "{rejects:?}"
    );
}

#[test]
fn utf16_without_a_byte_order_mark_is_named_not_missing_columns() {
    let d = Dir::new();
    let text = format!("{HEADER}A1,Gauze,1,,EA\n");
    d.write(
        "items.csv",
        text.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>(),
    );
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("the file looks like UTF-16 without a byte-order mark: set encoding = \"utf-16le\" in [source]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_windows_1252_job_reading_mac_roman_bytes_is_an_error_suggesting_macintosh() {
    let d = Dir::new();
    // Mac Roman: 0x8E is é, 0x9D is ù; 0x9D is not defined in windows-1252.
    d.write(
        "items.csv",
        b"code,name,cost,gtin,uom\nA1,Caf\x8e,1,,EA\nA2,O\x9d,1,,EA\n",
    );
    let o = items(&d, "items.csv", "", "encoding = \"windows-1252\"");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("items.csv:3: text is not valid windows-1252"), "{err}");
    assert!(err.contains("0x9D"), "{err}");
    assert!(err.contains("set encoding = \"macintosh\""), "{err}");

    let o = items(&d, "items.csv", "", "encoding = \"macintosh\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live_items(&d), [["A1", "Café"], ["A2", "Où"]]);
}

#[test]
fn a_utf8_file_under_a_declared_legacy_encoding_is_refused_not_loaded_as_mojibake() {
    for (what, bytes) in [
        ("UTF-8 text", &b"code,name,cost,gtin,uom\nA1,M\xc3\xbcller,1,,EA\n"[..]),
        (
            "a UTF-8 byte-order mark",
            &b"\xef\xbb\xbfcode,name,cost,gtin,uom\nA1,Muller,1,,EA\n"[..],
        ),
    ] {
        let d = Dir::new();
        d.write("items.csv", bytes);
        let o = items(&d, "items.csv", "", "encoding = \"windows-1252\"");
        // Before: exit 0 and "MÃ¼ller" in the target.
        assert_eq!(code(&o), 1, "{what}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("remove encoding from [source]"),
            "{what}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_utf8_job_reading_mac_roman_bytes_is_pointed_at_macintosh_not_windows_1252() {
    let d = Dir::new();
    d.write("items.csv", b"code,name,cost,gtin,uom\nA1,Caf\x8e cr\x8fme,1,,EA\n");
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("set encoding = \"macintosh\""), "{}", stderr(&o));
    assert!(!stderr(&o).contains("\"windows-1252\""), "{}", stderr(&o));
}

#[test]
fn inspect_calls_mac_roman_macintosh() {
    let d = Dir::new();
    d.write(
        "items.csv",
        b"code,name\nA1,Caf\x8e cr\x8fme br\x9el\x8ee\nA2,D\x8ej\x88 vu\n",
    );
    let o = d.run(&["inspect", "items.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("encoding macintosh"), "{}", stdout(&o));
    assert!(stdout(&o).contains("Café crème brûlée"), "{}", stdout(&o));
}

#[test]
fn an_unknown_encoding_lists_the_supported_ones() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}A1,Gauze,1,,EA\n"));
    let o = items(&d, "items.csv", "", "encoding = \"mac-roman-ish\"");
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("macintosh"), "{}", stderr(&o));
    assert!(stderr(&o).contains("windows-1252"), "{}", stderr(&o));
}

const CATEGORY_HEADER: &str = "code,Category,name,Category\n";

fn category_job(d: &Dir, category_from: &str) -> std::process::Output {
    let fields = format!(
        "item_id = {{ from = \"code\" }}\ndescription = {{ from = \"name\" }}\ncategory = {{ {category_from} }}\n"
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", &fields));
    d.run(&["run", "items.job.toml"])
}

#[test]
fn from_a_name_the_header_holds_twice_is_refused_with_its_place() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{CATEGORY_HEADER}A1,Supplier cat,Gauze,Item cat\n"),
    );
    let o = category_job(&d, "from = \"Category\"");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("items.job.toml:"), "{err}");
    assert!(
        err.contains("column \"Category\" is in the header of items.csv 2 times (columns 2, 4)"),
        "{err}"
    );
    assert!(err.contains("from = \"Category (2)\""), "{err}");
    assert!(err.contains("from_index = 1"), "{err}");
}

#[test]
fn from_the_second_of_a_shared_name_reads_it_with_a_warning_in_the_ledger() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{CATEGORY_HEADER}A1,Supplier cat,Gauze,Item cat\n"),
    );
    let o = category_job(&d, "from = \"Category (2)\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("target.db", "SELECT category FROM item"), [["Item cat"]]);
    assert!(stderr(&o).contains("holds a name more than once"), "{}", stderr(&o));
    let warnings = d.query("opsync.db", "SELECT warnings FROM runs");
    assert!(warnings[0][0].contains("\\\"Category\\\" 2 times"), "{warnings:?}");

    let o = category_job(&d, "from_index = 1");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("target.db", "SELECT category FROM item"), [["Supplier cat"]]);

    // extract names the columns the way `from` does.
    let o = d.run(&["extract", "items.job.toml"]);
    assert!(stdout(&o).contains("\"Category (2)\":\"Item cat\""), "{}", stdout(&o));
}

#[test]
fn a_blank_csv_header_name_is_column_n() {
    let d = Dir::new();
    d.write("items.csv", "code,,name\nA1,x,Gauze\n");
    let fields =
        "item_id = { from = \"code\" }\ndescription = { from = \"name\" }\ncategory = { from = \"column_2\" }\n";
    d.write("items.job.toml", item_job("items", "items.csv", "", fields));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("target.db", "SELECT category FROM item"), [["x"]]);
}

fn json_job(d: &Dir, kind: &str, path: &str) -> String {
    let job = format!(
        r#"[job]
name = "prices"

[source]
kind = "{kind}"
path = "{path}"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "item"

[entity.fields]
item_id = {{ from = "$.id" }}
description = {{ const = "priced" }}
unit_cost = {{ from = "$.cost", steps = [{{ step = "to_decimal" }}] }}
"#
    );
    d.write("prices.job.toml", job);
    "prices.job.toml".into()
}

#[test]
fn json_numbers_keep_every_digit() {
    for (kind, text) in [
        ("json", "[{\"id\": \"A1\", \"cost\": 1234567890123.4567}]"),
        ("jsonl", "{\"id\": \"A1\", \"cost\": 1234567890123.4567}\n"),
    ] {
        let d = Dir::new();
        d.write("prices.json", text);
        let job = json_job(&d, kind, "prices.json");
        let o = d.run(&["run", &job]);
        assert_eq!(code(&o), 0, "{kind}: {}", stderr(&o));
        assert_eq!(
            d.query("target.db", "SELECT unit_cost FROM item"),
            [["1234567890123.4567"]],
            "{kind}"
        );
    }
}

#[test]
fn a_json_member_named_twice_is_refused_not_the_last_value_kept() {
    for (kind, text) in [
        ("json", "[{\"id\": \"A1\", \"cost\": 1.00, \"cost\": 2.00}]"),
        ("jsonl", "{\"id\": \"A1\", \"cost\": 1.00, \"cost\": 2.00}\n"),
    ] {
        let d = Dir::new();
        d.write("prices.json", text);
        let job = json_job(&d, kind, "prices.json");
        let o = d.run(&["run", &job]);
        // Before: loaded with cost 2.00, exit 0.
        assert_eq!(code(&o), 1, "{kind}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("the member \"cost\" appears twice in one object"),
            "{kind}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_byte_order_mark_inside_a_json_value_is_a_malformed_record() {
    let d = Dir::new();
    d.write(
        "prices.json",
        "{\"id\": \"A1\", \"cost\": 1}\n{\"id\": \"A2\\ufeff\", \"cost\": 2}\n",
    );
    let job = json_job(&d, "jsonl", "prices.json");
    let o = d.run(&["run", &job]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("target.db", "SELECT item_id FROM item"), [["A1"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0][1].contains("byte-order mark"), "{rejects:?}");
}

#[test]
fn raw_records_read_by_transform_keep_every_digit() {
    let d = Dir::new();
    d.write("prices.json", "[{\"id\": \"A1\", \"cost\": 0}]");
    let job = json_job(&d, "json", "prices.json");
    d.write(
        "raw.jsonl",
        "{\"lineage\": {\"source\": \"p.json\", \"row\": 1, \"line\": 1}, \"json\": {\"id\": \"A1\", \"cost\": 1234567890123.4567}}\n",
    );
    let o = d.run(&["transform", &job, "--in", "raw.jsonl", "--out", "canonical.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = std::fs::read_to_string(d.join("canonical.jsonl")).unwrap();
    assert!(out.contains("1234567890123.4567"), "{out}");
}

#[test]
fn a_json_number_beyond_any_range_is_refused_not_infinity() {
    let d = Dir::new();
    d.write(
        "prices.json",
        "[{\"id\": \"A1\", \"cost\": 1e999}, {\"id\": \"A2\", \"cost\": 2}]",
    );
    let job = json_job(&d, "json", "prices.json");
    let o = d.run(&["run", &job]);
    assert!(matches!(code(&o), 0 | 3), "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT item_id, unit_cost FROM item"),
        [["A2", "2"]]
    );
    let rejects = d.query("opsync.db", "SELECT raw FROM rejects");
    // serde_json writes the exponent's sign (`1e+999`); the digits are the ones in the file.
    assert!(rejects[0][0].contains("1e+999"), "{rejects:?}");
}

const FIXED_JOB: &str = r#"[job]
name = "cc"

[source]
kind = "fixed_width"
path = "cc.txt"
columns = [
  { name = "code", start = 1, length = 6 },
  { name = "name", start = 7, length = 20 },
  { name = "gl", start = 27, length = 4 },
]

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "cost_center"
[entity.fields]
cost_center_id = { from = "code" }
name = { from = "name" }
gl_department = { from = "gl" }
"#;

/// Run `FIXED_JOB` over this text as `cc.txt`.
fn run_fixed(d: &Dir, text: &str) -> std::process::Output {
    d.write("cc.txt", text);
    d.write("cc.job.toml", FIXED_JOB);
    d.run(&["run", "cc.job.toml"])
}

fn cost_centers(d: &Dir) -> Vec<Vec<String>> {
    d.query(
        "target.db",
        "SELECT cost_center_id, gl_department FROM cost_center ORDER BY 1",
    )
}

#[test]
fn a_fixed_width_line_ending_before_a_column_is_a_reject_not_padding() {
    let d = Dir::new();
    let o = run_fixed(
        &d,
        "4100  Cardiology          610\n4200  Radiology\n4300  Oncology            62\n",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The last line ends inside the last column: trailing spaces trimmed by the exporter.
    assert_eq!(cost_centers(&d), [["4100", "610"], ["4300", "62"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0][0], "2");
    assert!(rejects[0][1].contains("ends before column \"gl\""), "{rejects:?}");
}

#[cfg(unix)]
#[test]
fn a_glob_of_more_files_than_the_open_file_limit_reads_them_all() {
    let d = Dir::new();
    for i in 0..150 {
        d.write(
            &format!("drop/items_{i:03}.csv"),
            format!("{HEADER}A{i:03},Item {i},1,,EA\n"),
        );
    }
    d.write("items.job.toml", item_job("items", "drop/items_*.csv", "", ITEM_FIELDS));
    let bin = assert_cmd::cargo::cargo_bin("opsync");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 64 && exec '{}' run items.job.toml", bin.display()))
        .current_dir(d.path())
        .env("OPSYNC_LEDGER", d.join("opsync.db"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 150);
}

#[test]
fn a_later_glob_file_with_another_header_is_named() {
    let d = Dir::new();
    d.write("drop/items_1.csv", format!("{HEADER}A1,Gauze,1,,EA\n"));
    d.write("drop/items_2.csv", "code,name,uom,gtin,cost\nA2,Tape,EA,,2\n");
    let o = items(&d, "drop/items_*.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("items_2.csv: the header differs from the first file's (the same columns in another order"),
        "{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_named_as_a_loop_not_file_not_found() {
    let d = Dir::new();
    std::os::unix::fs::symlink("items.csv", d.join("items.csv")).unwrap();
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link loop"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn a_double_star_glob_reads_a_file_once_through_a_link_to_its_folder() {
    let d = Dir::new();
    d.write("drop/items.csv", format!("{HEADER}A1,Gauze,1,,EA\n"));
    std::os::unix::fs::symlink(".", d.join("drop/self")).unwrap();
    let o = items(&d, "drop/**/*.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("opsync.db", "SELECT read FROM runs"), [["1"]]);
}

/// A one-sheet xlsx ("Items") with these `<row>`s, and a shared-string table when given.
pub(crate) fn xlsx(shared_strings: Option<&str>, rows: &str) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, text: &str| {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    };
    let (sst_type, sst_rel) = match shared_strings {
        Some(_) => (
            r#"<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>"#,
            r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>"#,
        ),
        None => ("", ""),
    };
    put(
        "[Content_Types].xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>{sst_type}</Types>"#
        ),
    );
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    put(
        "xl/workbook.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Items" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
    );
    put(
        "xl/_rels/workbook.xml.rels",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>{sst_rel}</Relationships>"#
        ),
    );
    if let Some(strings) = shared_strings {
        put("xl/sharedStrings.xml", strings);
    }
    put(
        "xl/worksheets/sheet1.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
        ),
    );
    zip.finish().unwrap().into_inner()
}

/// An xlsx whose every cell points at one shared string of `len` bytes, deflated to little.
fn shared_string_bomb(len: usize, cells: usize) -> Vec<u8> {
    let mut strings = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>code</t></si><si><t>"#,
    );
    strings.push_str(&"x".repeat(len));
    strings.push_str("</t></si></sst>");
    let mut rows = String::from(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#);
    for r in 2..cells + 2 {
        rows.push_str(&format!(r#"<row r="{r}"><c r="A{r}" t="s"><v>1</v></c></row>"#));
    }
    xlsx(Some(&strings), &rows)
}

#[test]
fn a_shared_string_bomb_is_refused_before_it_is_copied_into_every_cell() {
    let d = Dir::new();
    let bomb = shared_string_bomb(4 << 20, 300);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    d.write("items.xlsx", bomb);
    d.write(
        "items.job.toml",
        item_job(
            "items",
            "items.xlsx",
            "",
            "item_id = { from = \"code\" }\ndescription = { const = \"x\" }\n",
        )
        .replace("kind = \"csv\"", "kind = \"excel\""),
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cell A2 holds 4194304 bytes of text, more than the 1048576 opsync reads from one cell"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_row_after_blank_lines_is_named_by_its_own_line() {
    let d = Dir::new();
    d.write("items.csv", format!("{HEADER}\nA1,Gauze,1,,EA\n\n\nA2,Tape,x,,EA\n"));
    let o = items(&d, "items.csv", "", "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("opsync.db", "SELECT line FROM rejects"), [["6"]]);
}

#[test]
fn an_expression_reads_a_json_number_exactly() {
    let d = Dir::new();
    d.write(
        "prices.json",
        "[{\"id\": \"A1\", \"cost\": 1234567890123.4567, \"qty\": 3}]",
    );
    let job = json_job(&d, "json", "prices.json");
    let text = std::fs::read_to_string(d.join(&job)).unwrap().replace(
        "unit_cost = { from = \"$.cost\", steps = [{ step = \"to_decimal\" }] }",
        "unit_cost = { expr = \"row.cost * 1\" }\npack_qty = { expr = \"row.qty + 1\" }",
    );
    d.write(&job, text);
    let o = d.run(&["run", &job]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT unit_cost, pack_qty FROM item"),
        [["1234567890123.4567", "4"]]
    );
}

#[test]
fn inspect_names_a_shared_header_as_run_does_and_maps_the_first_by_index() {
    let d = Dir::new();
    d.write(
        "dup.csv",
        "Item Code,Description,Category,Unit Cost,Category\nA1,Gauze,Wound care,1.50,Sterile\n",
    );
    let o = d.run(&["inspect", "dup.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("│ 5 │ Category (2)"), "{out}");
    assert!(out.contains("category = { from_index = 2"), "{out}");
}

#[test]
fn transform_of_extracted_records_refuses_a_name_the_header_held_twice() {
    let d = Dir::new();
    d.write(
        "items.csv",
        format!("{CATEGORY_HEADER}A1,Supplier cat,Gauze,Item cat\n"),
    );
    let o = category_job(&d, "from = \"Category (2)\"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = d.run(&["extract", "items.job.toml", "--out", "raw.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = d.run(&["transform", "items.job.toml", "--in", "raw.jsonl", "--out", "c.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(d.join("c.jsonl"))
            .unwrap()
            .contains("\"category\":\"Item cat\"")
    );

    let job = std::fs::read_to_string(d.join("items.job.toml")).unwrap();
    d.write(
        "items.job.toml",
        job.replace("from = \"Category (2)\"", "from = \"Category\""),
    );
    let o = d.run(&["transform", "items.job.toml", "--in", "raw.jsonl", "--out", "c.jsonl"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("column \"Category\" is in the header of"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_fixed_width_file_with_cr_line_endings_reads_every_line() {
    let d = Dir::new();
    let o = run_fixed(&d, "4100  Cardiology          610\r4200  Radiology           620\r");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(cost_centers(&d), [["4100", "610"], ["4200", "620"]]);
}

/// A sheet row of inline-string cells: `("A2", "A1")` puts the text `A1` in cell A2.
pub(crate) fn sheet_row(row: &str, cells: &[(&str, &str)]) -> String {
    let cells: String = cells
        .iter()
        .map(|(at, text)| format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#))
        .collect();
    format!(r#"<row r="{row}">{cells}</row>"#)
}

fn workbook_job(d: &Dir, rows: &str) -> std::process::Output {
    d.write("items.xlsx", xlsx(None, rows));
    workbook_job_on_written(d)
}

#[test]
fn a_cell_reference_past_the_last_row_is_refused_not_wrapped_onto_another_row() {
    // 4294967298 is 2 more than u32 holds: calamine wrapped it to row 2 (release) or panicked.
    let d = Dir::new();
    let rows = [
        sheet_row("1", &[("A1", "code"), ("B1", "name")]),
        sheet_row("2", &[("A2", "A1"), ("B2", "Gauze")]),
        sheet_row("3", &[("A4294967298", "A2"), ("B4294967298", "Tape")]),
    ]
    .concat();
    let o = workbook_job(&d, &rows);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "xl/worksheets/sheet1.xml: the cell reference \"A4294967298\" lies beyond the last cell of a sheet \
             (XFD1048576): a damaged or crafted workbook"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_cell_written_twice_in_a_sheet_is_refused_not_one_of_its_values_loaded() {
    let d = Dir::new();
    let rows = [
        sheet_row("1", &[("A1", "code"), ("B1", "name")]),
        sheet_row("2", &[("A2", "A1"), ("B2", "Gauze")]),
        sheet_row("3", &[("A3", "A2"), ("B3", "Tape")]),
        sheet_row("2", &[("A2", "A1"), ("B2", "Scalpel")]),
    ]
    .concat();
    let o = workbook_job(&d, &rows);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sheet \"Items\": cell A2 is written twice, so which value is meant cannot be told"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_header_of_two_hundred_thousand_columns_is_read_in_seconds_not_minutes() {
    // Naming the columns compared every name with every other: minutes for a damaged file whose
    // first line is one long run of delimiters.
    let d = Dir::new();
    let commas = ",".repeat(200_000);
    d.write(
        "items.csv",
        format!("code,name,cost,gtin,uom{commas}\nA1,Gauze,1,,EA{commas}\n"),
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d
        .cmd(&["run", "items.job.toml"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("opsync finished within a minute");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 1);
}

#[test]
fn an_excel_error_cell_is_a_malformed_row_not_a_blank_value() {
    let d = Dir::new();
    let error = |at: &str, e: &str| format!(r#"<c r="{at}" t="e"><v>{e}</v></c>"#);
    let rows = [
        sheet_row("1", &[("A1", "code"), ("B1", "name"), ("C1", "note")]),
        format!(
            r#"<row r="2"><c r="A2" t="inlineStr"><is><t>A1</t></is></c>{}</row>"#,
            error("B2", "#N/A")
        ),
        format!(
            r#"<row r="3"><c r="A3" t="inlineStr"><is><t>A2</t></is></c>{}</row>"#,
            error("B3", "#DIV/0!")
        ),
        // An error in a column no field reads is harmless.
        sheet_row("4", &[("A4", "A3"), ("B4", "Tape")]).replace("</row>", &format!("{}</row>", error("C4", "#REF!"))),
    ]
    .concat();
    let o = workbook_job(&d, &rows);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: A1 and A2 loaded with a blank description.
    assert_eq!(live_items(&d), [["A3", "Tape"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!(rejects[0][0], "2");
    assert!(
        rejects[0][1].starts_with("sheet \"Items\": cell B2 (column \"name\") holds the error #N/A, which is no value"),
        "{rejects:?}"
    );
    assert!(
        rejects[1][1].contains("cell B3 (column \"name\") holds the error #DIV/0!"),
        "{rejects:?}"
    );

    // A job that knows its error cells are in columns it does not read opts out.
    let job = std::fs::read_to_string(d.join("items.job.toml"))
        .unwrap()
        .replace("kind = \"excel\"", "kind = \"excel\"\nerror_cells = \"blank\"");
    d.write("items.job.toml", job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let second = d.query("opsync.db", "SELECT field, message FROM rejects WHERE run = 2");
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second
            .iter()
            .all(|r| r[0] == "description" && !r[1].contains("holds the error")),
        "{second:?}"
    );
}

#[test]
fn a_fixed_width_file_cut_off_inside_its_last_value_is_a_reject_not_a_smaller_number() {
    let d = Dir::new();
    // Lines padded to the layout; the extract stopped after "62" of the last line's "620 ".
    let o = run_fixed(&d, "4100  Cardiology          610 \n4200  Radiology           62");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(cost_centers(&d), [["4100", "610"]]);
    let rejects = d.query("opsync.db", "SELECT line, message FROM rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0][0], "2");
    assert!(
        rejects[0][1].contains("the file ends inside column \"gl\""),
        "{rejects:?}"
    );

    // A file whose lines are trimmed of trailing blanks reads its last line as the others.
    let d = Dir::new();
    let o = run_fixed(&d, "4100  Cardiology          610\n4200  Radiology           620");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM cost_center"), 2);
}

/// A number cell, styled with cell style `style` when not 0.
pub(crate) fn number_cell(at: &str, number: &str, style: u32) -> String {
    format!(r#"<c r="{at}" s="{style}"><v>{number}</v></c>"#)
}

#[test]
fn a_whole_number_of_sixteen_digits_in_an_excel_cell_is_a_reject_not_a_rounded_key() {
    let d = Dir::new();
    let row = |r: &str, code: &str, note: &str| {
        format!(
            r#"<row r="{r}">{}<c r="B{r}" t="inlineStr"><is><t>Item {r}</t></is></c>{}</row>"#,
            number_cell(&format!("A{r}"), code, 0),
            number_cell(&format!("C{r}"), note, 0)
        )
    };
    let rows = [
        sheet_row("1", &[("A1", "code"), ("B1", "name"), ("C1", "note")]),
        row("2", "1000000000000001", "1"),
        row("3", "1000000000000002", "2"),
        // Fifteen significant digits or fewer read as they are, however large.
        row("4", "1000000000000000", "3"),
        row("5", "999999999999999", "4"),
        // A long number in a column no field reads is harmless.
        row("6", "42", "1234567890123456"),
        // Past 2^53 the digits read back are not those written: 12345678901234568.
        row("7", "12345678901234567", "5"),
    ]
    .concat();
    let o = workbook_job(&d, &rows);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: 1000000000000001 loaded as 1000000000000000, and ...002 was its duplicate_key.
    assert_eq!(
        live_items(&d),
        [
            ["1000000000000000", "Item 4"],
            ["42", "Item 6"],
            ["999999999999999", "Item 5"]
        ]
    );
    let rejects = d.query("opsync.db", "SELECT line, rule, message FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert_eq!(
        rejects[0],
        [
            "2",
            "malformed_row",
            "sheet \"Items\": cell A2 (column \"code\") holds the whole number 1000000000000001, which Excel shows \
             rounded to 15 significant digits as 1000000000000000: the cell reads two ways, so neither is loaded; \
             store the column as text in the workbook"
        ]
    );
    assert!(rejects[1][2].contains("cell A3 (column \"code\") holds the whole number 1000000000000002,"));
    assert!(
        rejects[2][2]
            .contains("cell A7 (column \"code\") holds the whole number 12345678901234568, past 9007199254740992"),
        "{rejects:?}"
    );
}

/// `book` with a styles part: cell styles 1 to 4 have the number formats `00000`, `"PO-"0000`,
/// `"$"#,##0.00` and `0` (calamine finds the part by its name).
fn with_number_formats(book: Vec<u8>) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new_append(std::io::Cursor::new(book)).unwrap();
    zip.start_file("xl/styles.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="3"><numFmt numFmtId="164" formatCode="00000"/><numFmt numFmtId="165" formatCode="&quot;PO-&quot;0000"/><numFmt numFmtId="166" formatCode="&quot;$&quot;#,##0.00"/></numFmts><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/><xf numFmtId="166" applyNumberFormat="1"/><xf numFmtId="1" applyNumberFormat="1"/></cellXfs></styleSheet>"#,
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_number_cell_its_format_shows_padded_or_with_text_is_a_reject_not_the_bare_number() {
    let d = Dir::new();
    let row = |r: &str, code: (&str, u32), name: (&str, u32)| {
        format!(
            r#"<row r="{r}">{}{}</row>"#,
            number_cell(&format!("A{r}"), code.0, code.1),
            number_cell(&format!("B{r}"), name.0, name.1)
        )
    };
    let rows = [
        sheet_row("1", &[("A1", "code"), ("B1", "name")]),
        // Excel shows 00123 and PO-0045.
        row("2", ("123", 1), ("45", 2)),
        row("3", ("124", 4), ("46", 2)),
        // Five digits fill 00000; a currency sign and format 0 leave the number as it reads.
        row("4", ("12345", 1), ("7", 3)),
        row("5", ("125", 4), ("8.5", 3)),
    ]
    .concat();
    d.write("items.xlsx", with_number_formats(xlsx(None, &rows)));
    let o = workbook_job_on_written(&d);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: 123/45 and 124/46 loaded, as numbers no one reads in the sheet.
    assert_eq!(live_items(&d), [["12345", "7"], ["125", "8.5"]]);
    let rejects = d.query("opsync.db", "SELECT line, rule, message FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!(
        rejects[0],
        [
            "2",
            "malformed_row",
            "sheet \"Items\": cell A2 (column \"code\") holds the number 123, which Excel shows as \"00123\" through \
             its number format \"00000\": the cell reads two ways, so neither is loaded; store the column as text in \
             the workbook"
        ]
    );
    assert!(
        rejects[1][2].starts_with(
            "sheet \"Items\": cell B3 (column \"name\") holds the number 46, which Excel shows as \"PO-0046\" through \
             its number format \"\\\"PO-\\\"0000\""
        ),
        "{rejects:?}"
    );
}

/// `workbook_job` on an `items.xlsx` already written.
pub(crate) fn workbook_job_on_written(d: &Dir) -> std::process::Output {
    d.write(
        "items.job.toml",
        item_job(
            "items",
            "items.xlsx",
            "",
            "item_id = { from = \"code\" }\ndescription = { from = \"name\" }\n",
        )
        .replace("kind = \"csv\"", "kind = \"excel\""),
    );
    d.run(&["run", "items.job.toml"])
}
