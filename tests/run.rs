//! `opsync run`: the whole path from a CSV through a mapping into SQLite with the ledger, and
//! each bad input the core issue names.

mod common;

use common::{Dir, ITEM_FIELDS, code, item_job, redact, stderr, stdout};

const ITEMS: &str = "code,name,cost,gtin,uom\n\
A1,Gauze 4x4,1.25,00012345600012,EA\n\
A2,Syringe 10ml,0.40,,BX\n\
A3,Catheter,12.00,4006381333931,EA\n";

fn items_dir(job_extra: &str) -> Dir {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    d.write("items.job.toml", item_job("items", "items.csv", job_extra, ITEM_FIELDS));
    d
}

#[test]
fn loads_a_csv_into_sqlite_and_records_the_run() {
    let d = items_dir("");
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stdout(&o)));
    let rows = d.query(
        "target.db",
        "SELECT item_id, description, unit_cost, gtin, uom FROM item ORDER BY item_id",
    );
    assert_eq!(
        rows,
        vec![
            vec!["A1", "Gauze 4x4", "1.25", "00012345600012", "EA"],
            vec!["A2", "Syringe 10ml", "0.4", "NULL", "BX"],
            vec!["A3", "Catheter", "12", "4006381333931", "EA"],
        ]
    );
    let runs = d.query("opsync.db", "SELECT job, command, status, read, inserted FROM runs");
    assert_eq!(runs, vec![vec!["items", "run", "succeeded", "3", "3"]]);
    let mode = std::fs::metadata(d.join("opsync.db")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600, "the ledger is owner-only");
    }
}

#[test]
fn a_second_run_on_the_same_input_changes_nothing() {
    let d = items_dir("");
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    let o = d.run(&["--log-format", "json", "run", "items.job.toml"]);
    assert_eq!(code(&o), 0);
    let line = stderr(&o)
        .lines()
        .find(|l| l.contains("run_finished"))
        .unwrap()
        .to_string();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["counts"]["unchanged"], 3);
    assert_eq!(event["counts"]["inserted"], 0);
    assert_eq!(event["counts"]["updated"], 0);
    // Nothing in the target was written by run 2.
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item WHERE _run_id = 2"), 0);
}

#[test]
fn a_changed_value_is_an_update_with_the_fields_that_changed() {
    let d = items_dir("");
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    d.write("items.csv", ITEMS.replace("Catheter,12.00", "Catheter 14Fr,13.50"));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0);
    let changes = d.query(
        "opsync.db",
        "SELECT run, entity, key, kind, fields FROM run_changes WHERE run = 2",
    );
    assert_eq!(
        changes,
        vec![vec!["2", "item", "A3", "update", r#"["description","unit_cost"]"#]]
    );
    assert_eq!(
        d.query("target.db", "SELECT unit_cost FROM item WHERE item_id = 'A3'"),
        vec![vec!["13.5"]]
    );
}

#[test]
fn snapshot_mode_marks_missing_keys_deleted_but_never_rejected_ones() {
    let d = items_dir("mode = \"snapshot\"\nmax_delete_percent = 50");
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    // A2 disappears; A3 is now rejected (bad cost) but still in the source: it stays.
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze 4x4,1.25,00012345600012,EA\nA3,Catheter,twelve,,EA\n",
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = d.query("target.db", "SELECT item_id, _deleted FROM item ORDER BY item_id");
    assert_eq!(rows, vec![vec!["A1", "0"], vec!["A2", "1"], vec!["A3", "0"]]);
    assert_eq!(d.count("opsync.db", "SELECT deleted FROM runs WHERE id = 2"), 1);
}

#[test]
fn a_failed_validation_is_a_reject_naming_field_rule_and_value() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1.25,4006381333932,EA\nA2,Tape,abc,,EA\nA3,Pads,2,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "rejects never stop a run below the threshold");
    let o = d.run(&["rejects", "--format", "csv"]);
    assert_eq!(code(&o), 0);
    insta::assert_snapshot!(redact(&d, &stdout(&o)));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 1);
}

#[test]
fn rejects_beyond_the_threshold_exit_3_after_loading_the_rest() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,x,,EA\nA2,Tape,y,,EA\nA3,Pads,2,,EA\n",
    );
    d.write(
        "items.job.toml",
        item_job("items", "items.csv", "max_rejects = 1", ITEM_FIELDS),
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("2 rejects, the job allows 1"), "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 1);
    assert_eq!(
        d.query("opsync.db", "SELECT status FROM runs"),
        vec![vec!["rejects_exceeded"]]
    );
}

#[test]
fn a_lookup_miss_is_counted_by_value() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,Tape,1,,CS12\nA3,Pads,2,,CS12\nA4,Gloves,2,,BX\n",
    );
    d.write("uom.csv", "vendor_uom,uom\nEA,each\nBX,box\n");
    let fields = ITEM_FIELDS.replace(
        r#"uom = { from = "uom" }"#,
        r#"uom = { from = "uom", steps = [{ step = "lookup", table = "uom" }] }"#,
    );
    let job = item_job("items", "items.csv", "", &fields)
        + "\n[lookups.uom]\npath = \"uom.csv\"\nkey = \"vendor_uom\"\nvalue = \"uom\"\n";
    d.write("items.job.toml", job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(r#"uom: "CS12" x2"#), "{}", stdout(&o));
    let o = d.run(&["rejects"]);
    assert!(stdout(&o).contains("CS12"), "{}", stdout(&o));
    let misses = d.query("opsync.db", "SELECT lookup, value, count FROM lookup_misses");
    assert_eq!(misses, vec![vec!["uom", "CS12", "2"]]);
}

#[test]
fn a_duplicate_key_with_other_values_is_rejected_and_an_identical_one_deduplicated() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA1,Gauze,1,,EA\nA1,Gauze XL,2,,EA\nA2,Tape,1,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rejects = d.query("opsync.db", "SELECT line, rule, key, message FROM rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0][..3], ["4", "duplicate_key", "A1"]);
    assert!(
        stdout(&o).contains("item.item_id duplicate_key: 1"),
        "the summary counts it: {}",
        stdout(&o)
    );
    assert!(rejects[0][3].contains("items.csv:2)"), "{:?}", rejects[0]);
    assert_eq!(
        d.query("target.db", "SELECT description FROM item WHERE item_id = 'A1'"),
        vec![vec!["Gauze"]]
    );
    assert_eq!(d.count("opsync.db", "SELECT deduplicated FROM runs"), 1);
}

#[test]
fn a_header_missing_a_mapped_column_is_exit_2_with_the_closest_header() {
    let d = Dir::new();
    d.write("items.csv", "code,name,unit_cst,gtin,uom\nA1,Gauze,1,,EA\n");
    d.write(
        "items.job.toml",
        item_job(
            "items",
            "items.csv",
            "",
            &ITEM_FIELDS.replace("\"cost\"", "\"unit_cost\""),
        ),
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 2);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
    assert!(!d.join("target.db").exists() || d.count("target.db", "SELECT count(*) FROM sqlite_master") == 0);
}

#[test]
fn new_columns_since_the_last_run_are_a_warning() {
    let d = items_dir("");
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    d.write(
        "items.csv",
        ITEMS
            .replace("uom\n", "uom,ndc\n")
            .replace("EA\n", "EA,1\n")
            .replace("BX\n", "BX,2\n"),
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(r#"new column(s) in items.csv since the last run, not mapped: "ndc""#),
        "{}",
        stderr(&o)
    );
    let warnings = d.query("opsync.db", "SELECT warnings FROM runs WHERE id = 2");
    assert!(warnings[0][0].contains("ndc"));
}

#[test]
fn a_typo_in_a_mapping_key_is_exit_2_with_its_place() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    d.write(
        "items.job.toml",
        item_job(
            "items",
            "items.csv",
            "",
            &ITEM_FIELDS.replace("step = \"trim\"", "step = \"trimm\""),
        ),
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 2);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn an_unbalanced_quote_stops_the_run_naming_the_line() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,\"Tape,1,,EA\nA3,Pads,2,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
    assert_eq!(d.query("opsync.db", "SELECT status FROM runs"), vec![vec!["failed"]]);
}

#[test]
fn a_ragged_row_is_a_reject_and_the_run_goes_on() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,Tape,1,EA\nA3,Pads,2,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 2);
    let rejects = d.query("opsync.db", "SELECT line, rule, message, raw FROM rejects");
    assert_eq!(
        rejects,
        vec![vec![
            "3",
            "malformed_row",
            "row has 4 fields, the header has 5",
            r#"["A2","Tape","1","EA"]"#
        ]]
    );
}

#[test]
fn a_file_in_an_unexpected_encoding_names_the_line_and_the_fix() {
    let d = Dir::new();
    d.write(
        "items.csv",
        b"code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,Comp\xe9,1,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
    // With the encoding declared, the same file loads.
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("kind = \"csv\"", "kind = \"csv\"\nencoding = \"windows-1252\"");
    d.write("items.job.toml", job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT description FROM item WHERE item_id = 'A2'"),
        vec![vec!["Compé"]]
    );
}

#[test]
fn an_empty_file_is_a_clear_error() {
    let d = Dir::new();
    d.write("items.csv", "");
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1);
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn a_read_only_ledger_is_refused_before_anything_loads() {
    let d = items_dir("");
    d.write("opsync.db", "");
    let mut perms = std::fs::metadata(d.join("opsync.db")).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(d.join("opsync.db"), perms).unwrap();
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
    assert!(!d.join("target.db").exists(), "nothing was loaded");
}

#[test]
fn a_job_already_running_is_exit_5() {
    let d = items_dir("");
    std::fs::create_dir_all(d.join("opsync.db.locks")).unwrap();
    let lock = std::fs::File::create(d.join("opsync.db.locks/items.lock")).unwrap();
    lock.try_lock().unwrap();
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("job items is already running"), "{}", stderr(&o));
    drop(lock);
    assert_eq!(
        code(&d.run(&["run", "items.job.toml"])),
        0,
        "the lock dies with its holder"
    );
}
