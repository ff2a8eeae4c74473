//! kill -9 in the middle of a load, then a re-run: the target ends exactly as after one clean
//! run, nothing duplicated or lost.

mod common;

use std::time::{Duration, Instant};

use common::{Dir, ITEM_FIELDS, code, item_job, stderr};

const ROWS: usize = 100_000;

fn big_csv() -> String {
    let mut s = String::from("code,name,cost,gtin,uom\n");
    for i in 0..ROWS {
        s.push_str(&format!("IT{i:07},Item number {i},{}.{:02},,EA\n", i % 500, i % 100));
    }
    s
}

fn setup(d: &Dir) {
    d.write("items.csv", big_csv());
    let job = item_job("items", "items.csv", "", ITEM_FIELDS)
        .replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 500");
    d.write("items.job.toml", job);
}

fn table(d: &Dir) -> Vec<Vec<String>> {
    d.query(
        "target.db",
        "SELECT item_id, description, unit_cost, gtin, uom, _deleted FROM item ORDER BY item_id",
    )
}

#[test]
fn kill_9_during_a_load_then_a_rerun_converges_on_a_clean_run() {
    let clean = Dir::new();
    setup(&clean);
    assert_eq!(code(&clean.run(&["run", "items.job.toml"])), 0);

    let d = Dir::new();
    setup(&d);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsync"))
        .current_dir(d.path())
        .env("OPSYNC_LEDGER", d.join("opsync.db"))
        .args(["--quiet", "run", "items.job.toml"])
        .spawn()
        .unwrap();
    // Wait until some batches are committed, then kill the run without warning.
    let started = Instant::now();
    let mut loaded = 0;
    while started.elapsed() < Duration::from_secs(60) {
        if d.join("target.db").exists() {
            let conn = rusqlite::Connection::open(d.join("target.db")).unwrap();
            loaded = conn
                .query_row("SELECT count(*) FROM item", [], |r| r.get(0))
                .unwrap_or(0);
            if loaded > 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        loaded > 0 && (loaded as usize) < ROWS,
        "killed part-way: {loaded} of {ROWS} rows were in"
    );

    let o = d.run(&["run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("earlier run(s) of this job ended without finishing"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.count("target.db", "SELECT count(*) FROM item"), ROWS as i64);
    assert_eq!(table(&d), table(&clean), "the target equals a clean run's");
    assert_eq!(
        d.query("opsync.db", "SELECT status FROM runs ORDER BY id"),
        vec![vec!["interrupted"], vec!["succeeded"]]
    );

    // And a third run finds everything unchanged.
    let o = d.run(&["--log-format", "json", "run", "items.job.toml"]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        d.count("opsync.db", "SELECT unchanged FROM runs WHERE id = 3"),
        ROWS as i64
    );
}
