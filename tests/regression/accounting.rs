//! What the ledger says a run did, when the run did not end normally.

use crate::common::*;
use crate::state::{LINES_JOB, ok};

fn many_items(d: &Dir, rows: usize) {
    let mut csv = String::from("code,name,cost,gtin,uom\n");
    for i in 0..rows {
        csv.push_str(&format!("IT{i:04},Item {i},{}.50,,EA\n", i % 40));
    }
    d.write("items.csv", csv);
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 10");
    d.write("items.job.toml", job);
}

#[test]
fn a_run_killed_after_writing_shows_its_rows_read_as_unknown_not_zero() {
    let d = Dir::new();
    many_items(&d, 100);
    let o = d
        .cmd(&["--quiet", "run", "items.job.toml"])
        .env("OPSYNC_FAILPOINT", "batch_committed:3")
        .output()
        .unwrap();
    assert_ne!(code(&o), 0, "the run was to be killed: {}", stderr(&o));
    // The next run settles the killed one from the batches the target holds.
    let o = d.run(&["--quiet", "run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT status, inserted, rows_known FROM runs WHERE id = 1"
        ),
        vec![vec!["interrupted", "30", "0"]]
    );

    let o = d.run(&["runs"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("interrupted"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains("unknown"), "{}", stdout(&o));

    let o = d.run(&["runs", "show", "1"]);
    assert!(
        stdout(&o).contains("read unknown, malformed unknown, filtered unknown, with a rejected record unknown"),
        "{}",
        stdout(&o)
    );
    let o = d.run(&["runs", "show", "1", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["run"]["read"], serde_json::Value::Null, "{doc}");
    assert_eq!(doc["run"]["inserted"], 30, "{doc}");
    assert_eq!(doc["entities"][0]["read"], serde_json::Value::Null, "{doc}");
    let o = d.run(&["runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let read: Vec<_> = runs.as_array().unwrap().iter().map(|r| r["read"].clone()).collect();
    assert_eq!(read, vec![serde_json::json!(100), serde_json::Value::Null]);
}

const TWO_FILES: &str = r#"[job]
name = "po"

[source]
kind = "csv"
path = "in.csv"

[target]
kind = "jsonl"
dir = "out"

[[entity]]
name = "purchase_order"
[entity.fields]
po_number = { from = "po" }
supplier_id = { from = "supplier" }

[[entity]]
name = "purchase_order_line"
[entity.fields]
po_number = { from = "po" }
line_no = { from = "line", steps = [{ step = "to_integer" }] }
item_id = { from = "item" }
quantity = { from = "qty", steps = [{ step = "to_decimal" }] }
"#;

#[test]
fn a_file_target_failing_between_its_renames_records_what_it_put_in_place() {
    let d = Dir::new();
    d.write(
        "in.csv",
        "po,supplier,line,item,qty\nPO-1,V1,1,IT-1,5\nPO-1,V1,2,IT-2,3\nPO-2,V2,1,IT-3,1\n",
    );
    d.write("po.job.toml", TWO_FILES);
    let o = d
        .cmd(&["--quiet", "run", "po.job.toml"])
        .env("OPSYNC_FAILPOINT", "rename:2:error")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("injected failure"), "{}", stderr(&o));
    // The first file is in place, the second is not; the ledger says exactly that.
    let headers = std::fs::read_to_string(d.join("out/purchase_order.jsonl")).unwrap();
    assert_eq!(headers.lines().count(), 2);
    assert!(!d.join("out/purchase_order_line.jsonl").exists());
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT entity, read, inserted FROM run_entities WHERE run = 1 ORDER BY entity"
        ),
        vec![vec!["purchase_order", "3", "2"], vec!["purchase_order_line", "3", "0"]]
    );
    assert_eq!(
        d.query("opsync.db", "SELECT status, read, inserted FROM runs WHERE id = 1"),
        vec![vec!["failed", "3", "2"]]
    );
    // The next run puts the rest in place and finds the first file unchanged.
    let o = d.run(&["--quiet", "run", "po.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT entity, inserted, unchanged FROM run_entities WHERE run = 2 ORDER BY entity"
        ),
        vec![vec!["purchase_order", "0", "2"], vec!["purchase_order_line", "3", "0"]]
    );
}

#[test]
fn a_failed_run_records_the_batches_it_committed() {
    let d = Dir::new();
    let mut csv = String::from("code,name,cost,gtin,uom\n");
    for i in 0..10 {
        csv.push_str(&format!("A{i},Item {i},1,,EA\n"));
    }
    csv.push_str("Z1,\"open quote,1,,EA\nZ2,x,1,,EA\n");
    d.write("items.csv", csv);
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 3");
    d.write("items.job.toml", job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let in_target = d.count("target.db", "SELECT count(*) FROM item");
    assert_eq!(in_target, 10, "what was read before the error is loaded");
    assert_eq!(
        d.query("opsync.db", "SELECT status, read, inserted FROM runs"),
        vec![vec!["failed", "10", "10"]]
    );
}

#[test]
fn runs_show_prints_counts_per_entity_and_the_reject_reasons() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,Tape,abc,,EA\nA3,Pads,x,,EA\nA4,Gloves,2,4006381333932,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    ok(&d, &["run", "items.job.toml"]);
    let o = ok(&d, &["runs", "show", "1"]);
    let out = stdout(&o);
    assert!(out.contains("live before"), "{out}");
    let item_row = out.lines().find(|l| l.starts_with("│ item")).unwrap_or_default();
    let cells: Vec<&str> = item_row.split('│').map(str::trim).collect();
    assert_eq!(
        cells[1..=12],
        ["item", "4", "0", "0", "3", "0", "1", "0", "0", "0", "0", "1"],
        "{out}"
    );
    assert!(out.contains("│ item   │ unit_cost │ decimal │ 2"), "{out}");
    assert!(out.contains("│ item   │ gtin      │ gtin    │ 1"), "{out}");
    let o = ok(&d, &["runs", "show", "1", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["entities"][0]["rejected"], 3);
    assert_eq!(doc["reject_reasons"][0]["count"], 2);
}

#[test]
fn max_reject_percent_counts_rows_not_the_records_of_every_entity() {
    let d = Dir::new();
    d.write(
        "lines.csv",
        "po,line,item,qty\nP1,1,X,1\nP2,1,Y,abc\nP3,1,Z,3\nP4,1,W,4\n",
    );
    let job = LINES_JOB
        .replace("mode = \"snapshot\"\nmax_delete_percent = 100", "max_reject_percent = 30")
        .replace("[[entity]]\nname = \"purchase_order_line\"", "[[entity]]\nname = \"purchase_order\"\n[entity.fields]\npo_number = { from = \"po\" }\nsupplier_id = { from = \"qty\", steps = [{ step = \"to_integer\" }] }\n\n[[entity]]\nname = \"purchase_order_line\"");
    d.write("lines.job.toml", job);
    // One row of four rejects its header and its line: 25% of rows, under the threshold.
    let o = d.run(&["run", "lines.job.toml"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        d.query("opsync.db", "SELECT rejected, rejected_rows FROM runs"),
        vec![vec!["2", "1"]]
    );
}

#[test]
fn a_run_whose_target_write_fails_counts_the_rows_handed_to_the_loader_and_the_live_rows_after() {
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nB1,b,1,,EA\n");
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 3");
    d.write("items.job.toml", job);
    ok(&d, &["run", "items.job.toml"]);
    // The target refuses A7, as a full disk would refuse a batch: the third batch fails.
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON item WHEN NEW.item_id = 'A7' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    drop(conn);
    let mut csv = String::from("code,name,cost,gtin,uom\nA1,a,1,,EA\nX1,x,abc,,EA\n");
    for i in 2..=40 {
        csv.push_str(&format!("A{i},a,1,,EA\n"));
    }
    d.write("items.csv", csv);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item WHERE _deleted = 0"), 7);
    // Rows 1 to 10 reached the loader (the third batch, A7 to A9, ends at row 10); the drive had
    // read all 41 ahead of it.
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT status, read, rejected, inserted FROM runs WHERE id = 2"
        ),
        vec![vec!["failed", "10", "1", "6"]]
    );
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT read, filtered, rejected, inserted, live_before, live_after FROM run_entities WHERE run = 2"
        ),
        vec![vec!["10", "0", "1", "6", "1", "7"]]
    );
}

#[test]
fn a_file_target_whose_first_rename_fails_records_the_live_records_its_files_still_hold() {
    let d = Dir::new();
    d.write(
        "in.csv",
        "po,supplier,line,item,qty\nPO-1,V1,1,IT-1,5\nPO-2,V2,1,IT-3,1\n",
    );
    d.write(
        "po.job.toml",
        TWO_FILES.replace(
            "name = \"po\"",
            "name = \"po\"\nmode = \"snapshot\"\nmax_delete_percent = 100",
        ),
    );
    let o = d.run(&["--quiet", "run", "po.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // One order left: the run would delete one of each entity, but no file is put in place.
    d.write("in.csv", "po,supplier,line,item,qty\nPO-1,V1,1,IT-1,5\n");
    let o = d
        .cmd(&["--quiet", "run", "po.job.toml"])
        .env("OPSYNC_FAILPOINT", "rename:1:error")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    for file in ["out/purchase_order.jsonl", "out/purchase_order_line.jsonl"] {
        let lines = std::fs::read_to_string(d.join(file)).unwrap();
        assert_eq!(lines.lines().count(), 2, "{file}");
    }
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT entity, live_before, live_after, deleted FROM run_entities WHERE run = 2 ORDER BY entity"
        ),
        vec![
            vec!["purchase_order", "2", "2", "0"],
            vec!["purchase_order_line", "2", "2", "0"]
        ]
    );
}
