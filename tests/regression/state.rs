//! Targets, state and the ledger: what is loaded, skipped, deleted and counted.

use crate::common::*;

pub(crate) const ITEMS: &str = "code,name,cost,gtin,uom\n\
A1,Gauze 4x4,1.25,,EA\n\
A2,Syringe 10ml,0.40,,BX\n\
A3,Catheter,12.00,,EA\n\
A4,Gloves,3.10,,BX\n\
A5,Tape,0.90,,EA\n";

pub(crate) fn items(job_extra: &str) -> Dir {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    d.write("items.job.toml", item_job("items", "items.csv", job_extra, ITEM_FIELDS));
    d
}

pub(crate) fn ok(d: &Dir, args: &[&str]) -> std::process::Output {
    let o = d.run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}{}", stdout(&o), stderr(&o));
    o
}

pub(crate) fn live_items(d: &Dir, db: &str) -> Vec<Vec<String>> {
    d.query(
        db,
        "SELECT item_id, description, unit_cost FROM item WHERE _deleted = 0 ORDER BY item_id",
    )
}

/// A file target's entity file as rows (header first).
fn file_rows(d: &Dir, path: &str) -> Vec<String> {
    std::fs::read_to_string(d.join(path))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_target_emptied_by_hand_is_reloaded_not_reported_unchanged() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute("DELETE FROM item", []).unwrap();
    drop(conn);
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 5);
    assert_eq!(d.count("opsync.db", "SELECT inserted FROM runs WHERE id = 2"), 5);
}

#[test]
fn a_target_deleted_by_hand_is_recreated_and_reloaded() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    for f in ["target.db", "target.db-wal", "target.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(live_items(&d, "target.db").len(), 5);
}

#[test]
fn rows_deleted_by_hand_are_restored_by_the_next_run() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute("DELETE FROM item WHERE item_id IN ('A2', 'A4')", [])
        .unwrap();
    drop(conn);
    let o = ok(&d, &["--log-format", "json", "run", "items.job.toml"]);
    assert_eq!(live_items(&d, "target.db").len(), 5);
    let line = stderr(&o)
        .lines()
        .find(|l| l.contains("run_finished"))
        .unwrap()
        .to_string();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["counts"]["inserted"], 2, "{event}");
    assert_eq!(event["counts"]["unchanged"], 3, "{event}");
}

#[test]
fn a_target_restored_from_an_older_copy_gets_the_current_values_back() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    std::fs::copy(d.join("target.db"), d.join("backup.db")).unwrap();
    d.write("items.csv", ITEMS.replace("Catheter,12.00", "Catheter 14Fr,13.50"));
    ok(&d, &["run", "items.job.toml"]);
    // The backup is restored over the target; the extract is unchanged since the last run.
    std::fs::copy(d.join("backup.db"), d.join("target.db")).unwrap();
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(
        d.query(
            "target.db",
            "SELECT description, unit_cost FROM item WHERE item_id = 'A3'"
        ),
        vec![vec!["Catheter 14Fr", "13.5"]]
    );
}

#[test]
fn full_refresh_rewrites_values_edited_by_hand_that_hashes_call_unchanged() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute("UPDATE item SET unit_cost = '999' WHERE item_id = 'A1'", [])
        .unwrap();
    drop(conn);
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(
        d.query("target.db", "SELECT unit_cost FROM item WHERE item_id = 'A1'"),
        vec![vec!["999"]]
    );
    ok(&d, &["run", "--full-refresh", "items.job.toml"]);
    assert_eq!(
        d.query("target.db", "SELECT unit_cost FROM item WHERE item_id = 'A1'"),
        vec![vec!["1.25"]]
    );
    let changes = d.query("opsync.db", "SELECT key, kind, fields FROM run_changes WHERE run = 3");
    assert_eq!(changes, vec![vec!["A1", "update", r#"["unit_cost"]"#]]);
}

fn csv_job(d: &Dir, extra: &str) {
    let job = item_job("items", "items.csv", extra, ITEM_FIELDS).replace(
        "kind = \"sqlite\"\npath = \"target.db\"",
        "kind = \"csv\"\ndir = \"out\"",
    );
    d.write("items.job.toml", job);
}

#[test]
fn a_file_target_after_a_limited_run_is_restored_by_the_next_full_run() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    csv_job(&d, "");
    ok(&d, &["run", "items.job.toml"]);
    ok(&d, &["run", "--limit", "1", "items.job.toml"]);
    assert_eq!(
        file_rows(&d, "out/item.csv").len(),
        6,
        "an upsert trial keeps the other keys"
    );
    // The file cut short by hand, as an older opsync's trial run left it.
    let rows = file_rows(&d, "out/item.csv");
    d.write("out/item.csv", format!("{}\n{}\n", rows[0], rows[1]));
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(
        file_rows(&d, "out/item.csv").len(),
        6,
        "the next full run restores every record"
    );
}

#[test]
fn an_upsert_into_a_file_target_keeps_the_keys_the_extract_lacks() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    csv_job(&d, "");
    ok(&d, &["run", "items.job.toml"]);
    d.write("items.csv", "code,name,cost,gtin,uom\nA9,New,1,,EA\n");
    ok(&d, &["run", "items.job.toml"]);
    let rows = file_rows(&d, "out/item.csv");
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert!(rows.iter().any(|r| r.starts_with("A9,")));
}

#[test]
fn a_failed_run_leaves_a_file_target_and_the_ledger_agreeing() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    csv_job(&d, "");
    ok(&d, &["run", "items.job.toml"]);
    let before = std::fs::read(d.join("out/item.csv")).unwrap();
    // A changed value, then a quote left open: the run fails after reading some rows.
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze XL,1.25,,EA\nA2,\"Syringe,0.40,,BX\nA3,x,1,,EA\n",
    );
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(d.join("out/item.csv")).unwrap(),
        before,
        "the file is not half-replaced"
    );
    let run = d.query("opsync.db", "SELECT status, inserted, updated FROM runs WHERE id = 2");
    assert_eq!(
        run,
        vec![vec!["failed", "0", "0"]],
        "the ledger records nothing the file lacks"
    );
    assert!(
        d.query("opsync.db", "SELECT * FROM run_changes WHERE run = 2")
            .is_empty()
    );
}

#[test]
fn a_malformed_row_in_a_snapshot_deletes_nothing() {
    let d = items("mode = \"snapshot\"\nmax_delete_percent = 100");
    ok(&d, &["run", "items.job.toml"]);
    // A2 is malformed (a field missing): its key cannot be read, so no key may be deleted.
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze 4x4,1.25,,EA\nA2,Syringe 10ml,0.40,BX\nA3,Catheter,12.00,,EA\n",
    );
    let o = ok(&d, &["run", "items.job.toml"]);
    assert!(
        stderr(&o).contains("no item marked deleted because 1 rejected row(s) had no key"),
        "{}",
        stderr(&o)
    );
    assert_eq!(live_items(&d, "target.db").len(), 5);
    // The job can say that deleting anyway is what it wants.
    let job = item_job(
        "items",
        "items.csv",
        "mode = \"snapshot\"\nmax_delete_percent = 100\nunkeyed_rejects = \"allow_deletes\"",
        ITEM_FIELDS,
    );
    d.write("items.job.toml", job);
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(live_items(&d, "target.db").len(), 2);
}

#[test]
fn a_row_whose_key_step_failed_in_a_snapshot_deletes_nothing() {
    let d = Dir::new();
    d.write("items.csv", ITEMS);
    let fields = ITEM_FIELDS.replace(
        r#"item_id = { from = "code", steps = [{ step = "trim" }] }"#,
        r#"item_id = { from = "code", steps = [{ step = "regex_extract", pattern = "^(A\\d)$" }], validate = [{ rule = "required" }] }"#,
    );
    d.write(
        "items.job.toml",
        item_job(
            "items",
            "items.csv",
            "mode = \"snapshot\"\nmax_delete_percent = 100",
            &fields,
        ),
    );
    ok(&d, &["run", "items.job.toml"]);
    d.write("items.csv", ITEMS.replace("A4,", "A 4,"));
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(
        live_items(&d, "target.db").len(),
        5,
        "A4's row is there, its key unreadable"
    );
}

#[test]
fn a_snapshot_that_would_delete_most_of_a_table_stops_before_deleting() {
    let d = items("mode = \"snapshot\"");
    ok(&d, &["run", "items.job.toml"]);
    d.write("items.csv", "code,name,cost,gtin,uom\nA1,Gauze 4x4,1.25,,EA\n");
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("snapshot would delete 4 of 5 live item records (80%)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(live_items(&d, "target.db").len(), 5);
    assert_eq!(
        d.query("opsync.db", "SELECT status, deleted FROM runs WHERE id = 2"),
        vec![vec!["deletes_exceeded", "0"]]
    );
}

pub(crate) const LINES_JOB: &str = r#"[job]
name = "lines"
mode = "snapshot"
max_delete_percent = 100

[source]
kind = "csv"
path = "lines.csv"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "purchase_order_line"
[entity.fields]
po_number = { from = "po" }
line_no = { from = "line" }
item_id = { from = "item" }
quantity = { from = "qty" }
"#;

#[test]
fn composite_keys_with_a_separator_inside_stay_two_keys() {
    let d = Dir::new();
    d.write("lines.csv", "po,line,item,qty\n\"A|1\",2,X,1\nA,1,Y,2\n");
    d.write("lines.job.toml", LINES_JOB);
    let o = ok(&d, &["run", "lines.job.toml"]);
    assert!(!stdout(&o).contains("duplicate_key"), "{}", stdout(&o));
    assert_eq!(d.count("target.db", "SELECT count(*) FROM purchase_order_line"), 2);
}

#[test]
fn a_snapshot_delete_of_a_composite_key_is_applied_to_the_target() {
    let d = Dir::new();
    d.write("lines.csv", "po,line,item,qty\nC,7,X,1\n\"C|7\",1,Y,2\nD,1,Z,3\n");
    d.write("lines.job.toml", LINES_JOB);
    ok(&d, &["run", "lines.job.toml"]);
    d.write("lines.csv", "po,line,item,qty\nD,1,Z,3\n");
    ok(&d, &["run", "lines.job.toml"]);
    let live = d.query(
        "target.db",
        "SELECT po_number, line_no FROM purchase_order_line WHERE _deleted = 0 ORDER BY 1, 2",
    );
    assert_eq!(live, vec![vec!["D", "1"]]);
    let deleted = d.query(
        "opsync.db",
        "SELECT key FROM run_changes WHERE kind = 'delete' ORDER BY key",
    );
    assert_eq!(deleted, vec![vec!["C\\|7|1"], vec!["C|7"]]);
}

#[test]
fn two_snapshot_jobs_feeding_one_entity_are_refused_rather_than_deleting_each_others_keys() {
    let d = Dir::new();
    d.write("a.csv", "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\n");
    d.write("b.csv", "code,name,cost,gtin,uom\nB1,Tape,1,,EA\n");
    d.write(
        "a.job.toml",
        item_job("site-a", "a.csv", "mode = \"snapshot\"", ITEM_FIELDS),
    );
    d.write(
        "b.job.toml",
        item_job("site-b", "b.csv", "mode = \"snapshot\"", ITEM_FIELDS),
    );
    ok(&d, &["run", "a.job.toml"]);
    let o = d.run(&["run", "b.job.toml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("item is also written by job site-a (snapshot mode)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(live_items(&d, "target.db"), vec![vec!["A1", "Gauze", "1"]]);
    // Two upsert jobs may share an entity: neither deletes.
    d.write("a.job.toml", item_job("site-a", "a.csv", "", ITEM_FIELDS));
    d.write("b.job.toml", item_job("site-b", "b.csv", "", ITEM_FIELDS));
    ok(&d, &["run", "a.job.toml", "b.job.toml"]);
    assert_eq!(live_items(&d, "target.db").len(), 2);
}

#[test]
fn every_job_of_a_run_runs_and_the_worst_exit_code_wins() {
    let d = items("");
    d.write("broken.csv", "code,name,cost,gtin,uom\nB1,\"open,1,,EA\n");
    d.write("broken.job.toml", item_job("broken", "broken.csv", "", ITEM_FIELDS));
    d.write("other.csv", "code,name,cost,gtin,uom\nC1,Pads,2,,EA\n");
    d.write("other.job.toml", item_job("other", "other.csv", "", ITEM_FIELDS));
    let o = d.run(&["run", "broken.job.toml", "items.job.toml", "other.job.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        d.count("target.db", "SELECT count(*) FROM item WHERE item_id IN ('A1', 'C1')"),
        2
    );
    let out = stdout(&o);
    assert!(out.contains("broken.job.toml │ failed"), "{out}");
    assert!(out.contains("other.job.toml  │ succeeded"), "{out}");
    let o = d.run(&["run", "--fail-fast", "broken.job.toml", "other.job.toml"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("other.job.toml  │ skipped"), "{}", stdout(&o));
}

#[test]
fn run_refuses_what_validate_refuses_with_the_same_place() {
    let d = items("");
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("kind = \"csv\"", "kind = \"csv\"\nencoding = \"klingon\"")
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 0");
    d.write("items.job.toml", &job);
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v = d.run(&["validate", "items.job.toml"]);
    assert_eq!(code(&v), 2);
    for (place, what) in [
        ("items.job.toml:7:12:", "unknown encoding \"klingon\""),
        ("items.job.toml:13:14:", "batch_size must be at least 1"),
    ] {
        for (command, out) in [("run", stderr(&o)), ("validate", stdout(&v))] {
            let line = out.lines().find(|l| l.contains(place)).unwrap_or_default();
            assert!(line.contains(what), "{command}: {out}");
        }
    }
}

#[test]
fn a_job_path_that_is_not_utf8_does_not_panic() {
    use std::os::unix::ffi::OsStrExt;
    let d = items("");
    let name = std::ffi::OsStr::from_bytes(b"items-\xff.job.toml");
    std::fs::copy(d.join("items.job.toml"), d.path().join(name)).unwrap();
    let o = d.cmd(&["run"]).arg(name).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn sigterm_ends_a_run_as_interrupted_and_the_next_run_finishes_it() {
    let d = Dir::new();
    let mut csv = String::from("code,name,cost,gtin,uom\n");
    for i in 0..300_000 {
        csv.push_str(&format!("IT{i:07},Item {i},{}.{:02},,EA\n", i % 500, i % 100));
    }
    d.write("items.csv", &csv);
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 1000");
    d.write("items.job.toml", job);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsync"))
        .current_dir(d.path())
        .env("OPSYNC_LEDGER", d.join("opsync.db"))
        .args(["--quiet", "run", "items.job.toml"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(60) {
        let loaded = rusqlite::Connection::open(d.join("target.db"))
            .and_then(|c| c.query_row("SELECT count(*) FROM item", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if loaded > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    let run = d.query("opsync.db", "SELECT status, inserted FROM runs WHERE id = 1");
    assert_eq!(run[0][0], "interrupted");
    let inserted: i64 = run[0][1].parse().unwrap();
    assert_eq!(
        inserted,
        d.count("target.db", "SELECT count(*) FROM item"),
        "counts match the target"
    );
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 300_000);
}

#[test]
fn preview_finds_duplicate_keys_and_deduplicates_as_run_does() {
    let d = Dir::new();
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA1,Gauze,1,,EA\nA1,Gauze XL,2,,EA\nA2,Tape,1,,EA\n",
    );
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    let o = ok(&d, &["preview", "items.job.toml"]);
    let out = stdout(&o);
    assert!(out.contains("1 rejected, 1 deduplicated"), "{out}");
    assert!(out.contains("item (2 records)"), "{out}");
    assert!(out.contains("duplicate_key"), "{out}");
    ok(&d, &["run", "items.job.toml"]);
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\nA2,Tape,9,,EA\nA3,New,1,,EA\n",
    );
    let out = stdout(&ok(&d, &["preview", "items.job.toml"]));
    for verdict in ["unchanged", "update", "insert"] {
        assert!(out.contains(&format!("│ {verdict}")), "{out}");
    }
}

/// A small deterministic generator (xorshift), so a failing case can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn verdicts_and_snapshot_deletes_are_the_same_whatever_order_the_keys_come_in() {
    use std::collections::BTreeMap;
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let d = Dir::new();
        let batch = [3, 7, 50][(seed % 3) as usize];
        let job = item_job(
            "items",
            "items.csv",
            "mode = \"snapshot\"\nmax_delete_percent = 100",
            ITEM_FIELDS,
        )
        .replace(
            "path = \"target.db\"",
            &format!("path = \"target.db\"\nbatch_size = {batch}"),
        );
        d.write("items.job.toml", job);
        // What the target must hold: key -> cost, live keys only.
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        for run in 0..4 {
            // Rows: (key, cost or None for a rejected row).
            let mut rows: Vec<(String, Option<u64>)> = Vec::new();
            for k in 0..40u64 {
                if rng.below(4) == 0 {
                    continue;
                }
                let key = format!("K{k:03}");
                rows.push((key.clone(), (rng.below(10) != 0).then(|| rng.below(3))));
                if rng.below(8) == 0 {
                    rows.push((key, (rng.below(4) != 0).then(|| rng.below(3))));
                }
            }
            match rng.below(4) {
                0 => {}
                1 => rows.reverse(),
                2 => {
                    for i in (1..rows.len()).rev() {
                        let j = rng.below(i as u64 + 1) as usize;
                        rows.swap(i, j);
                    }
                }
                _ => {
                    let at = rng.below(rows.len() as u64 + 1) as usize;
                    let tail = rows.split_off(at);
                    rows.splice(0..0, tail);
                }
            }
            let mut csv = String::from("code,name,cost,gtin,uom\n");
            for (k, cost) in &rows {
                let cost = cost.map_or("x".to_string(), |c| c.to_string());
                csv.push_str(&format!("{k},Item {k},{cost},,EA\n"));
            }
            d.write("items.csv", csv);
            // The model: the first row of a key decides; a later row with other content is a
            // duplicate; a key whose first row is rejected keeps what the target has.
            let mut first: BTreeMap<&str, Option<u64>> = BTreeMap::new();
            for (k, cost) in &rows {
                first.entry(k.as_str()).or_insert(*cost);
            }
            let mut next: BTreeMap<String, u64> = BTreeMap::new();
            for (k, cost) in &first {
                match cost {
                    Some(c) => {
                        next.insert(k.to_string(), *c);
                    }
                    None => {
                        if let Some(c) = model.get(*k) {
                            next.insert(k.to_string(), *c);
                        }
                    }
                }
            }
            model = next;
            let o = d.run(&["run", "items.job.toml"]);
            assert_eq!(code(&o), 0, "seed {seed} run {run}: {}{}", stdout(&o), stderr(&o));
            let live: BTreeMap<String, u64> = d
                .query("target.db", "SELECT item_id, unit_cost FROM item WHERE _deleted = 0")
                .into_iter()
                .map(|r| (r[0].clone(), r[1].parse().unwrap()))
                .collect();
            assert_eq!(live, model, "seed {seed} run {run} (batch {batch})");
        }
    }
}

#[test]
fn two_snapshot_jobs_feeding_one_entity_of_a_file_target_are_refused_too() {
    let d = Dir::new();
    d.write("a.csv", "code,name,cost,gtin,uom\nA1,Gauze,1,,EA\n");
    d.write("b.csv", "code,name,cost,gtin,uom\nB1,Tape,1,,EA\n");
    for (name, file) in [("site-a", "a"), ("site-b", "b")] {
        let job = item_job(name, &format!("{file}.csv"), "mode = \"snapshot\"", ITEM_FIELDS).replace(
            "kind = \"sqlite\"\npath = \"target.db\"",
            "kind = \"csv\"\ndir = \"out\"",
        );
        d.write(&format!("{file}.job.toml"), job);
    }
    ok(&d, &["run", "a.job.toml"]);
    let o = d.run(&["run", "b.job.toml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("item is also written by job site-a (snapshot mode)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(file_rows(&d, "out/item.csv").len(), 2, "site-a's record is still there");
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_read_only_target_file_is_named_read_only_with_what_to_do() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    // Marked read-only on purpose: refused even to root, who could write it anyway.
    set_mode(&d.join("target.db"), 0o444);
    let o = d.run(&["run", "items.job.toml"]);
    set_mode(&d.join("target.db"), 0o644);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn a_read_only_target_folder_is_named_read_only_with_what_to_do() {
    let d = items("");
    let job = std::fs::read_to_string(d.join("items.job.toml"))
        .unwrap()
        .replace("path = \"target.db\"", "path = \"out/target.db\"");
    d.write("items.job.toml", job);
    ok(&d, &["run", "items.job.toml"]);
    set_mode(&d.join("out"), 0o555);
    let o = d.run(&["run", "items.job.toml"]);
    set_mode(&d.join("out"), 0o755);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    insta::assert_snapshot!(redact(&d, &stderr(&o)));
}

#[test]
fn a_read_only_folder_of_a_csv_target_is_named_read_only() {
    let d = items("");
    csv_job(&d, "");
    ok(&d, &["run", "items.job.toml"]);
    let dir = d.join("out");
    set_mode(&dir, 0o555);
    let o = d.run(&["run", "items.job.toml"]);
    set_mode(&dir, 0o755);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("target folder out is read-only") && err.contains("Make it writable"),
        "{err}"
    );
}

#[test]
fn a_target_table_whose_column_types_would_change_values_is_refused() {
    let d = items("");
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\n007,Gauze,12345678901234.5678,,EA\n",
    );
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute_batch("CREATE TABLE item (item_id TEXT PRIMARY KEY, description NUMERIC, unit_cost REAL)")
        .unwrap();
    drop(conn);
    let o = d.run(&["run", "items.job.toml"]);
    // Before: exit 0 with 7 and 12345678901234.6 stored.
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("column item.description is declared \"NUMERIC\""),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), 0);
}

/// A purchase order job whose line entity comes first in the mapping (so a row's line is handed
/// over before its header), with `extra` on the line entity and a batch of `batch` records.
fn po_job(d: &Dir, line_extra: &str, batch: usize) {
    d.write(
        "po.job.toml",
        format!(
            r#"[job]
name = "po"

[source]
kind = "csv"
path = "po.csv"

[target]
kind = "sqlite"
path = "target.db"
batch_size = {batch}

[[entity]]
name = "purchase_order_line"
{line_extra}
[entity.fields]
po_number = {{ from = "PO" }}
line_no = {{ from = "Line", steps = [{{ step = "to_integer" }}] }}
item_id = {{ from = "Item" }}
quantity = {{ from = "Qty", steps = [{{ step = "to_decimal" }}] }}

[[entity]]
name = "purchase_order"
[entity.fields]
po_number = {{ from = "PO" }}
supplier_id = {{ from = "Sup" }}
"#
        ),
    );
}

#[test]
fn a_po_line_is_rejected_when_its_header_of_the_same_row_is_a_duplicate_key() {
    for batch in [1, 2, 1000] {
        let d = Dir::new();
        d.write(
            "po.csv",
            "PO,Sup,Line,Item,Qty\nP1,S1,1,I1,1\nP1,S2,2,I2,2\nP1,S1,3,I3,3\nP2,S3,1,I4,4\n",
        );
        po_job(&d, "", batch);
        // preview decides as run does.
        let o = ok(&d, &["preview", "po.job.toml"]);
        let preview = stdout(&o);
        assert!(
            preview
                .lines()
                .any(|l| l.contains("P1|2") && l.contains("parent_rejected")),
            "{preview}"
        );
        ok(&d, &["run", "po.job.toml"]);
        // Row 2 says supplier S2 for P1: its header is a duplicate key, and its line is not
        // loaded under the header of another supplier.
        assert_eq!(
            d.query(
                "target.db",
                "SELECT po_number, line_no FROM purchase_order_line ORDER BY 1, 2"
            ),
            [["P1", "1"], ["P1", "3"], ["P2", "1"]],
            "batch {batch}"
        );
        let rejects = d.query(
            "opsync.db",
            "SELECT row, entity, key, rule, message FROM rejects ORDER BY row, entity",
        );
        assert_eq!(rejects.len(), 2, "batch {batch}: {rejects:?}");
        assert_eq!(rejects[0][..4], ["2", "purchase_order", "P1", "duplicate_key"]);
        assert_eq!(rejects[1][..4], ["2", "purchase_order_line", "P1|2", "parent_rejected"]);
        assert!(
            rejects[1][4].starts_with("parent purchase_order \"P1\" was rejected: po_number: key \"P1\" appears again"),
            "{}",
            rejects[1][4]
        );
        assert_eq!(
            d.query("opsync.db", "SELECT rejected_rows, inserted FROM runs"),
            [["1", "5"]],
            "batch {batch}"
        );
    }
}

#[test]
fn a_po_line_whose_mapping_says_load_is_loaded_when_its_header_is_a_duplicate_key() {
    let d = Dir::new();
    d.write("po.csv", "PO,Sup,Line,Item,Qty\nP1,S1,1,I1,1\nP1,S2,2,I2,2\n");
    po_job(&d, "on_parent_reject = \"load\"", 1);
    ok(&d, &["run", "po.job.toml"]);
    assert_eq!(d.count("target.db", "SELECT count(*) FROM purchase_order_line"), 2);
    assert_eq!(
        d.query("opsync.db", "SELECT entity, rule FROM rejects"),
        [["purchase_order", "duplicate_key"]]
    );
}

#[test]
fn temporary_files_left_by_a_killed_run_do_not_stay_in_a_file_target() {
    let d = items("");
    csv_job(&d, "");
    ok(&d, &["run", "items.job.toml"]);
    // What a run killed while writing (or on a full disk) left behind.
    d.write("out/.item.csv.tmp", "code,name\nhalf");
    d.write("out/..opsync-jobs.json.999999.tmp", "{\"item\": [");
    ok(&d, &["run", "items.job.toml"]);
    let mut left: Vec<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    left.sort();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(file_rows(&d, "out/item.csv").len(), 6);
}
