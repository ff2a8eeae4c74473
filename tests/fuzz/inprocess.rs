//! The fuzz run without the binary: mutated bytes through `source::open`, binding and
//! `Mapping::apply` (by `pipeline::drive`), thousands of cases a second. A panic is caught and
//! becomes a finding with its case seed; a case that stops making progress is a hang. Every
//! case must also account for its rows: per entity, rows read = rows that made a record or a
//! reject of it + rows filtered + malformed rows.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opsync::pipeline::{RowEvent, Silent, drive};

use crate::Plan;
use crate::mutate::Rng;
use crate::seeds::{Library, Seed};

/// No case may take this long: the inputs are a few KB.
const STALL: Duration = Duration::from_secs(30);

/// A seed laid out once, its job loaded and its mapping compiled.
struct Ready {
    seed: Seed,
    laid: crate::seeds::Laid,
    job: opsync::config::LoadedJob,
    mapping: opsync::mapping::Mapping,
    _dir: tempfile::TempDir,
}

/// What one case did, or why it is a finding.
enum Case {
    /// The source or the binding refused the input (a configuration or source error).
    Refused,
    /// Read to the end (or to a fatal source error) with this many rows.
    Read(u64),
}

fn one_case(r: &mut Ready, bytes: &[u8]) -> Result<Case, String> {
    std::fs::write(r.laid.root.join(r.seed.source), bytes).map_err(|e| e.to_string())?;
    let Ok(mut source) = opsync::source::open(r.job.source(), r.job.dir()) else {
        return Ok(Case::Refused);
    };
    let Ok(binding) = r.mapping.bind_source(source.as_ref(), r.job.source().path()) else {
        return Ok(Case::Refused);
    };
    let mut made: BTreeMap<String, u64> = BTreeMap::new();
    let mut malformed = 0u64;
    let (driven, _result) = drive(source.as_mut(), &r.mapping, &binding, None, &Silent, |_, event| {
        match event {
            RowEvent::Record(rec) => *made.entry(rec.entity.name.to_string()).or_default() += 1,
            RowEvent::Reject(rej) => *made.entry(rej.entity.clone()).or_default() += 1,
            RowEvent::Malformed(_) => malformed += 1,
        }
        Ok(())
    });
    if malformed != driven.malformed {
        return Err(format!(
            "{malformed} malformed rows handed on, {} counted",
            driven.malformed
        ));
    }
    for e in r.mapping.entity_names() {
        let m = made.get(e).copied().unwrap_or(0);
        let f = driven.filtered.get(e).copied().unwrap_or(0);
        if m + f + malformed != driven.read {
            return Err(format!(
                "{e}: {} rows read, but {m} made a record or reject + {f} filtered + {malformed} malformed",
                driven.read
            ));
        }
    }
    Ok(Case::Read(driven.read))
}

fn prepare(lib: &Library, seeds: Vec<Seed>, base: u64) -> Vec<Ready> {
    seeds
        .into_iter()
        .map(|seed| {
            let dir = crate::scratch();
            let laid = seed.lay_out(lib, dir.path(), &mut Rng::new(base));
            let path = laid.root.join(seed.job);
            let job = opsync::config::load_job(&path).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            let mapping = opsync::mapping::compile(&job.mapping, job.source().is_json())
                .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            Ready {
                seed,
                laid,
                job,
                mapping,
                _dir: dir,
            }
        })
        .collect()
}

pub fn run(plan: &Plan) {
    // A third of the budget: the binary run beside it needs the other core for its processes.
    let budget = plan.budget / 3;
    let (base, replay) = (plan.base, plan.replay);
    let seeds = plan.seeds();
    let current = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (c, d, f) = (current.clone(), done.clone(), finished.clone());
    let worker = std::thread::spawn(move || {
        let lib = Library::load();
        let mut ready = prepare(&lib, seeds, base);
        let started = Instant::now();
        let mut findings: Vec<String> = Vec::new();
        let mut refused = 0u64;
        let mut rows = 0u64;
        let mut i = 0u64;
        let plan = Plan {
            budget,
            base,
            replay,
            only: None,
        };
        loop {
            let enough = started.elapsed() >= budget && i >= ready.len() as u64;
            if enough || (replay.is_some() && i == 1) || findings.len() >= 20 {
                break;
            }
            let case_seed = plan.case_seed(i);
            c.store(case_seed, Ordering::Relaxed);
            let mut rng = Rng::new(case_seed);
            let pick = rng.below(ready.len());
            let r = &mut ready[pick];
            let (bytes, said) = if rng.chance(1, 20) {
                (r.laid.original.clone(), "the seed as it is".to_string())
            } else {
                r.seed.mutation(&r.laid, &mut rng)
            };
            match catch_unwind(AssertUnwindSafe(|| one_case(r, &bytes))) {
                Ok(Ok(Case::Refused)) => refused += 1,
                Ok(Ok(Case::Read(n))) => rows += n,
                Ok(Err(problem)) => findings.push(format!(
                    "seed {}, case {case_seed:#018x} (OPSYNC_FUZZ_CASE={case_seed:#x}): {problem}\n  mutations: {said}",
                    r.seed.name
                )),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let kept = r.laid.root.join(format!("panic-{case_seed:x}.input"));
                    let _ = std::fs::write(&kept, &bytes);
                    findings.push(format!(
                        "seed {}, case {case_seed:#018x} (OPSYNC_FUZZ_CASE={case_seed:#x}): panicked: {message}\n  \
                         mutations: {said}",
                        r.seed.name
                    ));
                }
            }
            i += 1;
            d.store(i, Ordering::Relaxed);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "fuzz (in-process): {i} cases in {secs:.1}s ({:.0} cases/s), {rows} rows read, {refused} refused at open \
             or bind",
            i as f64 / secs.max(0.001)
        );
        f.store(true, Ordering::Relaxed);
        findings
    });
    // The watchdog: a case that never ends fails the test with its seed (the stuck thread is
    // left behind; the test binary ends with the test).
    let mut last = (0, Instant::now());
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let n = done.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > STALL {
            let seed = current.load(Ordering::Relaxed);
            panic!(
                "case {seed:#018x} (OPSYNC_FUZZ_CASE={seed:#x}) has not finished after {}s",
                STALL.as_secs()
            );
        }
    }
    let findings = worker.join().expect("the fuzz worker");
    assert!(
        findings.is_empty(),
        "{} finding(s):\n\n{}",
        findings.len(),
        findings.join("\n\n")
    );
}
