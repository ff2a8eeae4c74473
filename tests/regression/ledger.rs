//! The run ledger: where it is found, its locks, and a ledger restored or replaced.

use crate::common::*;
use crate::state::{ITEMS, items, live_items, ok};

/// Copy the ledger (and its WAL companions) aside, or back.
fn copy_ledger(d: &Dir, from: &str, to: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let (src, dst) = (d.join(&format!("{from}{suffix}")), d.join(&format!("{to}{suffix}")));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn the_ledger_is_the_same_whatever_folder_the_job_is_run_from() {
    let d = Dir::new();
    d.write("opsync.toml", "[project]\nledger = \"state/opsync.db\"\n");
    d.write("jobs/items.csv", ITEMS);
    d.write("jobs/items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    std::fs::create_dir_all(d.join("elsewhere")).unwrap();
    let run_in = |dir: &str, job: &str| {
        let mut c = assert_cmd::Command::cargo_bin("opsync").unwrap();
        c.current_dir(d.join(dir))
            .env_remove("OPSYNC_LEDGER")
            .env_remove("OPSYNC_TARGET");
        c.args(["run", job]).output().unwrap()
    };
    assert_eq!(code(&run_in("jobs", "items.job.toml")), 0);
    assert_eq!(code(&run_in("elsewhere", "../jobs/items.job.toml")), 0);
    assert_eq!(d.count("state/opsync.db", "SELECT count(*) FROM runs"), 2);
    assert!(!d.join("jobs/opsync.db").exists() && !d.join("elsewhere/opsync.db").exists());
    let mut c = assert_cmd::Command::cargo_bin("opsync").unwrap();
    let o = c
        .current_dir(d.join("jobs"))
        .env_remove("OPSYNC_LEDGER")
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("items"), "{}", stdout(&o));
}

#[test]
fn the_job_lock_belongs_to_the_ledger_file_not_the_path_typed() {
    let d = items("");
    std::fs::create_dir_all(d.join("real")).unwrap();
    std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
    std::os::unix::fs::symlink(d.join("real/opsync.db"), d.join("other.db")).unwrap();
    ok(&d, &["--ledger", "real/opsync.db", "run", "items.job.toml"]);
    let lock = d.join("real/opsync.db.locks/items.lock");
    let held = std::fs::File::open(&lock).unwrap();
    held.try_lock().unwrap();
    // Through a linked folder and through a link to the ledger file itself: one lock.
    for ledger in ["link/opsync.db", "other.db"] {
        let o = d.run(&["--ledger", ledger, "run", "items.job.toml"]);
        assert_eq!(code(&o), 5, "{ledger}: {}", stderr(&o));
    }
}

#[test]
fn a_ledger_path_that_is_a_folder_is_named_a_folder() {
    let d = items("");
    std::fs::create_dir_all(d.join("ledger.db")).unwrap();
    let o = d.run(&["--ledger", "ledger.db", "run", "items.job.toml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is a folder"), "{}", stderr(&o));
}

#[test]
fn reading_a_read_only_ledger_leaves_no_read_only_files_that_block_the_next_run() {
    use std::os::unix::fs::PermissionsExt;
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    for f in ["opsync.db-wal", "opsync.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    std::fs::set_permissions(d.join("opsync.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
    ok(&d, &["runs"]);
    ok(&d, &["runs", "show", "1"]);
    ok(&d, &["rejects"]);
    for f in ["opsync.db-wal", "opsync.db-shm"] {
        assert!(!d.join(f).exists(), "{f} was left behind by a reader");
    }
    // Companion files left read-only (by an older reader) are mended once the ledger is writable.
    std::fs::set_permissions(d.join("opsync.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    d.write("opsync.db-shm", vec![0u8; 32768]);
    std::fs::set_permissions(d.join("opsync.db-shm"), std::fs::Permissions::from_mode(0o444)).unwrap();
    ok(&d, &["run", "items.job.toml"]);
    let mode = std::fs::metadata(d.join("opsync.db-shm")).map(|m| m.permissions().mode() & 0o777);
    assert!(mode.is_err() || mode.as_ref().is_ok_and(|m| m & 0o200 != 0), "{mode:?}");
}

#[test]
fn a_ledger_restored_from_a_backup_does_not_take_the_lost_runs_markers_for_its_own() {
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nA,a,1,,EA\nB,b,1,,EA\n");
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    ok(&d, &["run", "items.job.toml"]);
    copy_ledger(&d, "opsync.db", "backup.db");
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA,a,2,,EA\nB,b,2,,EA\nC,c,1,,EA\n",
    );
    ok(&d, &["run", "items.job.toml"]);
    copy_ledger(&d, "backup.db", "opsync.db");

    // Run 2 again, killed after recording its first batch and before the target committed it:
    // the target holds a batch 1 of the lost run 2.
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nX,x,9,,EA\nY,y,9,,EA\nZ,z,9,,EA\n",
    );
    let o = d
        .cmd(&["run", "items.job.toml"])
        .env("OPSYNC_FAILPOINT", "batch_recorded:1")
        .output()
        .unwrap();
    assert_ne!(code(&o), 0, "the failpoint kills the run");
    d.write("items.csv", "code,name,cost,gtin,uom\nA,a,2,,EA\n");
    let o = ok(&d, &["run", "items.job.toml"]);
    assert!(
        stderr(&o).contains("the ledger was restored from a backup"),
        "{}",
        stderr(&o)
    );

    assert_eq!(
        d.count(
            "target.db",
            "SELECT count(*) FROM item WHERE item_id IN ('X', 'Y', 'Z')"
        ),
        0
    );
    // The killed run loaded nothing, and the ledger says so.
    assert_eq!(
        d.query("opsync.db", "SELECT status, inserted FROM runs WHERE id = 2"),
        vec![vec!["interrupted", "0"]]
    );
    assert_eq!(
        d.count("opsync.db", "SELECT count(*) FROM run_batches WHERE run = 2"),
        0
    );
    let o = ok(&d, &["runs", "show", "2", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["run"]["inserted"], 0, "{doc}");
}

#[test]
fn a_plain_run_after_a_ledger_restore_loads_and_says_the_ledger_was_restored() {
    let d = Dir::new();
    d.write("items.csv", "code,name,cost,gtin,uom\nA,a,1,,EA\nB,b,1,,EA\n");
    d.write("items.job.toml", item_job("items", "items.csv", "", ITEM_FIELDS));
    ok(&d, &["run", "items.job.toml"]);
    copy_ledger(&d, "opsync.db", "backup.db");
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA,a,2,,EA\nB,b,2,,EA\nC,c,1,,EA\n",
    );
    ok(&d, &["run", "items.job.toml"]);
    copy_ledger(&d, "backup.db", "opsync.db");
    d.write(
        "items.csv",
        "code,name,cost,gtin,uom\nA,a,3,,EA\nB,b,2,,EA\nC,c,1,,EA\nD,d,1,,EA\n",
    );
    let o = ok(&d, &["run", "items.job.toml"]);
    let err = stderr(&o);
    assert!(
        err.contains("holds batches of run(s) 2") && err.contains("opsync.db"),
        "{err}"
    );
    assert_eq!(
        d.query(
            "opsync.db",
            "SELECT status, inserted, updated, unchanged FROM runs WHERE id = 2"
        ),
        vec![vec!["succeeded", "1", "1", "2"]]
    );
    assert_eq!(
        live_items(&d, "target.db")
            .iter()
            .map(|r| r[2].clone())
            .collect::<Vec<_>>(),
        ["3", "2", "1", "1"]
    );
    // Reported once: the next run has nothing new to say.
    let o = ok(&d, &["run", "items.job.toml"]);
    assert!(!stderr(&o).contains("restored"), "{}", stderr(&o));
}

#[test]
fn a_target_whose_batch_markers_predate_run_tokens_is_upgraded_and_still_loads() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE old AS SELECT ledger, run, entity, seq, inserted, updated, deleted FROM _opsync_batches;
         DROP TABLE _opsync_batches;
         CREATE TABLE _opsync_batches (ledger TEXT NOT NULL, run INTEGER NOT NULL, entity TEXT NOT NULL,
           seq INTEGER NOT NULL, inserted INTEGER NOT NULL, updated INTEGER NOT NULL, deleted INTEGER NOT NULL,
           PRIMARY KEY (ledger, run, entity, seq)) WITHOUT ROWID;
         INSERT INTO _opsync_batches SELECT * FROM old; DROP TABLE old;",
    )
    .unwrap();
    drop(conn);
    d.write("items.csv", ITEMS.replace("1.25", "1.30"));
    ok(&d, &["run", "items.job.toml"]);
    assert_eq!(
        d.query("target.db", "SELECT run, token = '' FROM _opsync_batches ORDER BY run"),
        vec![vec!["1", "1"], vec!["2", "0"]]
    );
}

#[test]
fn a_snapshot_job_run_with_a_new_ledger_is_told_the_target_is_registered_to_another_ledger() {
    let d = items("mode = \"snapshot\"");
    ok(&d, &["run", "items.job.toml"]);
    for f in ["opsync.db", "opsync.db-wal", "opsync.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let ids = regex::Regex::new(r"[0-9a-f]{32}").unwrap();
    let err = redact(&d, &stderr(&o));
    // The two ids are told apart: the one in the target's registry is the first.
    let old: Vec<String> = d.query("target.db", "SELECT ledger FROM _opsync_jobs").concat();
    let err = err.replace(&old[0], "[OLD_LEDGER_ID]");
    insta::assert_snapshot!(ids.replace_all(&err, "[NEW_LEDGER_ID]"));
    // The handover it names works: the next run loads.
    let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
    conn.execute(
        "DELETE FROM _opsync_jobs WHERE entity = 'item' AND job = 'items' AND ledger = ?1",
        [&old[0]],
    )
    .unwrap();
    drop(conn);
    ok(&d, &["run", "items.job.toml"]);
}

#[test]
fn a_run_still_running_or_killed_shows_its_counts_as_unknown_not_zero() {
    let d = items("");
    ok(&d, &["run", "items.job.toml"]);
    // What a process killed mid-load leaves until the next run of its job settles it: a run
    // marked running whose counts were never written, while the target holds its batches.
    let conn = rusqlite::Connection::open(d.join("opsync.db")).unwrap();
    conn.execute("UPDATE runs SET status = 'running', ended_at = NULL", [])
        .unwrap();
    drop(conn);
    let o = ok(&d, &["runs"]);
    let row = stdout(&o)
        .lines()
        .find(|l| l.contains("items"))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains("running") && row.contains("unknown"), "{row}");
    assert!(!row.contains(" 5 "), "{row}");
    let o = ok(&d, &["runs", "show", "1"]);
    assert!(stdout(&o).contains("inserted unknown"), "{}", stdout(&o));
    let o = ok(&d, &["runs", "show", "1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for k in ["read", "inserted", "unchanged", "rejected"] {
        assert_eq!(v["run"][k], serde_json::Value::Null, "{k}: {}", v["run"]);
    }
    assert_eq!(v["run"]["rows_known"], serde_json::Value::Bool(false));
    let o = ok(&d, &["runs", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["inserted"], serde_json::Value::Null, "{}", v[0]);
}
