//! The flow of a run: source -> mapping -> target, with the ledger beside every step.
//! Returns a [`Summary`]; never prints (progress and warnings go to an [`Observer`]).

mod loader;
mod run;

use std::collections::BTreeMap;
use std::time::Duration;

use thiserror::Error;

pub use loader::Loader;
pub use run::{LoadItem, load_records, run_job, transform};

use crate::config::{ConfigError, LoadedJob};
use crate::ledger::{LedgerError, LockHeld, RunCounts, RunStatus};
use crate::mapping::{self, Binding, Mapping, MissCounter, Outcome};
use crate::model::{Reason, Reject};
use crate::source::{self, Source, SourceError};
use crate::target::TargetError;

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
            *self
                .0
                .entry((r.entity.clone(), reason.field.clone(), reason.rule.clone()))
                .or_default() += 1;
        }
    }

    /// Add another tally's counts.
    pub fn merge(&mut self, other: &ReasonTally) {
        for (k, n) in &other.0 {
            *self.0.entry(k.clone()).or_default() += n;
        }
    }

    pub fn top(&self, n: usize) -> Vec<(String, String, String, u64)> {
        let mut v: Vec<_> = self
            .0
            .iter()
            .map(|((e, f, r), c)| (e.clone(), f.clone(), r.clone(), *c))
            .collect();
        v.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.cmp(b)));
        v.truncate(n);
        v
    }
}

/// A reject for a row that could not be split into the header's columns.
pub fn ragged_reject(err: &SourceError, entity: &str) -> Option<Reject> {
    let SourceError::Ragged {
        path,
        line,
        row,
        reason,
        values,
    } = err
    else {
        return None;
    };
    Some(Reject {
        entity: entity.to_string(),
        key: None,
        lineage: crate::model::Lineage {
            source: path.as_str().into(),
            locator: None,
            row: *row,
            line: *line,
        },
        reasons: vec![Reason {
            field: "*".into(),
            rule: "malformed_row".into(),
            value: None,
            message: reason.clone(),
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
    let binding = mapping.bind_source(source.as_ref(), &label)?;
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
        let actual = rust_decimal::Decimal::from(rejected) * rust_decimal::Decimal::from(100)
            / rust_decimal::Decimal::from(read);
        if actual > pct {
            return Some(format!(
                "{}% of rows rejected, the job allows {pct}% (max_reject_percent)",
                actual.round_dp(2)
            ));
        }
    }
    None
}

/// What driving a source through a mapping counted.
#[derive(Debug, Default)]
pub struct Driven {
    pub read: u64,
    pub filtered: u64,
    pub misses: MissCounter,
    pub tally: ReasonTally,
}

/// Read the source to its end (or `limit` rows), map every record, and hand each outcome to
/// `sink`. A ragged row becomes a `malformed_row` reject of the first entity; any other source
/// error ends the drive (the sink has received everything before it).
pub fn drive(
    source: &mut dyn Source,
    mapping: &Mapping,
    binding: &Binding,
    limit: Option<u64>,
    obs: &dyn Observer,
    mut sink: impl FnMut(Outcome) -> Result<(), PipelineError>,
) -> Result<Driven, PipelineError> {
    let mut d = Driven::default();
    let first_entity = mapping.entity_names().first().copied().unwrap_or("*");
    let mut outcomes = Vec::new();
    while limit.is_none_or(|l| d.read < l) {
        let raw = match source.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) if !e.is_fatal() => {
                d.read += 1;
                if let Some(r) = ragged_reject(&e, first_entity) {
                    d.tally.add(&r);
                    sink(Outcome::Reject(r))?;
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        d.read += 1;
        if !mapping.apply(binding, &raw, &mut outcomes, &mut d.misses) {
            d.filtered += 1;
        }
        for o in outcomes.drain(..) {
            if let Outcome::Reject(r) = &o {
                d.tally.add(r);
            }
            sink(o)?;
        }
        source.recycle(raw);
        if d.read.is_multiple_of(4096) {
            obs.progress(source.bytes_read(), d.read);
        }
    }
    obs.progress(source.bytes_read(), d.read);
    Ok(d)
}
