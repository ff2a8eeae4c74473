//! Sensitive values shown in clear by routes around the masking: fields fed by a sensitive column
//! through another mapping route, JSONPaths spelled another way, and short masked values cut out
//! of the middle of words.

use crate::common::*;

/// A job over `in.csv` or `in.jsonl` into `target.db` with these asset fields.
fn asset_job(source: &str, fields: &str) -> String {
    format!(
        r#"[job]
name = "masking"

[source]
{source}

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "asset"
[entity.fields]
{fields}"#
    )
}

const CSV: &str = "kind = \"csv\"\npath = \"in.csv\"";
const JSONL: &str = "kind = \"jsonl\"\npath = \"in.jsonl\"";

/// Every value of every table of an SQLite file in the folder, as text.
fn dump(d: &Dir, db: &str) -> String {
    let mut out = String::new();
    for t in d.query(db, "SELECT name FROM sqlite_master WHERE type = 'table'") {
        for row in d.query(db, &format!("SELECT * FROM \"{}\"", t[0])) {
            out.push_str(&row.join(" | "));
            out.push('\n');
        }
    }
    out
}

/// What a user can be shown of a run of `job.toml`: the run's JSON log, preview, explain of
/// `key` (table and JSON), the rejects in every format, and the ledger.
fn everything_shown(d: &Dir, key: &str) -> String {
    let mut shown = Vec::new();
    let mut runs = vec![
        vec!["--log-format", "json", "--no-progress", "run", "job.toml"],
        vec!["preview", "job.toml"],
        vec!["explain", "asset", key],
        vec!["explain", "asset", key, "--format", "json"],
    ];
    for format in ["table", "csv", "json"] {
        runs.push(vec!["rejects", "--format", format]);
    }
    for args in runs {
        let o = d.run(&args);
        shown.push(format!("## {}\n{}\n{}", args.join(" "), stdout(&o), stderr(&o)));
    }
    shown.push(dump(d, "opsync.db"));
    shown.join("\n")
}

#[test]
fn explain_and_preview_mask_every_field_fed_by_a_sensitive_column() {
    let d = Dir::new();
    d.write("in.csv", "id,d,sec\nA1,x,SECRET111\n");
    let fields = r#"asset_id = { from = "id" }
description = { from = "d" }
serial_no = { from = "sec", sensitive = true }
model = { from_index = 2 }
manufacturer = { from = "id", steps = [{ step = "concat", columns = ["sec"] }] }
location_id = { expr = "row[\"sec\"] + \"!\"" }
asset_class = { from = "sec", steps = [{ step = "expr", expr = "value" }] }
"#;
    d.write("job.toml", asset_job(CSV, fields));
    let shown = everything_shown(&d, "A1");
    assert_eq!(
        d.query("target.db", "SELECT model FROM asset"),
        [["SECRET111"]],
        "{shown}"
    );
    assert!(shown.contains("column #2"), "{shown}");
    assert!(!shown.contains("SECRET111"), "{shown}");
}

#[test]
fn a_field_whose_expression_reads_a_column_by_a_computed_name_is_masked() {
    let d = Dir::new();
    // `d` names the column the expression reads: nothing in the mapping says which.
    d.write("in.csv", "id,d,sec\nA1,sec,SECRET111\n");
    let fields = r#"asset_id = { from = "id" }
description = { from = "d" }
serial_no = { from = "sec", sensitive = true }
model = { expr = "row[row[\"d\"]]" }
"#;
    d.write("job.toml", asset_job(CSV, fields));
    let shown = everything_shown(&d, "A1");
    assert_eq!(
        d.query("target.db", "SELECT model FROM asset"),
        [["SECRET111"]],
        "{shown}"
    );
    assert!(!shown.contains("SECRET111"), "{shown}");
}

#[test]
fn a_json_path_spelled_another_way_that_reaches_a_sensitive_member_is_masked() {
    let d = Dir::new();
    d.write(
        "in.jsonl",
        "{\"id\":\"A1\",\"p\":{\"ssn\":\"SECRET111\"}}\n{\"id\":\"A2\",\"p\":{\"ssn\":\"SECRET2222\"}}\n",
    );
    let fields = r#"asset_id = { from = "$.id" }
description = { from = "$.id" }
serial_no = { from = "$.p.ssn", sensitive = true }
model = { from = "$.p['ssn']", validate = [{ rule = "max_length", max = 9 }] }
manufacturer = { from = "$..ssn" }
location_id = { from = "$.p[*]" }
"#;
    d.write("job.toml", asset_job(JSONL, fields));
    let shown = everything_shown(&d, "A1");
    // A1 loaded, A2 was rejected by the max_length of the other spelling.
    assert_eq!(
        d.query("target.db", "SELECT model FROM asset"),
        [["SECRET111"]],
        "{shown}"
    );
    assert!(shown.contains("max_length"), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[test]
fn a_short_masked_value_is_masked_as_a_whole_word_never_inside_words() {
    let d = Dir::new();
    d.write("in.csv", "id,d,sec\nA1,x,XK-1\nA2,x,ZZZ-e\n");
    let fields = r#"asset_id = { from = "id" }
description = { from = "d" }
serial_no = { from = "sec", sensitive = true }
manufacturer = { from = "sec", steps = [{ step = "split", separator = "-", index = 1 }] }
model = { from = "sec", steps = [{ step = "expr", expr = "parse_int(value)" }] }
"#;
    d.write("job.toml", asset_job(CSV, fields));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let messages = d.query("opsync.db", "SELECT message FROM rejects ORDER BY id");
    let expected = "expression failed: Error parsing integer number '****': invalid digit found in string (line 1, \
                    position 1)";
    assert_eq!(messages, [[expected], [expected]]);
}
