//! `opsync reconcile` on real files: a job against the target it loaded, canonical records
//! against a job, duplicates, the output formats, exit codes for schedulers and for bad input.

mod common;

use common::*;

const ERP: &str = "code,name,cost\nA1,Gauze,1.25\nA2,Syringe,0.40\nA3,Catheter,12.00\nA4,Gloves,3.10\n";
const CMMS: &str = "code,name,cost\nA1,GAUZE,1.25\nA2,Syringe,0.409\nA3,Catheter,12.50\nA5,Tape,0.90\n";

fn job(name: &str, source: &str) -> String {
    item_job(
        name,
        source,
        "",
        r#"item_id = { from = "code" }
description = { from = "name" }
unit_cost = { from = "cost", steps = [{ step = "to_decimal" }] }
"#,
    )
}

fn two_systems() -> Dir {
    let d = Dir::new();
    d.write("erp.csv", ERP);
    d.write("cmms.csv", CMMS);
    d.write("erp.job.toml", job("erp", "erp.csv"));
    d.write("cmms.job.toml", job("cmms", "cmms.csv"));
    d
}

fn reconcile(d: &Dir, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "reconcile",
        "--left",
        "erp.job.toml",
        "--right",
        "cmms.job.toml",
        "--entity",
        "item",
    ];
    args.extend_from_slice(extra);
    d.run(&args)
}

#[test]
fn two_jobs_reconcile_by_key_with_a_tolerance_and_a_text_rule() {
    let d = two_systems();
    let o = reconcile(
        &d,
        &[
            "--compare",
            "unit_cost:abs=0.01",
            "--compare",
            "description:nocase",
            "--format",
            "csv",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A1 matches (case aside), A2 is within a cent, A3 is 50 cents off, A4 and A5 on one side.
    insta::assert_snapshot!(redact(&d, &stdout(&o)), @r"
    kind,key,field,rule,left,right,left_at,right_at,rows
    mismatched,A3,unit_cost,abs=0.01,12,12.5,[DIR]/erp.csv:4,[DIR]/cmms.csv:4,
    only_left,A4,,,,,[DIR]/erp.csv:5,,
    only_right,A5,,,,,,[DIR]/cmms.csv:5,
    ");
    let o = reconcile(&d, &["--compare", "unit_cost:abs=0.001", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["counts"],
        serde_json::json!({"matched": 0, "mismatched": 3, "only_left": 1, "only_right": 1, "duplicate_key": 0})
    );
    assert_eq!(
        (v["left_records"].as_u64(), v["right_records"].as_u64()),
        (Some(4), Some(4))
    );
}

#[test]
fn a_job_reconciles_with_the_target_it_loaded_and_with_its_own_transform_output() {
    let d = two_systems();
    let o = d.run(&["--quiet", "run", "erp.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = d.run(&["transform", "erp.job.toml", "--out", "erp.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for (left, right) in [("target.db", "erp.job.toml"), ("erp.jsonl", "sqlite:target.db")] {
        let o = d.run(&["reconcile", "--left", left, "--right", right, "--entity", "item"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            stdout(&o).contains("no exceptions: every key matched"),
            "{left}: {}",
            stdout(&o)
        );
        assert!(stdout(&o).contains("(4 records) against"), "{}", stdout(&o));
    }
}

#[test]
fn duplicate_keys_are_reported_on_their_side_and_never_compared() {
    let d = two_systems();
    d.write("cmms.csv", format!("{CMMS}A1,Gauze again,9.99\n"));
    let o = reconcile(&d, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let a1 = v["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "A1")
        .cloned()
        .unwrap();
    assert_eq!(a1["kind"], "duplicate_key");
    assert_eq!(a1["rows"], serde_json::json!([1, 2]));
}

#[test]
fn more_exceptions_than_allowed_is_exit_4_with_one_line_saying_so() {
    let d = two_systems();
    let o = reconcile(
        &d,
        &[
            "--compare",
            "unit_cost:abs=0.01",
            "--only-named",
            "--max-exceptions",
            "2",
        ],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "opsync: 3 exceptions, more than --max-exceptions 2 (matched 2, mismatched 1, only_left 1, only_right 1, \
         duplicate_key 0)"
    );
    let o = reconcile(
        &d,
        &[
            "--compare",
            "unit_cost:abs=0.01",
            "--only-named",
            "--max-exceptions",
            "3",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn bad_input_is_exit_2_naming_what_to_fix() {
    let d = two_systems();
    for (extra, says) in [
        (vec!["--compare", "cost:abs=1"], "item has no field \"cost\""),
        (
            vec!["--compare", "description:abs=1"],
            "abs applies to decimal and integer fields only",
        ),
        (vec!["--compare", "unit_cost:abs=one"], "\"one\" is not a tolerance"),
        (vec!["--compare", "item_id:trim"], "part of item's key"),
    ] {
        let o = reconcile(&d, &extra);
        assert_eq!(code(&o), 2, "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
    }
    let cases = [
        (["--left", "missing.db", "--entity", "item"], "no such file missing.db"),
        (
            ["--left", "erp.csv", "--entity", "item"],
            "cannot tell what side \"erp.csv\" is",
        ),
        (
            ["--left", "erp.job.toml", "--entity", "widget"],
            "unknown entity \"widget\"",
        ),
        (
            ["--left", "erp.job.toml", "--entity", "supplier"],
            "the job maps item but not supplier",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["reconcile", "--right", "cmms.job.toml"];
        all.extend_from_slice(&args);
        let o = d.run(&all);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // A target file that holds no table of the entity yet.
    let o = d.run(&["--quiet", "run", "erp.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = d.run(&[
        "reconcile",
        "--left",
        "target.db",
        "--right",
        "erp.job.toml",
        "--entity",
        "supplier",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no table supplier: no job has loaded supplier into it yet"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_sensitive_field_of_a_job_side_is_masked_in_every_format() {
    let d = two_systems();
    let sensitive = job("cmms", "cmms.csv").replace(
        r#"description = { from = "name" }"#,
        r#"description = { from = "name", sensitive = true }"#,
    );
    d.write("cmms.job.toml", sensitive);
    for format in ["table", "csv", "json"] {
        let o = reconcile(&d, &["--format", format]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            !stdout(&o).contains("GAUZE") && !stdout(&o).contains("Gauze"),
            "{format}: {}",
            stdout(&o)
        );
        assert!(stdout(&o).contains("****"), "{format}: {}", stdout(&o));
    }
}

#[test]
fn canonical_records_without_a_key_are_not_paired_with_each_other() {
    let d = two_systems();
    let line = |key: &str| {
        format!(
            r#"{{"entity":"item","lineage":{{"source":"x","row":1,"line":2}},"record":{{"item_id":{key},"description":"d"}}}}"#
        )
    };
    d.write("left.jsonl", [line("null"), line("\"A1\"")].join("\n"));
    d.write("right.jsonl", [line("null"), line("\"A1\"")].join("\n"));
    let o = d.run(&[
        "reconcile",
        "--left",
        "left.jsonl",
        "--right",
        "right.jsonl",
        "--entity",
        "item",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["counts"]["matched"], 1, "{v}");
    assert_eq!(
        (v["left_records"].as_u64(), v["right_records"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("1 records without a key"),
        "{v}"
    );
}
