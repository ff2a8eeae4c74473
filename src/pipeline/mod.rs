//! The flow of a run: source -> mapping -> target, with the ledger beside every step.
//! Returns a [`Summary`]; never prints (progress and warnings go to an [`Observer`]).

pub mod failpoint;
pub mod interrupt;
mod loader;
mod parallel;
mod run;
pub mod verdict;

use std::collections::BTreeMap;
use std::time::Duration;

use thiserror::Error;

pub use loader::{EntityLoad, LoadSettings, Loader};
pub use parallel::drive_parallel;
pub use run::{LoadItem, Sink, load_records, run_job, transform};

use crate::config::{ConfigError, LoadedJob};
use crate::ledger::{LedgerError, LockHeld, RunCounts, RunStatus};
use crate::mapping::{self, Binding, Mapping, MissCounter, Outcome};
use crate::model::{CanonicalRecord, Reason, Reject};
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
    /// The run's own counts do not add up, or the target and the ledger disagree.
    #[error("the run's accounting does not hold: {0}")]
    Accounting(String),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted by {}: the batches committed so far are whole; run the job again to finish", interrupt::name(*.0))]
    Interrupted(i32),
}

impl PipelineError {
    /// The exit code a scheduler sees.
    pub fn exit_code(&self) -> u8 {
        match self {
            PipelineError::Config(_) | PipelineError::Target(TargetError::Conflict(_)) => 2,
            PipelineError::Locked(_) => 5,
            PipelineError::Interrupted(sig) => u8::try_from(128 + sig).unwrap_or(1),
            _ => 1,
        }
    }

    /// How the ledger records a run that ended with this error.
    pub fn status(&self) -> RunStatus {
        match self {
            PipelineError::Interrupted(_) => RunStatus::Interrupted,
            _ => RunStatus::Failed,
        }
    }
}

/// Receives what a run has to say while it works; the command layer shows it.
pub trait Observer: Sync {
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
    /// Counts per entity, with the target's live records before and after the run.
    pub per_entity: BTreeMap<&'static str, EntityLoad>,
    /// Source rows with at least one rejected record (or that could not be read as a row).
    pub rejected_rows: u64,
    pub warnings: Vec<String>,
    /// Crosswalk misses: (table, code, rows).
    pub misses: Vec<(String, String, u64)>,
    /// The most frequent reject reasons: (entity, field, rule, count).
    pub reject_reasons: Vec<(String, String, String, u64)>,
    pub target: String,
    pub elapsed: Duration,
    /// Why the reject threshold or the delete guard stopped the run short, when one did (exit 3).
    pub threshold: Option<String>,
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Arguments as typed (secrets already redacted), stored with the run.
    pub args: String,
    /// Stop after this many source rows (for trials).
    pub limit: Option<u64>,
    /// Compare every record with the target by its values, rewriting what differs.
    pub full_refresh: bool,
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

/// A reject for a row that could not be split into the header's columns, its values masked
/// wherever a sensitive column could be.
pub fn ragged_reject(err: &SourceError, entity: &str, binding: &Binding) -> Option<Reject> {
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
        raw: binding.mask_values(values),
    })
}

/// Compile a job's mapping and open and bind its source: everything that can fail before a
/// record is read. Schema drift (a mapped column missing) is a configuration error here.
pub fn open_and_bind(job: &LoadedJob) -> Result<(Mapping, Box<dyn Source>, Binding), PipelineError> {
    let mut mapping = mapping::compile(&job.mapping, job.source().is_json())?;
    let mut source = source::open(job.source(), job.dir())?;
    let label = job.source().path().to_string();
    let binding = mapping.bind_source(source.as_ref(), &label)?;
    source.columns_read(&binding.columns_read(&mapping));
    Ok((mapping, source, binding))
}

/// Whether the rejects of a run cross the job's threshold; the reason if so. `max_rejects`
/// counts rejected records; `max_reject_percent` counts rejected rows over rows read, so a row
/// whose records of several entities are all rejected counts once.
pub fn threshold_crossed(job: &LoadedJob, read: u64, rejected_rows: u64, rejected: u64) -> Option<String> {
    let j = &job.file.job;
    if let Some(max) = j.max_rejects
        && rejected > max
    {
        return Some(format!("{rejected} rejects, the job allows {max} (max_rejects)"));
    }
    if let Some(pct) = j.max_reject_percent
        && read > 0
    {
        let actual = rust_decimal::Decimal::from(rejected_rows) * rust_decimal::Decimal::from(100)
            / rust_decimal::Decimal::from(read);
        if actual > pct {
            return Some(format!(
                "{}% of rows rejected ({rejected_rows} of {read}), the job allows {pct}% (max_reject_percent)",
                actual.round_dp(2)
            ));
        }
    }
    None
}

/// What one source row gave, as the drive hands it on.
#[derive(Debug)]
pub enum RowEvent {
    Record(CanonicalRecord),
    Reject(Reject),
    /// The row could not be split into the header's columns: no record of any entity was made
    /// from it, and no key is known (a snapshot must not delete because of it).
    Malformed(Reject),
}

/// What driving a source through a mapping counted.
#[derive(Debug, Default)]
pub struct Driven {
    pub read: u64,
    /// Rows that could not be split into the header's columns.
    pub malformed: u64,
    /// Per entity, rows that made no record of it (a filter skipped them).
    pub filtered: BTreeMap<&'static str, u64>,
    /// Rows with a rejected record, or malformed.
    pub rejected_rows: u64,
    pub misses: MissCounter,
    pub tally: ReasonTally,
}

impl Driven {
    /// Rows no entity was made from.
    pub fn filtered_rows(&self) -> u64 {
        self.filtered.values().copied().min().unwrap_or(0)
    }
}

/// Read the source to its end (or `limit` rows), map every record, and hand each outcome to
/// `sink` with its row's number in the run (from 1). A ragged row becomes a `malformed_row` reject
/// of the first entity; any other source error ends the drive (the sink has received everything
/// before it), and so does Ctrl-C or SIGTERM. The counts come back either way.
pub fn drive(
    source: &mut dyn Source,
    mapping: &Mapping,
    binding: &Binding,
    limit: Option<u64>,
    obs: &dyn Observer,
    sink: impl FnMut(u64, RowEvent) -> Result<(), PipelineError>,
) -> (Driven, Result<(), PipelineError>) {
    let mut d = Driven::default();
    let result = drive_into(&mut d, source, mapping, binding, limit, obs, sink);
    (d, result)
}

fn drive_into(
    d: &mut Driven,
    source: &mut dyn Source,
    mapping: &Mapping,
    binding: &Binding,
    limit: Option<u64>,
    obs: &dyn Observer,
    mut sink: impl FnMut(u64, RowEvent) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    let entities = mapping.entity_names();
    for e in &entities {
        d.filtered.insert(e, 0);
    }
    let first_entity = entities.first().copied().unwrap_or("*");
    let mut outcomes = Vec::new();
    while limit.is_none_or(|l| d.read < l) {
        if let Some(sig) = interrupt::requested() {
            return Err(PipelineError::Interrupted(sig));
        }
        let raw = match source.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) if !e.is_fatal() => {
                d.read += 1;
                d.malformed += 1;
                d.rejected_rows += 1;
                if let Some(r) = ragged_reject(&e, first_entity, binding) {
                    d.tally.add(&r);
                    sink(d.read, RowEvent::Malformed(r))?;
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        d.read += 1;
        mapping.apply(binding, &raw, &mut outcomes, &mut d.misses);
        let mut rejected = false;
        for e in &entities {
            let made = outcomes.iter().any(|o| match o {
                Outcome::Record(r) => r.entity.name == *e,
                Outcome::Reject(r) => r.entity == *e,
            });
            if !made && let Some(n) = d.filtered.get_mut(e) {
                *n += 1;
            }
        }
        for o in outcomes.drain(..) {
            let event = match o {
                Outcome::Record(r) => RowEvent::Record(r),
                Outcome::Reject(r) => {
                    d.tally.add(&r);
                    rejected = true;
                    RowEvent::Reject(r)
                }
            };
            sink(d.read, event)?;
        }
        if rejected {
            d.rejected_rows += 1;
        }
        source.recycle(raw);
        if d.read.is_multiple_of(4096) {
            obs.progress(source.bytes_read(), d.read);
        }
    }
    obs.progress(source.bytes_read(), d.read);
    Ok(())
}
