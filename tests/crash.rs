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

/// An item CSV of `n` rows whose values (and some keys) depend on `version`.
fn versioned_csv(version: u32, n: usize) -> String {
    let mut s = String::from("code,name,cost,gtin,uom\n");
    for i in 0..n {
        // Each version drops a different tenth of the keys and prices every row differently.
        if (i + version as usize).is_multiple_of(10) {
            continue;
        }
        s.push_str(&format!(
            "IT{i:05},Item {i} v{version},{}.{:02},,EA\n",
            i % 50 + version as usize,
            i % 100
        ));
    }
    s
}

fn versioned_setup(d: &Dir, target: &str) {
    let job = item_job(
        "items",
        "items.csv",
        "mode = \"snapshot\"\nmax_delete_percent = 100",
        ITEM_FIELDS,
    );
    let job = match target {
        "sqlite" => job.replace("path = \"target.db\"", "path = \"target.db\"\nbatch_size = 100"),
        _ => job.replace(
            "kind = \"sqlite\"\npath = \"target.db\"",
            &format!("kind = \"{target}\"\ndir = \"out\""),
        ),
    };
    d.write("items.job.toml", job);
}

/// The live records of the target, data columns only (a load spread over killed runs carries
/// several run ids, so the bookkeeping columns differ by design).
fn live_data(d: &Dir, target: &str) -> Vec<String> {
    match target {
        "sqlite" => d
            .query(
                "target.db",
                "SELECT item_id, description, unit_cost, gtin, uom FROM item WHERE _deleted = 0 ORDER BY item_id",
            )
            .into_iter()
            .map(|r| r.join(","))
            .collect(),
        kind => std::fs::read_to_string(d.join(&format!("out/item.{kind}")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
    }
}

fn run_to_end(d: &Dir) {
    let o = d.run(&["--quiet", "run", "items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// kill -9 at each point between the commits of a run (injected, not timed), with the input changed
/// before the run that follows: the target ends as a clean run on that input leaves it, and the
/// ledger keeps exactly the killed run's batches the target holds.
#[test]
fn kill_9_at_every_commit_point_then_a_rerun_on_changed_input_converges() {
    const N: usize = 2_000;
    for target in ["sqlite", "csv", "jsonl"] {
        let clean = Dir::new();
        versioned_setup(&clean, target);
        clean.write("items.csv", versioned_csv(1, N));
        run_to_end(&clean);
        let reference = live_data(&clean, target);
        assert!(reference.len() > N / 2);

        // A file target writes one batch of records and one of deletes here.
        let points = match target {
            "sqlite" => vec![
                "batch_recorded:1",
                "batch_recorded:7",
                "batch_committed:1",
                "batch_committed:12",
            ],
            _ => vec![
                "batch_recorded:1",
                "batch_recorded:2",
                "batch_committed:2",
                "swap_recorded",
                "swapped",
            ],
        };
        for point in points {
            let d = Dir::new();
            versioned_setup(&d, target);
            d.write("items.csv", versioned_csv(1, N));
            run_to_end(&d);
            // A run on other input dies at the fault point...
            d.write("items.csv", versioned_csv(2, N));
            let o = d
                .cmd(&["--quiet", "run", "items.job.toml"])
                .env("OPSYNC_FAILPOINT", point)
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                None,
                "{target} {point}: the run was killed: {}",
                stderr(&o)
            );
            // ... and the next run sees the first input again.
            d.write("items.csv", versioned_csv(1, N));
            run_to_end(&d);
            assert_eq!(live_data(&d, target), reference, "{target} {point}");
            let status = d.query("opsync.db", "SELECT status FROM runs ORDER BY id");
            assert_eq!(
                status,
                vec![vec!["succeeded"], vec!["interrupted"], vec!["succeeded"]],
                "{target} {point}"
            );
            if target == "sqlite" {
                let ledger = d.count("opsync.db", "SELECT count(*) FROM run_batches WHERE run = 2");
                let markers = d.count("target.db", "SELECT count(*) FROM _opsync_batches WHERE run = 2");
                assert_eq!(
                    ledger, markers,
                    "{point}: the ledger keeps the batches the target holds"
                );
                let recorded = d.count(
                    "opsync.db",
                    "SELECT inserted + updated + deleted FROM runs WHERE id = 2",
                );
                let held = d.count(
                    "target.db",
                    "SELECT coalesce(sum(inserted + updated + deleted), 0) FROM _opsync_batches WHERE run = 2",
                );
                assert_eq!(
                    recorded, held,
                    "{point}: the killed run's counts are what the target holds"
                );
            }
            // A further run finds nothing to do.
            let o = d.run(&["--log-format", "json", "run", "items.job.toml"]);
            assert_eq!(code(&o), 0);
            assert_eq!(
                d.count(
                    "opsync.db",
                    "SELECT inserted + updated + deleted FROM runs WHERE id = 4"
                ),
                0,
                "{target} {point}"
            );
        }
    }
}
