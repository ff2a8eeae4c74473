//! The flow of a run: source -> mapping -> target, with the ledger beside every step.
//! Returns a [`Summary`]; never prints (progress and warnings go to an [`Observer`]).

mod loader;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use thiserror::Error;

pub use loader::Loader;

use crate::config::{ConfigError, LoadMode, LoadedJob};
use crate::ledger::runs::RunStart;
use crate::ledger::{Ledger, LedgerError, LockHeld, RunCounts, RunStatus};
use crate::mapping::{self, Binding, Mapping, MissCounter, Outcome};
use crate::model::{Reason, Reject};
use crate::source::{self, Source, SourceError};
use crate::target::{self, TargetError};

/// Why a run could not finish.
#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Locked(#[from] LockHeld),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Input(String),
}

impl PipelineError {
    /// The exit code a scheduler sees.
    pub fn exit_code(&self) -> u8 {
        match self {
            PipelineError::Config(_) => 2,
            PipelineError::Locked(_) => 5,
            _ => 1,
        }
    }
}

/// Receives what a run has to say while it works; the command layer shows it.
pub trait Observer {
    /// Called every few thousand rows.
    fn progress(&self, _bytes: u64, _rows: u64) {}
    /// A warning worth a person's attention (also stored with the run).
    fn warning(&self, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub run_id: i64,
    pub job: String,
    pub status: RunStatus,
    pub counts: RunCounts,
    pub per_entity: BTreeMap<&'static str, RunCounts>,
    pub warnings: Vec<String>,
    /// Crosswalk misses: (table, code, rows).
    pub misses: Vec<(String, String, u64)>,
    /// The most frequent reject reasons: (entity, field, rule, count).
    pub reject_reasons: Vec<(String, String, String, u64)>,
    pub target: String,
    pub elapsed: Duration,
    /// Why the threshold was exceeded, when it was.
    pub threshold: Option<String>,
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Arguments as typed (secrets already redacted), stored with the run.
    pub args: String,
    /// Stop after this many source rows (for trials).
    pub limit: Option<u64>,
}

/// Reasons counted by (entity, field, rule) for the summary.
#[derive(Debug, Default)]
pub struct ReasonTally(BTreeMap<(String, String, String), u64>);

impl ReasonTally {
    pub fn add(&mut self, r: &Reject) {
        for reason in &r.reasons {
            *self.0.entry((r.entity.clone(), reason.field.clone(), reason.rule.clone())).or_default() += 1;
        }
    }

    pub fn top(&self, n: usize) -> Vec<(String, String, String, u64)> {
        let mut v: Vec<_> = self.0.iter().map(|((e, f, r), c)| (e.clone(), f.clone(), r.clone(), *c)).collect();
        v.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.cmp(b)));
        v.truncate(n);
        v
    }
}

/// A reject for a row that could not be split into the header's columns.
pub fn ragged_reject(err: &SourceError, entity: &str) -> Option<Reject> {
    let SourceError::Ragged { path, line, row, found, expected, values } = err else { return None };
    Some(Reject {
        entity: entity.to_string(),
        key: None,
        lineage: crate::model::Lineage { source: path.as_str().into(), locator: None, row: *row, line: *line },
        reasons: vec![Reason {
            field: "*".into(),
            rule: "malformed_row".into(),
            value: None,
            message: format!("row has {found} fields, the header has {expected}"),
        }],
        raw: serde_json::Value::Array(values.iter().map(|v| v.clone().into()).collect()),
    })
}

/// Compile a job's mapping and open and bind its source: everything that can fail before a
/// record is read. Schema drift (a mapped column missing) is a configuration error here.
pub fn open_and_bind(job: &LoadedJob) -> Result<(Mapping, Box<dyn Source>, Binding), PipelineError> {
    let mapping = mapping::compile(&job.mapping, job.source().is_json())?;
    let source = source::open(job.source(), job.dir())?;
    let label = job.source().path().to_string();
    let binding = mapping.bind(source.columns(), &label, false)?;
    Ok((mapping, source, binding))
}

/// Whether the rejects of a run cross the job's threshold; the reason if so.
pub fn threshold_crossed(job: &LoadedJob, read: u64, rejected: u64) -> Option<String> {
    let j = &job.file.job;
    if let Some(max) = j.max_rejects
        && rejected > max
    {
        return Some(format!("{rejected} rejects, the job allows {max} (max_rejects)"));
    }
    if let Some(pct) = j.max_reject_percent
        && read > 0
    {
        let actual = rust_decimal::Decimal::from(rejected) * rust_decimal::Decimal::from(100) / rust_decimal::Decimal::from(read);
        if actual > pct {
            return Some(format!("{}% of rows rejected, the job allows {pct}% (max_reject_percent)", actual.round_dp(2)));
        }
    }
    None
}

/// `opsync run`: extract, transform and load in one streaming pass.
pub fn run_job(job: &LoadedJob, ledger: &mut Ledger, opts: &RunOptions, obs: &dyn Observer) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let _lock = ledger.lock_job(&job.name)?;
    let run_id = ledger.start_run(&RunStart {
        job: job.name.clone(),
        command: "run".into(),
        job_file: job.path.display().to_string(),
        target: None,
        mapping_hash: Some(job.mapping.hash.clone()),
        mapping_version: Some(job.mapping.version_label()),
        args: opts.args.clone(),
    })?;
    let mut warnings = Vec::new();
    let mut counts = RunCounts::default();
    let result = run_inner(job, ledger, run_id, opts, obs, &mut warnings, &mut counts);
    match result {
        Ok(mut summary) => {
            summary.elapsed = started.elapsed();
            ledger.finish_run(run_id, summary.status, &summary.counts, &summary.warnings, summary.threshold.as_deref())?;
            Ok(summary)
        }
        Err(e) => {
            // The run is recorded as failed with what it had done; the error still reaches the user.
            let _ = ledger.finish_run(run_id, RunStatus::Failed, &counts, &warnings, Some(&e.to_string()));
            Err(e)
        }
    }
}

fn run_inner(
    job: &LoadedJob,
    ledger: &mut Ledger,
    run_id: i64,
    opts: &RunOptions,
    obs: &dyn Observer,
    warnings: &mut Vec<String>,
    counts: &mut RunCounts,
) -> Result<Summary, PipelineError> {
    let (mapping, mut source, binding) = open_and_bind(job)?;
    ledger.store_mapping(&job.mapping.hash, &job.mapping.path.display().to_string(), &mapping.version, &job.mapping.text, run_id)?;
    if !mapping.json {
        if let Some(previous) = ledger.job_columns(&job.name)? {
            let new: Vec<&String> = binding.header.iter().filter(|h| !previous.contains(h)).collect();
            if !new.is_empty() {
                let w = format!(
                    "schema drift: new column(s) in {} since the last run, not mapped: {}",
                    job.source().path(),
                    new.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
                );
                obs.warning(&w);
                warnings.push(w);
            }
        }
        ledger.set_job_columns(&job.name, &binding.header, run_id)?;
    }
    let target = target::open(job.target(), job.dir())?;
    let entities: Vec<_> = mapping.entities.iter().map(|e| e.entity).collect();
    let first_entity = entities.first().map(|e| e.name).unwrap_or("*");
    let mut loader = Loader::new(ledger, target, &entities, run_id, &job.mapping.hash, target::batch_size(job.target()))?;
    let target_id = loader.target_id().to_string();
    let mut misses = MissCounter::default();
    let mut tally = ReasonTally::default();
    let mut outcomes = Vec::new();
    loop {
        if opts.limit.is_some_and(|l| counts.read >= l) {
            break;
        }
        let raw = match source.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) if !e.is_fatal() => {
                counts.read += 1;
                if let Some(r) = ragged_reject(&e, first_entity) {
                    tally.add(&r);
                    loader.reject(r)?;
                }
                continue;
            }
            Err(e) => {
                loader.flush()?;
                return Err(e.into());
            }
        };
        counts.read += 1;
        outcomes.clear();
        if !mapping.apply(&binding, &raw, &mut outcomes, &mut misses) {
            counts.filtered += 1;
        }
        for o in outcomes.drain(..) {
            match o {
                Outcome::Record(r) => loader.push(r)?,
                Outcome::Reject(r) => {
                    tally.add(&r);
                    loader.reject(r)?;
                }
            }
        }
        source.recycle(raw);
        if counts.read % 4096 == 0 {
            obs.progress(source.bytes_read(), counts.read);
        }
    }
    obs.progress(source.bytes_read(), counts.read);
    let rejected_so_far: u64 = loader.counts.values().map(|c| c.rejected).sum();
    let threshold = threshold_crossed(job, counts.read, rejected_so_far);
    let snapshot = job.file.job.mode == LoadMode::Snapshot;
    let deletes_allowed = threshold.is_none() && counts.read > 0 && opts.limit.is_none();
    if snapshot && !deletes_allowed {
        let why = if counts.read == 0 {
            "the extract is empty"
        } else if opts.limit.is_some() {
            "--limit read only part of the extract"
        } else {
            "rejects exceeded the job's threshold"
        };
        let w = format!("snapshot mode: no keys marked deleted because {why}");
        obs.warning(&w);
        warnings.push(w);
    }
    let per_entity = loader.finish(job.file.job.mode, deletes_allowed)?;
    for c in per_entity.values() {
        let read = counts.read;
        let filtered = counts.filtered;
        counts.add(c);
        counts.read = read;
        counts.filtered = filtered;
    }
    let threshold = threshold_crossed(job, counts.read, counts.rejected);
    let miss_list = misses.sorted();
    ledger.store_misses(run_id, &miss_list)?;
    ledger.set_run_target(run_id, &target_id)?;
    for (table, code, n) in miss_list.iter().take(20) {
        let w = format!("lookup {table:?}: {n} row(s) with code {code:?} not in the table");
        warnings.push(w);
    }
    Ok(Summary {
        run_id,
        job: job.name.clone(),
        status: if threshold.is_some() { RunStatus::RejectsExceeded } else { RunStatus::Succeeded },
        counts: counts.clone(),
        per_entity,
        warnings: warnings.clone(),
        misses: miss_list.into_iter().map(|(t, c, n)| (t.to_string(), c.to_string(), n)).collect(),
        reject_reasons: tally.top(10),
        target: target_id,
        elapsed: Duration::ZERO,
        threshold,
    })
}
