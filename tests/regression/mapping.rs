//! Applying a mapping: expressions, dependent records, several JSON values, sensitive values.

use crate::common::*;

/// A job over `source` (the `[source]` table's lines) into `target.db`, with inline mapping
/// tables (first, so that their top-level keys stay top-level).
fn job(name: &str, source: &str, mapping: &str) -> String {
    format!(
        r#"{mapping}

[job]
name = "{name}"

[source]
{source}

[target]
kind = "sqlite"
path = "target.db"
"#
    )
}

const CSV: &str = "kind = \"csv\"\npath = \"in.csv\"";
const JSON: &str = "kind = \"json\"\npath = \"in.json\"";

/// `opsync rejects --format json` of the latest run: (field, rule, message) of each reject.
fn rejects(d: &Dir) -> Vec<(String, String, String)> {
    let out = d.run(&["rejects", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("rejects JSON");
    doc["rejects"]
        .as_array()
        .expect("rejects")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("field"), s("rule"), s("message"))
        })
        .collect()
}

#[test]
fn a_json_path_matching_several_values_is_a_reject_not_the_first() {
    let d = Dir::new();
    d.write(
        "in.json",
        r#"[{"id": "A", "names": ["first", "second"], "dims": {"w": 1}},
            {"id": "B", "names": ["only"], "dims": {"w": 2}}]"#,
    );
    let fields = |extra: &str| {
        format!(
            "[[entity]]\nname = \"item\"\n[entity.fields]\nitem_id = {{ from = \"$.id\" }}\n\
             description = {{ from = \"$.names[*]\"{extra} }}\n"
        )
    };
    d.write("job.toml", job("several", JSON, &fields("")));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        d.query("target.db", "SELECT item_id, description FROM item ORDER BY item_id"),
        [["B", "only"]]
    );
    let r = rejects(&d);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("description", "multiple_values"));
    assert!(
        r[0].2.starts_with("$.names[*] matched 2 values where one is expected"),
        "{}",
        r[0].2
    );
    assert!(
        r[0].2.contains("records = "),
        "the hint names the source-level way: {}",
        r[0].2
    );

    d.write(
        "job.toml",
        job("several", JSON, &fields(r#", multiple = "join", separator = " / ""#)),
    );
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        d.query("target.db", "SELECT description FROM item ORDER BY item_id"),
        [["first / second"], ["only"]]
    );
    d.write("job.toml", job("several", JSON, &fields(r#", multiple = "first""#)));
    assert_eq!(code(&d.run(&["--no-progress", "run", "job.toml"])), 0);
    assert_eq!(
        d.query("target.db", "SELECT description FROM item ORDER BY item_id"),
        [["first"], ["only"]]
    );
    // join without a separator, or multiple on a flat file, is a configuration error.
    d.write("job.toml", job("several", JSON, &fields(r#", multiple = "join""#)));
    let out = d.run(&["validate", "job.toml"]);
    assert_eq!(code(&out), 2);
    assert!(stdout(&out).contains("needs a separator"), "{}", stdout(&out));
}

#[test]
fn a_json_path_matching_an_object_is_a_reject_not_its_json_text() {
    let d = Dir::new();
    d.write("in.json", r#"[{"id": "A", "dims": {"w": 1}}]"#);
    let mapping = "[[entity]]\nname = \"item\"\n[entity.fields]\nitem_id = { from = \"$.id\" }\n\
                   description = { from = \"$.dims\" }\n";
    d.write("job.toml", job("object", JSON, mapping));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 0);
    let r = rejects(&d);
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("description", "type"), "{r:?}");
    assert!(r[0].2.contains("$.dims matched an object"), "{}", r[0].2);
}

const PO_MAPPING: &str = r#"
[[entity]]
name = "purchase_order"
[entity.fields]
po_number = { from = "po" }
supplier_id = { from = "supplier" }

[[entity]]
name = "purchase_order_line"
LOAD
[entity.fields]
po_number = { from = "po" }
line_no = { from = "line", steps = [{ step = "to_integer" }] }
item_id = { from = "item" }
quantity = { from = "qty", steps = [{ step = "to_decimal" }] }
"#;

#[test]
fn a_po_line_whose_po_header_was_rejected_is_rejected_too() {
    let d = Dir::new();
    d.write(
        "in.csv",
        "po,supplier,line,item,qty\nPO-1,,1,IT-1,5\nPO-2,V1,1,IT-2,3\n",
    );
    d.write("job.toml", job("po", CSV, &PO_MAPPING.replace("LOAD", "")));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        d.query("target.db", "SELECT po_number, line_no FROM purchase_order_line"),
        [["PO-2", "1"]],
        "the line of the rejected PO-1 must not load as an orphan"
    );
    let r = rejects(&d);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1].1, "parent_rejected");
    assert_eq!(
        r[1].2,
        r#"parent purchase_order "PO-1" was rejected: supplier_id: is required but empty"#
    );
    // The mapping may say the line loads anyway.
    d.write(
        "job.toml",
        job("po", CSV, &PO_MAPPING.replace("LOAD", r#"on_parent_reject = "load""#)),
    );
    assert_eq!(code(&d.run(&["--no-progress", "run", "job.toml"])), 0);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM purchase_order_line"), 2);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM purchase_order"), 1);
    // An entity without a parent has no use for the option: said, not ignored.
    let misplaced =
        PO_MAPPING
            .replace("LOAD", "")
            .replacen("[entity.fields]", "on_parent_reject = \"load\"\n[entity.fields]", 1);
    d.write("job.toml", job("po", CSV, &misplaced));
    let out = d.run(&["validate", "job.toml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).contains("purchase_order has no parent entity: on_parent_reject does not apply"),
        "{}",
        stdout(&out)
    );
}

fn item_mapping(item_fields: &str) -> String {
    format!("[[entity]]\nname = \"item\"\n[entity.fields]\n{item_fields}")
}

#[test]
fn expression_print_does_not_corrupt_transform_output() {
    let d = Dir::new();
    d.write("in.csv", "code,name\nA,Alpha\n");
    let fields = r#"item_id = { from = "code" }
description = { expr = 'print("hello from print"); debug("and debug"); row["name"]' }
"#;
    // An expression has no statements: print inside one is an operand.
    let fields = fields.replace(
        r#"'print("hello from print"); debug("and debug"); row["name"]'"#,
        r#"'if print("hello from print") == () && debug("and debug") == () { row["name"] } else { "" }'"#,
    );
    d.write("job.toml", job("print", CSV, &item_mapping(&fields)));
    let out = d.run(&["--no-progress", "transform", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["record"]["description"], "Alpha");
    }
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!stderr(&out).contains("hello"), "{}", stderr(&out));
}

#[test]
fn a_runaway_closure_ends_as_a_reject_naming_the_field() {
    let d = Dir::new();
    d.write("in.csv", "code,name\nA,Alpha\nB,Beta\n");
    // Four nested closures over 1000 items: 10^12 calls, hours of work for one row.
    let s = format!("\"{}\"", "0".repeat(1000));
    let runaway = format!(
        "{s}.to_chars().map(|a| {s}.to_chars().map(|b| {s}.to_chars().map(|c| {s}.to_chars().len()).len()).len()).len()"
    );
    let fields = format!(
        "item_id = {{ from = \"code\" }}\ndescription = {{ from = \"name\" }}\nunspsc = {{ expr = '{runaway}' }}\n"
    );
    d.write("job.toml", job("runaway", CSV, &item_mapping(&fields)));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 0);
    let r = rejects(&d);
    assert_eq!(r.len(), 2, "{r:?}");
    for (field, rule, message) in &r {
        assert_eq!((field.as_str(), rule.as_str()), ("unspsc", "expr"));
        assert!(message.contains("stopped after 100000 operations"), "{message}");
    }
}

#[test]
fn expressions_see_the_row_number_and_the_line() {
    let d = Dir::new();
    // The second record starts on line 4: its first one spans two lines.
    d.write("in.csv", "code,name\nA,\"two\nlines\"\nB,Beta\n");
    let fields = r#"item_id = { from = "code" }
description = { expr = '"row " + row_number + " line " + line_number' }
"#;
    d.write("job.toml", job("numbers", CSV, &item_mapping(fields)));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        d.query("target.db", "SELECT item_id, description FROM item ORDER BY item_id"),
        [["A", "row 1 line 2"], ["B", "row 2 line 4"]]
    );
}

#[test]
fn a_blank_cell_reads_the_same_in_run_and_in_test() {
    let d = Dir::new();
    d.write("in.csv", "code,name,flag\nA,Alpha,\nB,Beta,x\n");
    let mapping = r#"
[[filter]]
keep_if = 'row["flag"] == ""'

[[entity]]
name = "item"
[entity.fields]
item_id = { from = "code" }
description = { from = "name" }

[[test]]
name = "a row without flag is kept"
input = [{ code = "A", name = "Alpha" }]
expect = [{ item_id = "A" }]
"#;
    d.write("job.toml", job("blank", CSV, mapping));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(d.query("target.db", "SELECT item_id FROM item"), [["A"]]);
    let out = d.run(&["test", "job.toml"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn trim_in_a_comparison_is_refused_and_trimmed_works() {
    let d = Dir::new();
    d.write("in.csv", "code,name\nA,Alpha\nB,   \n");
    let mapping = |cond: &str| {
        format!(
            "[[filter]]\nskip_if = '{cond}'\n\n{}",
            item_mapping("item_id = { from = \"code\" }\ndescription = { const = \"x\" }\n")
        )
    };
    d.write("job.toml", job("trim", CSV, &mapping(r#"row["name"].trim() == """#)));
    let out = d.run(&["validate", "job.toml"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("trim() changes its value in place") && stdout(&out).contains("use trimmed()"),
        "{}",
        stdout(&out)
    );
    d.write("job.toml", job("trim", CSV, &mapping(r#"row["name"].trimmed() == """#)));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(d.query("target.db", "SELECT item_id FROM item"), [["A"]]);
}

#[test]
fn a_filter_that_cannot_be_evaluated_rejects_the_row_instead_of_loading_it() {
    let d = Dir::new();
    d.write("in.csv", "code,name,qty\nA,Alpha,5\nB,Beta,lots\n");
    let mapping = format!(
        "[[filter]]\nskip_if = 'parse_int(row[\"qty\"]) > 100'\n\n{}",
        item_mapping("item_id = { from = \"code\" }\ndescription = { from = \"name\" }\n")
    );
    d.write("job.toml", job("filter", CSV, &mapping));
    let out = d.run(&["--no-progress", "run", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(d.query("target.db", "SELECT item_id FROM item"), [["A"]]);
    let r = rejects(&d);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0.as_str(), r[0].1.as_str()), ("*", "filter"));
    assert!(r[0].2.starts_with("filter skip_if = "), "{}", r[0].2);
}

/// Every value of every table of an SQLite file, as text.
fn dump(d: &Dir, db: &str) -> String {
    let tables = d.query(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!("== {}\n", t[0]));
        for row in d.query(db, &format!("SELECT * FROM \"{}\"", t[0])) {
            out.push_str(&row.join(" | "));
            out.push('\n');
        }
    }
    out
}

const SENSITIVE_ASSETS: &str = r#"
sensitive_columns = ["ssn", "model", "$.patient.ssn"]

[lookups.locations]
path = "locations.csv"
key = "code"
value = "id"

[[entity]]
name = "asset"
[entity.fields]
asset_id = { from = "id" }
description = { from = "desc" }
serial_no = { from = "serial", sensitive = true, validate = [{ rule = "pattern", regex = "^S" }] }
model = { from = "model", validate = [{ rule = "max_length", max = 3 }] }
manufacturer = { from = "maker", sensitive = true, validate = [{ rule = "one_of", values = ["ACME"] }] }
parent_asset_id = { from = "gtin", sensitive = true, validate = [{ rule = "gtin" }] }
acquisition_cost = { from = "cost", sensitive = true, steps = [{ step = "to_decimal" }] }
acquisition_date = { from = "bought", sensitive = true, steps = [{ step = "parse_date", formats = ["%Y-%m-%d"] }] }
location_id = { from = "loc", sensitive = true, steps = [{ step = "lookup", table = "locations" }] }
cost_center_id = { from = "cc", sensitive = true, steps = [{ step = "lookup", table = "locations", on_miss = "keep" }] }
status = { from = "status", sensitive = true, validate = [{ rule = "one_of", values = ["up"] }] }
useful_life_months = { from = "life", sensitive = true, steps = [{ step = "to_integer" }], validate = [{ rule = "range", max = 10 }] }
"#;

#[test]
fn sensitive_values_are_masked_in_the_ledger_rejects_logs_previews_and_explanations() {
    let d = Dir::new();
    // Clear values all carry "Zq7" (rejected rows) or "Qx9" (the row that loads); neither
    // appears in the mapping, which the ledger keeps.
    d.write("locations.csv", "code,id\nQx9loc,LOC-1\n");
    d.write(
        "in.csv",
        "id,desc,serial,model,maker,gtin,cost,bought,loc,cc,status,life,ssn\n\
         A1,Pump,Zq7-serial,Zq7-model,Zq7-maker,Zq7-gtin,Zq7.5,Zq7-date,Zq7-loc,Zq7-cc,Zq7-status,Zq7,Zq7-ssn\n\
         A2,Bed,SQx9,Qx9,,,,,Qx9loc,,,,Qx9-ssn\n\
         A3,Cart,SZq7,Zq7,x,Zq7-extra,field,,,,,,Zq7-ragged,Zq7-more\n\
         A4,Lamp,SZq7,Zq,,,,,Qx9loc,,,123456789,Zq7-life\n",
    );
    d.write("csv.toml", job("sensitive-csv", CSV, SENSITIVE_ASSETS));
    d.write(
        "in.json",
        r#"[{"id": "J1", "desc": "Monitor", "serial": "Zq7-json-serial", "patient": {"ssn": "Zq7-nested"},
             "nested": {"deep": ["Zq7-deep"]}}]"#,
    );
    let json_mapping = r#"
sensitive_columns = ["$.patient.ssn"]
[[entity]]
name = "asset"
[entity.fields]
asset_id = { from = "$.id" }
description = { from = "$.desc" }
serial_no = { from = "$.serial", sensitive = true, validate = [{ rule = "pattern", regex = "^S" }] }
model = { from = "$.nested.deep[0]", sensitive = true, validate = [{ rule = "max_length", max = 3 }] }
"#;
    d.write("json.toml", job("sensitive-json", JSON, json_mapping));

    let mut shown = Vec::new();
    let mut keep = |what: &str, o: std::process::Output| {
        shown.push(format!("## {what}\n{}\n{}", stdout(&o), stderr(&o)));
        o
    };
    let out = keep(
        "run json log",
        d.run(&["--log-format", "json", "--no-progress", "run", "csv.toml"]),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    keep("run text", d.run(&["--no-progress", "run", "csv.toml"]));
    keep(
        "run json source",
        d.run(&["--log-format", "json", "--no-progress", "run", "json.toml"]),
    );
    keep("preview", d.run(&["preview", "csv.toml"]));
    keep("preview json", d.run(&["preview", "json.toml"]));
    keep("explain", d.run(&["explain", "asset", "A2"]));
    keep("explain json", d.run(&["explain", "asset", "A2", "--format", "json"]));
    for run in ["1", "2", "3"] {
        for format in ["table", "csv", "json"] {
            keep("rejects", d.run(&["rejects", "--run", run, "--format", format]));
        }
        keep("runs show", d.run(&["runs", "show", run]));
        keep("runs show json", d.run(&["runs", "show", run, "--format", "json"]));
    }
    let shown = shown.join("\n");
    // The runs did what the test means them to: every rule failed, the misses were counted,
    // the ragged row and the JSON record were rejected, A2 loaded.
    assert_eq!(d.query("target.db", "SELECT asset_id FROM asset"), [["A2"]], "{shown}");
    for rule in [
        "pattern",
        "max_length",
        "one_of",
        "gtin",
        "decimal",
        "date",
        "lookup",
        "range",
        "malformed_row",
    ] {
        assert!(
            shown.contains(&format!("\"rule\": \"{rule}\"")),
            "no {rule} reject:\n{shown}"
        );
    }
    assert!(
        shown.contains("\"rule\": \"integer\"") || shown.contains("\"rule\": \"type\""),
        "{shown}"
    );
    assert!(shown.contains("\"locations\""), "the misses are counted:\n{shown}");
    assert!(shown.contains("****"), "{shown}");
    assert!(
        shown.contains("Pump") && shown.contains("Monitor"),
        "non-sensitive values stay"
    );
    let ledger = dump(&d, "opsync.db");
    assert!(ledger.contains("Cart"), "the ragged row is in the ledger:\n{ledger}");
    for secret in ["Zq7", "Qx9"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        assert!(!ledger.contains(secret), "{secret} in the ledger:\n{ledger}");
    }
}

#[test]
fn a_sensitive_key_field_is_refused_by_validate_and_run() {
    let d = Dir::new();
    d.write("in.csv", "id,name\nSECRETID002,Beta\n");
    let mapping = "[[entity]]\nname = \"supplier\"\n[entity.fields]\nsupplier_id = { from = \"id\", sensitive = true }\nname = { from = \"name\" }\n";
    d.write("job.toml", job("sup", CSV, mapping));
    for command in ["validate", "run"] {
        let out = d.run(&[command, "job.toml"]);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        // Before: the key was kept and shown in clear in rejects, previews and the ledger.
        assert_eq!(code(&out), 2, "{command}: {text}");
        assert!(
            text.contains("supplier.supplier_id is part of the key and cannot be sensitive"),
            "{command}: {text}"
        );
        assert!(!text.contains("SECRETID"), "{text}");
    }
}

#[test]
fn a_column_read_by_a_sensitive_field_is_masked_for_every_field_reading_it() {
    let d = Dir::new();
    d.write("in.csv", "id,name,tax\nS1,Acme,123-45-6789-0\n");
    let mapping = r#"[[entity]]
name = "supplier"
[entity.fields]
supplier_id = { from = "id" }
name = { from = "name" }
tax_id = { from = "tax", sensitive = true }
duns = { from = "tax", steps = [{ step = "replace", pattern = "-", with = "" }], validate = [{ rule = "max_length", max = 9 }] }
"#;
    d.write("job.toml", job("sup", CSV, mapping));
    let mut shown = String::new();
    for args in [
        &["--log-format", "json", "run", "job.toml"][..],
        &["rejects", "--format", "csv"],
        &["rejects", "--format", "json"],
        &["preview", "job.toml"],
        &["runs", "show", "1"],
    ] {
        let out = d.run(args);
        shown.push_str(&format!("{}{}", stdout(&out), stderr(&out)));
    }
    assert_eq!(rejects(&d).len(), 1, "{shown}");
    assert_eq!(rejects(&d)[0].0, "duns");
    let ledger = dump(&d, "opsync.db");
    // Before: the duns reject quoted 1234567890, the tax id without its dashes.
    for secret in ["1234567890", "6789"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        assert!(!ledger.contains(secret), "{secret} in the ledger:\n{ledger}");
    }
}

#[test]
fn a_replacement_naming_a_group_the_pattern_lacks_is_a_validate_error() {
    let d = Dir::new();
    d.write("in.csv", "code,name\nAB-12,Alpha\nCD-12,Beta\n");
    let fields = r#"item_id = { from = "code", steps = [{ step = "replace", pattern = "([A-Z]+)-([0-9]+)", with = "$1_$2" }] }
description = { from = "name" }
"#;
    d.write("job.toml", job("replace", CSV, &item_mapping(fields)));
    let v = d.run(&["validate", "job.toml"]);
    // Before: validate passed and `$1_` (the group "1_") expanded to nothing: AB-12 and CD-12 both became 12.
    assert_eq!(code(&v), 2, "{}", stdout(&v));
    assert!(stdout(&v).contains("names the group $1_"), "{}", stdout(&v));
    assert!(stdout(&v).contains("write ${1}_"), "{}", stdout(&v));
    let fixed = fields.replace("$1_$2", "${1}_$2");
    d.write("job.toml", job("replace", CSV, &item_mapping(&fixed)));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT item_id FROM item ORDER BY 1"),
        [["AB_12"], ["CD_12"]]
    );
}

#[test]
fn an_all_zero_gtin_is_a_reject() {
    let d = Dir::new();
    d.write(
        "in.csv",
        "code,name,gtin\nA,Alpha,00000000000000\nB,Beta,00000000\nC,Gamma,4006381333931\n",
    );
    let fields = r#"item_id = { from = "code" }
description = { from = "name" }
gtin = { from = "gtin", validate = [{ rule = "gtin" }] }
"#;
    d.write("job.toml", job("gtin", CSV, &item_mapping(fields)));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.query("target.db", "SELECT item_id FROM item"), [["C"]]);
    let r = rejects(&d);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter()
            .all(|(f, rule, m)| f == "gtin" && rule == "gtin" && m.contains("all zeros")),
        "{r:?}"
    );
}

#[test]
fn a_file_without_its_header_row_does_not_show_sensitive_values_as_header_names() {
    let d = Dir::new();
    d.write("in.csv", "S1,Acme,TAXSECRET1\nS2,Beta,TAXSECRET2\n");
    let mapping = "[[entity]]\nname = \"supplier\"\n[entity.fields]\nsupplier_id = { from = \"Id\" }\nname = { from = \"Name\" }\ntax_id = { from = \"Tax\", sensitive = true }\n";
    d.write("job.toml", job("sup", CSV, mapping));
    let mut shown = String::new();
    for args in [
        &["--log-format", "json", "run", "job.toml"][..],
        &["preview", "job.toml"],
        &["runs", "show", "1"],
    ] {
        let out = d.run(args);
        shown.push_str(&format!("{}{}", stdout(&out), stderr(&out)));
    }
    assert!(shown.contains("is not in the header"), "{shown}");
    // Before: "the closest header is \"TAXSECRET1\"" on stderr, in the JSON log and the ledger.
    assert!(!shown.contains("TAXSECRET"), "{shown}");
    assert!(!dump(&d, "opsync.db").contains("TAXSECRET"));
}

#[test]
fn a_yes_no_spelling_listed_as_both_is_a_validate_error() {
    let d = Dir::new();
    d.write("in.csv", "code,name,s\nA,Alpha,N\n");
    let fields = r#"item_id = { from = "code" }
description = { from = "name" }
sterile = { from = "s", steps = [{ step = "to_boolean", true_values = ["N"] }] }
"#;
    d.write("job.toml", job("bool", CSV, &item_mapping(fields)));
    let v = d.run(&["validate", "job.toml"]);
    // Before: validate passed and every "N" was rejected as "not a yes/no value".
    assert_eq!(code(&v), 2, "{}", stdout(&v));
    assert!(
        stdout(&v).contains("to_boolean reads \"N\" as both yes and no"),
        "{}",
        stdout(&v)
    );
}

#[test]
fn a_test_case_expecting_no_records_fails_when_the_row_makes_one() {
    let d = Dir::new();
    let mapping = |input: &str| {
        format!(
            "{}\n[[test]]\nname = \"nothing\"\ninput = [{input}]\nexpect = []\n",
            item_mapping("item_id = { from = \"code\" }\ndescription = { from = \"name\" }\n")
        )
    };
    d.write(
        "job.toml",
        job("none", CSV, &mapping("{ code = \"A\", name = \"Alpha\" }")),
    );
    let out = d.run(&["test", "job.toml"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("expected no records (expect = []), got 1: item \"A\""),
        "{}",
        stdout(&out)
    );
    // A row that makes nothing (no code: a required-field reject) passes.
    let mapping = mapping("{ code = \"\", name = \"Alpha\" }")
        .replace("expect = []", "expect = []\nexpect_rejects = [{ field = \"item_id\" }]");
    d.write("job.toml", job("none", CSV, &mapping));
    let out = d.run(&["test", "job.toml"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}
