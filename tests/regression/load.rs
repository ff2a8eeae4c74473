//! `opsync transform` then `opsync load`: the two halves of a run must decide as `run` does.

use crate::common::*;
use crate::state::{ITEMS, items, live_items, ok};

const SNAPSHOT_JOB: &str = r#"[job]
name = "items"
mode = "snapshot"
max_delete_percent = 100

[source]
kind = "csv"
path = "in.csv"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "item"
[entity.fields]
item_id = { from = "id", steps = [{ step = "regex_extract", pattern = "^([A-Z])$" }] }
description = { from = "d" }
"#;

fn live(d: &Dir) -> Vec<Vec<String>> {
    d.query("target.db", "SELECT item_id FROM item WHERE _deleted = 0 ORDER BY 1")
}

#[test]
fn transform_then_load_of_a_snapshot_with_a_row_without_key_deletes_nothing() {
    let d = Dir::new();
    d.write("items.job.toml", SNAPSHOT_JOB);
    d.write("in.csv", "id,d\nA,a\nB,b\nC,c\nD,d\n");
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // C's row is malformed (one value too many), then its key fails a step: either way the
    // extract holds C, and `load` must not take it for gone.
    for damaged in ["id,d\nA,a\nB,b\nC,c,extra\nD,d\n", "id,d\nA,a\nB,b\nc?,c\nD,d\n"] {
        d.write("in.csv", damaged);
        let o = d.run(&["transform", "items.job.toml", "--out", "canonical.jsonl"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = d.run(&["load", "items.job.toml", "--in", "canonical.jsonl"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stderr(&o).contains("no item marked deleted"), "{}", stderr(&o));
        assert_eq!(
            live(&d),
            vec![vec!["A"], vec!["B"], vec!["C"], vec!["D"]],
            "{damaged:?}"
        );
    }
    // The accounting of such a load holds: the malformed row counts once.
    let n = d.query(
        "opsync.db",
        "SELECT read, malformed, filtered, rejected, unchanged FROM run_entities ORDER BY run DESC LIMIT 1",
    );
    assert_eq!(n, vec![vec!["4", "0", "0", "1", "3"]]);
    let n = d.query(
        "opsync.db",
        "SELECT read, malformed, filtered, rejected, unchanged FROM run_entities WHERE run = 3",
    );
    assert_eq!(n, vec![vec!["4", "1", "0", "0", "3"]]);
}

fn item_line(row: u64, record: &str) -> String {
    format!(
        r#"{{"entity":"item","lineage":{{"source":"x.csv","row":{row},"line":{}}},"record":{record}}}"#,
        row + 1
    )
}

#[test]
fn load_rejects_a_nul_or_a_byte_order_mark_inside_a_value() {
    let d = Dir::new();
    d.write("items.job.toml", SNAPSHOT_JOB.replace("mode = \"snapshot\"", ""));
    d.write(
        "canonical.jsonl",
        [
            item_line(1, r#"{"item_id":"K1","description":"a\u0000b"}"#),
            item_line(2, r#"{"item_id":"K2","description":"\ufeffx"}"#),
            item_line(3, r#"{"item_id":"K3","description":"fine"}"#),
        ]
        .join("\n"),
    );
    let o = d.run(&["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(live(&d), vec![vec!["K3"]]);
    assert_eq!(
        d.query("opsync.db", "SELECT key, field, rule FROM rejects ORDER BY key"),
        vec![vec!["K1", "description", "type"], vec!["K2", "description", "type"]]
    );
}

#[test]
fn load_refuses_a_record_naming_a_field_twice() {
    let d = Dir::new();
    d.write("items.job.toml", SNAPSHOT_JOB.replace("mode = \"snapshot\"", ""));
    d.write(
        "canonical.jsonl",
        item_line(1, r#"{"item_id":"K1","description":"one","description":"two"}"#),
    );
    let o = d.run(&["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the member \"description\" appears twice"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 0);
}

#[test]
fn transform_in_refuses_a_byte_order_mark_inside_a_raw_value() {
    let d = Dir::new();
    d.write("items.job.toml", SNAPSHOT_JOB.replace("mode = \"snapshot\"", ""));
    d.write("in.csv", "id,d\nA,a\n");
    let o = d.run(&["extract", "items.job.toml", "--out", "raw.jsonl"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let raw = std::fs::read_to_string(d.join("raw.jsonl")).unwrap();
    assert!(raw.contains("\"a\""), "{raw}");
    d.write("raw.jsonl", raw.replace("\"a\"", "\"\\ufeffa\""));
    let o = d.run(&[
        "transform",
        "items.job.toml",
        "--in",
        "raw.jsonl",
        "--out",
        "canonical.jsonl",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = std::fs::read_to_string(d.join("canonical.jsonl")).unwrap();
    assert!(!out.contains("\\ufeff") && !out.contains('\u{feff}'), "{out}");
    assert_eq!(
        d.query("opsync.db", "SELECT rule FROM rejects"),
        vec![vec!["malformed_row"]]
    );
}

#[test]
fn load_checks_canonical_records_against_the_model_as_run_does() {
    let d = items("");
    d.write(
        "canonical.jsonl",
        [
            r#"{"entity":"item","lineage":{"source":"x","row":1,"line":2},"record":{"item_id":"A1","description":"ok","unit_cost":"abc"}}"#,
            r#"{"entity":"item","lineage":{"source":"x","row":2,"line":3},"record":{"item_id":"A2","description":"ok","status":"bogus"}}"#,
            r#"{"entity":"item","lineage":{"source":"x","row":3,"line":4},"record":{"item_id":"A3"}}"#,
            r#"{"entity":"item","lineage":{"source":"x","row":4,"line":5},"record":{"item_id":"A4","description":"ok","unit_cost":"1.23456"}}"#,
            r#"{"entity":"item","lineage":{"source":"x","row":5,"line":6},"record":{"item_id":"A5","description":"fine","unit_cost":"2.5"}}"#,
        ]
        .join("\n"),
    );
    let o = ok(&d, &["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(
        live_items(&d, "target.db"),
        vec![vec!["A5", "fine", "2.5"]],
        "{}",
        stdout(&o)
    );
    let rejects = d.query("opsync.db", "SELECT key, field, rule FROM rejects ORDER BY key");
    assert_eq!(
        rejects,
        vec![
            vec!["A1", "unit_cost", "type"],
            vec!["A2", "status", "one_of"],
            vec!["A3", "description", "required"],
            vec!["A4", "unit_cost", "scale"],
        ]
    );
}

#[test]
fn transform_out_keeps_the_old_file_when_the_command_is_refused_or_fails() {
    let d = items("");
    d.write("canonical.jsonl", "previous output\n");
    // Refused: another run of the job holds its lock (exit 5).
    std::fs::create_dir_all(d.join("opsync.db.locks")).unwrap();
    let lock = std::fs::File::create(d.join("opsync.db.locks/items.lock")).unwrap();
    lock.try_lock().unwrap();
    let o = d.run(&["transform", "items.job.toml", "--out", "canonical.jsonl"]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("canonical.jsonl")).unwrap(),
        "previous output\n"
    );
    drop(lock);
    // Failed part-way: a quote left open.
    d.write("items.csv", format!("{ITEMS}B1,\"open,1,,EA\n"));
    let o = d.run(&["transform", "items.job.toml", "--out", "canonical.jsonl"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("canonical.jsonl")).unwrap(),
        "previous output\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Succeeded: the new output is in place.
    d.write("items.csv", ITEMS);
    ok(&d, &["transform", "items.job.toml", "--out", "canonical.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(d.join("canonical.jsonl"))
            .unwrap()
            .lines()
            .count(),
        5
    );
}

#[test]
fn load_masks_a_sensitive_field_whose_value_is_not_of_its_type() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    let fields = ITEM_FIELDS
        .replace(
            r#"description = { from = "name","#,
            r#"description = { from = "name", sensitive = true,"#,
        )
        .replace(
            r#"unit_cost = { from = "cost","#,
            r#"unit_cost = { from = "cost", sensitive = true,"#,
        );
    d.write("items.job.toml", item_job("items", "items.csv", "", &fields));
    d.write(
        "canonical.jsonl",
        [
            item_line(1, r#"{"item_id":"K1","description":12345678}"#),
            item_line(2, r#"{"item_id":"K2","description":"SECRETF666\u0000"}"#),
            item_line(3, r#"{"item_id":"K3","description":"fine","unit_cost":"1,234.5"}"#),
        ]
        .join("\n"),
    );
    ok(&d, &["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(
        d.query("opsync.db", "SELECT key, field, rule FROM rejects ORDER BY key"),
        vec![
            vec!["K1", "description", "type"],
            vec!["K2", "description", "type"],
            vec!["K3", "unit_cost", "type"]
        ]
    );
    let mut shown = String::new();
    for format in ["table", "csv", "json"] {
        shown += &stdout(&ok(&d, &["rejects", "--format", format]));
    }
    shown += &format!("{:?}", d.query("opsync.db", "SELECT * FROM rejects"));
    for secret in ["12345678", "SECRETF666", "1,234.5", "1234.5"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(shown.contains("****"), "{shown}");
}

#[test]
fn load_takes_a_key_or_a_required_field_of_white_space_for_missing_as_run_does() {
    let d = items("");
    d.write(
        "canonical.jsonl",
        [
            item_line(1, r#"{"item_id":"  ","description":"spaces"}"#),
            item_line(2, r#"{"item_id":"\u00a0","description":"no-break space"}"#),
            item_line(3, r#"{"item_id":"K3","description":" \t "}"#),
            item_line(4, r#"{"item_id":"K4","description":"fine"}"#),
        ]
        .join("\n"),
    );
    ok(&d, &["load", "items.job.toml", "--in", "canonical.jsonl"]);
    assert_eq!(live_items(&d, "target.db"), vec![vec!["K4", "fine", "NULL"]]);
    assert_eq!(
        d.query("opsync.db", "SELECT field, rule FROM rejects ORDER BY row"),
        vec![
            vec!["item_id", "required"],
            vec!["item_id", "required"],
            vec!["description", "required"]
        ]
    );
}

#[test]
fn load_of_a_rejected_line_with_an_empty_key_holds_back_snapshot_deletes() {
    let d = Dir::new();
    d.write("items.job.toml", SNAPSHOT_JOB);
    d.write("in.csv", "id,d\nA,a\nB,b\nC,c\nD,d\n");
    ok(&d, &["run", "items.job.toml"]);
    for key in ["", "  "] {
        d.write(
            "canonical.jsonl",
            [
                item_line(1, r#"{"item_id":"A","description":"a"}"#),
                item_line(2, r#"{"item_id":"B","description":"b"}"#),
                format!(r#"{{"entity":"item","key":"{key}","rejected":true}}"#),
            ]
            .join("\n"),
        );
        let o = ok(&d, &["load", "items.job.toml", "--in", "canonical.jsonl"]);
        assert!(stderr(&o).contains("no item marked deleted"), "{key:?}: {}", stderr(&o));
        assert_eq!(live(&d), vec![vec!["A"], vec!["B"], vec!["C"], vec!["D"]], "{key:?}");
    }
}
