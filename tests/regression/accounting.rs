//! What the ledger says a run did, when the run did not end normally.

use crate::common::{Dir, ITEM_FIELDS, code, item_job, stderr, stdout};

fn items(d: &Dir, rows: usize) {
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
    items(&d, 100);
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
