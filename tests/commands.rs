//! The commands around `run`: the step-by-step path (extract, transform, load), preview,
//! explain, runs, rejects and schema.

mod common;

use common::{Dir, ITEM_FIELDS, code, item_job, redact, stderr, stdout};

const ITEMS: &str = "code,name,cost,gtin,uom\n\
A1,Gauze 4x4,1.25,00012345600012,EA\n\
A2,Syringe 10ml,0.40,,BX\n\
A3,Catheter,twelve,,EA\n";

fn dir() -> Dir {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    d.write(
        "items.job.toml",
        item_job("items", "items.csv", "mode = \"snapshot\"", ITEM_FIELDS),
    );
    d
}

#[test]
fn extract_transform_load_ends_where_run_ends() {
    let stepwise = dir();
    for args in [
        vec!["extract", "items.job.toml", "--out", "raw.jsonl"],
        vec![
            "transform",
            "items.job.toml",
            "--in",
            "raw.jsonl",
            "--out",
            "canonical.jsonl",
        ],
        vec!["load", "items.job.toml", "--in", "canonical.jsonl"],
    ] {
        let o = stepwise.run(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    let raw = std::fs::read_to_string(stepwise.join("raw.jsonl")).unwrap();
    assert_eq!(raw.lines().count(), 3);
    assert!(
        raw.lines()
            .next()
            .unwrap()
            .contains(r#""values":{"code":"A1","name":"Gauze 4x4""#),
        "{raw}"
    );
    let canonical = std::fs::read_to_string(stepwise.join("canonical.jsonl")).unwrap();
    assert!(
        canonical.contains(r#"{"entity":"item","key":"A3","rejected":true}"#),
        "{canonical}"
    );

    let direct = dir();
    assert_eq!(code(&direct.run(&["run", "items.job.toml"])), 0);
    let sql = "SELECT item_id, description, unit_cost, gtin, uom, _deleted FROM item ORDER BY item_id";
    assert_eq!(stepwise.query("target.db", sql), direct.query("target.db", sql));
    let commands = stepwise.query("opsync.db", "SELECT command, read, rejected FROM runs ORDER BY id");
    // The load accounts for every line, the key of the record transform rejected included.
    assert_eq!(commands, vec![vec!["transform", "3", "1"], vec!["load", "3", "1"]]);
}

#[test]
fn load_names_the_line_of_a_bad_canonical_record() {
    let d = dir();
    d.write(
        "canonical.jsonl",
        "{\"entity\":\"item\",\"record\":{\"item_id\":\"A1\"}}\n",
    );
    let o = d.run(&["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("canonical.jsonl:1: not a canonical record: no \"lineage\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn preview_shows_records_and_rejects_and_writes_nothing() {
    let d = dir();
    let o = d.run(&["preview", "items.job.toml", "-n", "10"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stdout(&o)));
    assert!(!d.join("target.db").exists());
    assert!(!d.join("opsync.db").exists());
}

#[test]
fn explain_shows_each_field_with_its_column_steps_and_mapping_line() {
    let d = dir();
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    let o = d.run(&["explain", "item", "A1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stdout(&o)));
    let o = d.run(&["explain", "item", "NOPE"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no item with key \"NOPE\""), "{}", stderr(&o));
}

#[test]
fn runs_and_runs_show_read_the_ledger() {
    let d = dir();
    assert_eq!(code(&d.run(&["run", "items.job.toml"])), 0);
    let o = d.run(&["runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(runs[0]["job"], "items");
    assert_eq!(runs[0]["inserted"], 2);
    assert_eq!(runs[0]["rejected"], 1);
    let o = d.run(&["runs", "show", "1", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let show: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        show["changes"][0],
        serde_json::json!({"entity": "item", "kind": "insert", "count": 2})
    );
    let o = d.run(&["runs", "show", "99"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("run 99 is not in the ledger"), "{}", stderr(&o));
}

#[test]
fn reading_a_ledger_that_does_not_exist_says_so() {
    let d = Dir::new();
    let o = d.run(&["runs"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("does not exist yet"), "{}", stderr(&o));
}

#[test]
fn schema_lists_the_model_and_gives_json_schema() {
    let d = Dir::new();
    let o = d.run(&["schema", "purchase_order_line"]);
    assert_eq!(code(&o), 0);
    insta::assert_snapshot!(stdout(&o));
    let o = d.run(&["schema", "item", "--format", "json-schema"]);
    let schema: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(schema["required"], serde_json::json!(["item_id", "description"]));
    assert_eq!(
        schema["properties"]["status"]["enum"],
        serde_json::json!(["active", "inactive"])
    );
    let o = d.run(&["schema", "itme"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("did you mean \"item\""), "{}", stderr(&o));
}

#[test]
fn every_command_has_help_with_an_example() {
    let d = Dir::new();
    for cmd in [
        "run",
        "extract",
        "transform",
        "load",
        "preview",
        "validate",
        "test",
        "runs",
        "rejects",
        "schema",
        "inspect",
        "explain",
    ] {
        let o = d.run(&[cmd, "--help"]);
        assert_eq!(code(&o), 0);
        assert!(stdout(&o).contains("Example"), "{cmd} --help has no example");
    }
    let o = d.run(&["--help"]);
    insta::assert_snapshot!(stdout(&o));
}
