//! A time-bounded fuzz run of the CSV / encoding / mapping path (issue 8): the project's samples
//! and small generated files, mutated (bytes, lines, headers, values), run through the real
//! binary twice (the second run on the same input must change nothing), sometimes with another
//! mutation in between so that state carries over and snapshot deletes happen. A run may fail on
//! bad input (exit 1, 2 or 3); it may not panic, hang, die of a signal or break its accounting,
//! and the counts it records must agree with what the target holds.
//!
//! In-process, the same mutations go through `source::open`, binding and `Mapping::apply`
//! (thousands of cases a second) with `catch_unwind` turning a panic into a finding.
//!
//! `OPSYNC_FUZZ_SECONDS` bounds the run (default 60; 0 runs each seed once, unmutated and
//! mutated). `OPSYNC_FUZZ_SEED` fixes the base seed; `OPSYNC_FUZZ_CASE` replays one case by the
//! seed a finding prints. `cargo test --test fuzz -- --nocapture` shows the counts.

mod common;

#[path = "fuzz/inprocess.rs"]
mod inprocess;
#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/seeds.rs"]
mod seeds;
#[path = "fuzz/workbook.rs"]
mod workbook;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mutate::Rng;
use seeds::{Laid, Library, Seed};

/// A run that takes longer than this is a hang (the inputs are a few KB, a long field 128 KB).
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Findings kept in full; more are counted.
const KEEP_FINDINGS: usize = 20;

/// The budget, the base seed and a case to replay, from the environment.
pub struct Plan {
    pub budget: Duration,
    pub base: u64,
    pub replay: Option<u64>,
    /// `OPSYNC_FUZZ_SEEDS=name,name`: only these seeds (a replay needs the same list).
    pub only: Option<Vec<String>>,
}

impl Plan {
    pub fn from_env() -> Plan {
        let number = |name: &str| {
            std::env::var(name).ok().map(|v| {
                let v = v.trim();
                match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => v.parse(),
                }
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
            })
        };
        let base = number("OPSYNC_FUZZ_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        Plan {
            budget: Duration::from_secs(number("OPSYNC_FUZZ_SECONDS").unwrap_or(60)),
            base,
            replay: number("OPSYNC_FUZZ_CASE"),
            only: std::env::var("OPSYNC_FUZZ_SEEDS")
                .ok()
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
        }
    }

    /// The seeds this run uses.
    pub fn seeds(&self) -> Vec<Seed> {
        let all = seeds::all();
        let Some(only) = &self.only else {
            return all;
        };
        let chosen: Vec<Seed> = all.into_iter().filter(|s| only.iter().any(|o| o == s.name)).collect();
        assert!(!chosen.is_empty(), "OPSYNC_FUZZ_SEEDS names no seed");
        chosen
    }

    /// The seed of case `i`: the replayed case, or one derived from the base seed.
    pub fn case_seed(&self, i: u64) -> u64 {
        self.replay
            .unwrap_or_else(|| Rng::new(self.base ^ i.wrapping_mul(0xA076_1D64_78BD_642F)).next())
    }
}

/// A scratch folder for a case: in memory where the system has a RAM disk, because the target
/// and the ledger sync every commit to disk and that, not opsync, would set the pace
/// (`OPSYNC_FUZZ_DIR` chooses another place).
pub fn scratch() -> tempfile::TempDir {
    let dir = std::env::var_os("OPSYNC_FUZZ_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(std::path::PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("opsync-fuzz-")
        .tempdir_in(dir)
        .expect("scratch folder")
}

/// How one run of the binary ended.
struct Ran {
    code: Option<i32>,
    timed_out: bool,
    output: String,
}

/// `opsync run JOB` in `root`, killed when it outlives `RUN_TIMEOUT`. Output goes to files, so
/// a talkative run cannot block on a full pipe.
fn run_opsync(root: &Path, job: &str) -> Ran {
    let out_path = root.join(".fuzz-output");
    let out = std::fs::File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("output file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsync"))
        .current_dir(root)
        .env("OPSYNC_LEDGER", root.join("opsync.db"))
        .env_remove("OPSYNC_TARGET")
        .env_remove("OPSYNC_FAILPOINT")
        .args(["--no-progress", "run", job])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start opsync");
    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for opsync") {
            break (Some(status), false);
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let output = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned();
    Ran {
        code: status.and_then(|s| s.code()),
        timed_out,
        output,
    }
}

/// A run's row in the ledger, with its per-entity accounting.
#[derive(Debug, Default)]
struct RunRow {
    id: i64,
    status: String,
    read: i64,
    inserted: i64,
    updated: i64,
    deleted: i64,
    entities: Vec<EntityRow>,
}

#[derive(Debug)]
struct EntityRow {
    entity: String,
    /// read, malformed, filtered, rejected, deduplicated, inserted, updated, unchanged, deleted
    counts: [i64; 9],
    live_before: Option<i64>,
    live_after: Option<i64>,
}

fn last_run(root: &Path) -> Result<Option<RunRow>, String> {
    let path = root.join("opsync.db");
    if !path.exists() {
        return Ok(None);
    }
    let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
    let row = conn.query_row(
        "SELECT id, status, read, inserted, updated, deleted FROM runs ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            Ok(RunRow {
                id: r.get(0)?,
                status: r.get(1)?,
                read: r.get(2)?,
                inserted: r.get(3)?,
                updated: r.get(4)?,
                deleted: r.get(5)?,
                entities: Vec::new(),
            })
        },
    );
    let mut row = match row {
        Ok(r) => r,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
        Err(e) => return Err(format!("the ledger's runs: {e}")),
    };
    let mut stmt = conn
        .prepare(
            "SELECT entity, read, malformed, filtered, rejected, deduplicated, inserted, updated, unchanged, \
             deleted, live_before, live_after FROM run_entities WHERE run = ?1 ORDER BY entity",
        )
        .map_err(|e| e.to_string())?;
    let entities = stmt
        .query_map([row.id], |r| {
            let mut counts = [0i64; 9];
            for (i, c) in counts.iter_mut().enumerate() {
                *c = r.get(i + 1)?;
            }
            Ok(EntityRow {
                entity: r.get(0)?,
                counts,
                live_before: r.get(10)?,
                live_after: r.get(11)?,
            })
        })
        .map_err(|e| e.to_string())?;
    for e in entities {
        row.entities.push(e.map_err(|e| e.to_string())?);
    }
    Ok(Some(row))
}

/// What the runs of one case showed.
#[derive(Default)]
struct Tally {
    cases: u64,
    runs: u64,
    codes: BTreeMap<String, u64>,
    findings: Vec<String>,
    more_findings: u64,
}

impl Tally {
    fn finding(&mut self, text: String) {
        if self.findings.len() < KEEP_FINDINGS {
            self.findings.push(text);
        } else {
            self.more_findings += 1;
        }
    }
}

/// Judge one run: its exit, its output, its ledger row against the target. `before` is the
/// target's live count per entity before the run. Returns the run's row, and the problems.
fn judge(
    seed: &Seed,
    laid: &Laid,
    ran: &Ran,
    last_id: i64,
    before: &BTreeMap<&str, u64>,
) -> (Option<RunRow>, Vec<String>) {
    let mut problems = Vec::new();
    if ran.timed_out {
        problems.push(format!("still running after {}s: killed", RUN_TIMEOUT.as_secs()));
    }
    match ran.code {
        Some(0..=3) => {}
        Some(c) => problems.push(format!("exit {c}")),
        None if !ran.timed_out => problems.push("ended by a signal".into()),
        None => {}
    }
    if ran.output.contains("panicked") {
        problems.push("panicked".into());
    }
    if ran.output.contains("accounting does not hold") {
        problems.push("the run's own accounting check failed".into());
    }
    let row = match last_run(&laid.root) {
        Ok(r) => r.filter(|r| r.id > last_id),
        Err(e) => {
            problems.push(format!("cannot read the ledger: {e}"));
            None
        }
    };
    let Some(row) = row else {
        return (None, problems);
    };
    if row.status == "running" {
        problems.push(format!("run {} left `running`", row.id));
    }
    let finished = matches!(ran.code, Some(0 | 3));
    for e in &row.entities {
        let [
            read,
            malformed,
            filtered,
            rejected,
            dedup,
            inserted,
            updated,
            unchanged,
            deleted,
        ] = e.counts;
        let sum = malformed + filtered + rejected + dedup + inserted + updated + unchanged;
        if finished && sum != read {
            problems.push(format!(
                "{}: {read} read but {malformed} malformed + {filtered} filtered + {rejected} rejected + {dedup} \
                 deduplicated + {inserted} inserted + {updated} updated + {unchanged} unchanged = {sum}",
                e.entity
            ));
        }
        if !seed.entities.contains(&e.entity.as_str()) {
            continue;
        }
        let live = match laid.live(&e.entity) {
            Ok(n) => n as i64,
            Err(err) => {
                problems.push(format!("{}: cannot count the target's records: {err}", e.entity));
                continue;
            }
        };
        if let Some(lb) = e.live_before {
            let was = before.get(e.entity.as_str()).copied().unwrap_or(0) as i64;
            if lb != was {
                problems.push(format!(
                    "{}: the ledger says {lb} live records before the run, the target held {was}",
                    e.entity
                ));
            }
            if live != lb + inserted - deleted {
                problems.push(format!(
                    "{}: the target holds {live} live records, but the ledger's {lb} before + {inserted} inserted \
                     - {deleted} deleted = {}",
                    e.entity,
                    lb + inserted - deleted
                ));
            }
        }
        if finished
            && let Some(la) = e.live_after
            && la != live
        {
            problems.push(format!(
                "{}: the ledger says {la} live records after the run, the target holds {live}",
                e.entity
            ));
        }
    }
    (Some(row), problems)
}

fn live_counts<'s>(seed: &'s Seed, laid: &Laid) -> BTreeMap<&'s str, u64> {
    seed.entities.iter().map(|e| (*e, laid.live(e).unwrap_or(0))).collect()
}

/// One case: the seed laid out, its inputs run in turn, the last one twice.
fn run_case(lib: &Library, seeds: &[Seed], case_seed: u64, tally: &mut Tally) {
    let mut rng = Rng::new(case_seed);
    let seed = &seeds[rng.below(seeds.len())];
    let dir = scratch();
    let laid = seed.lay_out(lib, dir.path(), &mut rng);
    let mut inputs: Vec<(Vec<u8>, String)> = Vec::new();
    if rng.chance(1, 2) {
        inputs.push((laid.original.clone(), "the seed as it is".into()));
    }
    inputs.push(seed.mutation(&laid, &mut rng));
    if rng.chance(1, 3) {
        inputs.push(seed.mutation(&laid, &mut rng));
    }
    let last = inputs.last().cloned().expect("an input");
    inputs.push((last.0, "the same input again".into()));
    let mut last_id = 0;
    let mut history: Vec<String> = Vec::new();
    let mut previous: Option<(Option<i32>, RunRow)> = None;
    for (n, (bytes, said)) in inputs.iter().enumerate() {
        let repeat = n + 1 == inputs.len();
        std::fs::write(laid.root.join(seed.source), bytes).expect("write the input");
        let before = live_counts(seed, &laid);
        let ran = run_opsync(&laid.root, seed.job);
        tally.runs += 1;
        let code = match (ran.code, ran.timed_out) {
            (Some(c), _) => format!("exit {c}"),
            (None, true) => "timeout".into(),
            (None, false) => "signal".into(),
        };
        *tally.codes.entry(code.clone()).or_default() += 1;
        history.push(format!("run {}: {said} -> {code}", n + 1));
        if std::env::var_os("OPSYNC_FUZZ_VERBOSE").is_some() {
            let last = ran
                .output
                .lines()
                .filter(|l| l.contains("opsync:"))
                .take(2)
                .collect::<Vec<_>>();
            println!("{case_seed:#x} {} run {}: {said} -> {code} {last:?}", seed.name, n + 1);
        }
        let (row, mut problems) = judge(seed, &laid, &ran, last_id, &before);
        if repeat && let (Some((prev_code, prev)), Some(row)) = (&previous, &row) {
            if row.inserted + row.updated + row.deleted != 0 {
                problems.push(format!(
                    "the same input again: {} inserted, {} updated, {} deleted (expected none)",
                    row.inserted, row.updated, row.deleted
                ));
            }
            if *prev_code != ran.code || prev.read != row.read {
                problems.push(format!(
                    "the same input again: exit {:?} and {} read, the run before: exit {prev_code:?} and {} read",
                    ran.code, row.read, prev.read
                ));
            }
        }
        if !problems.is_empty() {
            let kept = dir.keep();
            let excerpt: String = ran.output.lines().take(30).collect::<Vec<_>>().join("\n    ");
            tally.finding(format!(
                "seed {} ({}), case {case_seed:#018x} (OPSYNC_FUZZ_CASE={case_seed:#x}): {}\n  {}\n  files kept in {}\n  \
                 output of the last run:\n    {excerpt}",
                seed.name,
                laid.variant,
                problems.join("; "),
                history.join("\n  "),
                kept.display()
            ));
            return;
        }
        if let Some(row) = row {
            last_id = row.id;
            previous = Some((ran.code, row));
        } else {
            previous = None;
        }
    }
}

#[test]
fn mutated_inputs_never_panic_hang_or_break_the_accounting() {
    let plan = Plan::from_env();
    let lib = Library::load();
    let seeds = plan.seeds();
    let started = Instant::now();
    let mut tally = Tally::default();
    println!(
        "fuzz (binary): base seed {:#x} (OPSYNC_FUZZ_SEED), budget {}s (OPSYNC_FUZZ_SECONDS)",
        plan.base,
        plan.budget.as_secs()
    );
    if let Some(case) = plan.replay {
        run_case(&lib, &seeds, case, &mut tally);
        tally.cases = 1;
    } else {
        // Every seed once as it is, unmutated, whatever the budget: a seed that does not load
        // cleanly would make the run test nothing.
        for seed in &seeds {
            let dir = scratch();
            let laid = seed.lay_out(&lib, dir.path(), &mut Rng::new(plan.base));
            let before = live_counts(seed, &laid);
            let ran = run_opsync(&laid.root, seed.job);
            let (_, problems) = judge(seed, &laid, &ran, 0, &before);
            assert!(
                matches!(ran.code, Some(0 | 3)) && problems.is_empty(),
                "seed {} ({}) does not run as it is: {:?} {problems:?}\n{}",
                seed.name,
                laid.variant,
                ran.code,
                ran.output
            );
        }
        let mut i = 0;
        while started.elapsed() < plan.budget || i < seeds.len() as u64 {
            run_case(&lib, &seeds, plan.case_seed(i), &mut tally);
            tally.cases += 1;
            i += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz (binary): {} cases, {} runs in {secs:.1}s ({:.1} runs/s); {}",
        tally.cases,
        tally.runs,
        tally.runs as f64 / secs.max(0.001),
        tally
            .codes
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        tally.findings.is_empty(),
        "{} finding(s){}:\n\n{}",
        tally.findings.len() as u64 + tally.more_findings,
        if tally.more_findings > 0 {
            format!(" ({} not shown)", tally.more_findings)
        } else {
            String::new()
        },
        tally.findings.join("\n\n")
    );
}

#[test]
fn mutated_inputs_never_panic_in_the_reader_or_the_mapping() {
    inprocess::run(&Plan::from_env());
}
