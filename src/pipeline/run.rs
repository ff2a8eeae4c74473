//! The life of a run in the ledger: lock, start, work, finish (or fail), for `run`, `load` and
//! `transform` alike.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Driven, Loader, Observer, PipelineError, RunOptions, Summary, drive, open_and_bind};
use crate::config::{LoadMode, LoadedJob};
use crate::ledger::runs::RunStart;
use crate::ledger::{Ledger, RunCounts, RunStatus};
use crate::mapping::{self, Binding, Mapping, Outcome};
use crate::model::{CanonicalRecord, Reject};
use crate::target;

/// Rejects of `transform` go to the ledger this many at a time.
const REJECT_BATCH: usize = 1_000;

/// Take the job's lock, record the run's start, do `work`, and record how it ended. A failed run
/// is recorded with its error before the error reaches the caller.
fn with_run(
    job: &LoadedJob,
    ledger: &mut Ledger,
    command: &str,
    opts: &RunOptions,
    obs: &dyn Observer,
    work: impl FnOnce(&mut Ledger, i64, &mut Vec<String>, &mut RunCounts) -> Result<Summary, PipelineError>,
) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let _lock = ledger.lock_job(&job.name)?;
    let interrupted = ledger.mark_interrupted(&job.name)?;
    let run_id = ledger.start_run(&RunStart {
        job: job.name.clone(),
        command: command.into(),
        job_file: job.path.display().to_string(),
        target: None,
        mapping_hash: Some(job.mapping.hash.clone()),
        mapping_version: Some(job.mapping.version_label()),
        args: opts.args.clone(),
    })?;
    let mut warnings = Vec::new();
    if interrupted > 0 {
        let w =
            format!("{interrupted} earlier run(s) of this job ended without finishing; this run completes their work");
        obs.warning(&w);
        warnings.push(w);
    }
    let mut partial = RunCounts::default();
    match work(ledger, run_id, &mut warnings, &mut partial) {
        Ok(mut summary) => {
            summary.elapsed = started.elapsed();
            let c = &summary.counts;
            ledger.finish_run(
                run_id,
                summary.status,
                c,
                &summary.warnings,
                summary.threshold.as_deref(),
            )?;
            Ok(summary)
        }
        Err(e) => {
            // Recording the failure is best effort: the error that stopped the run matters more.
            let _ = ledger.finish_run(run_id, RunStatus::Failed, &partial, &warnings, Some(&e.to_string()));
            Err(e)
        }
    }
}

/// Keep the mapping text by hash, and report columns that are new since the job's last run.
fn record_mapping_and_columns(
    job: &LoadedJob,
    ledger: &Ledger,
    run_id: i64,
    mapping: &Mapping,
    binding: &Binding,
    obs: &dyn Observer,
    warnings: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let path = job.mapping.path.display().to_string();
    ledger.store_mapping(&job.mapping.hash, &path, &mapping.version, &job.mapping.text, run_id)?;
    warnings.extend(
        binding
            .shared_names_warning(job.source().path())
            .inspect(|w| obs.warning(w)),
    );
    if mapping.json {
        return Ok(());
    }
    if let Some(previous) = ledger.job_columns(&job.name)? {
        let new: Vec<String> = binding
            .header
            .iter()
            .filter(|h| !previous.contains(h))
            .map(|c| format!("{c:?}"))
            .collect();
        if !new.is_empty() {
            let w = format!(
                "schema drift: new column(s) in {} since the last run, not mapped: {}",
                job.source().path(),
                new.join(", ")
            );
            obs.warning(&w);
            warnings.push(w);
        }
    }
    ledger.set_job_columns(&job.name, &binding.header, run_id)?;
    Ok(())
}

/// Close a load: snapshot deletes when the extract was complete and trustworthy, crosswalk
/// misses, threshold, and the summary.
#[allow(clippy::too_many_arguments)]
fn finish_load(
    job: &LoadedJob,
    mut loader: Loader<'_>,
    run_id: i64,
    mut driven: Driven,
    partial_extract: bool,
    obs: &dyn Observer,
    warnings: &mut Vec<String>,
) -> Result<Summary, PipelineError> {
    // Everything buffered is written first: duplicates found in the last batch are rejects too.
    loader.flush()?;
    driven.tally.merge(&loader.tally);
    let rejected: u64 = loader.counts.values().map(|c| c.rejected).sum();
    let threshold = super::threshold_crossed(job, driven.read, rejected);
    let deletes_allowed = threshold.is_none() && driven.read > 0 && !partial_extract;
    if job.file.job.mode == LoadMode::Snapshot && !deletes_allowed {
        let why = if driven.read == 0 {
            "the extract is empty"
        } else if partial_extract {
            "--limit read only part of the extract"
        } else {
            "rejects exceeded the job's threshold"
        };
        let w = format!("snapshot mode: no keys marked deleted because {why}");
        obs.warning(&w);
        warnings.push(w);
    }
    let target_id = loader.target_id().to_string();

    let per_entity = loader.finish(job.file.job.mode, deletes_allowed)?;
    Ok(summarize(job, run_id, per_entity, &driven, warnings, target_id))
}

/// The summary of a finished run: totals over the entities, the threshold, crosswalk misses.
fn summarize(
    job: &LoadedJob,
    run_id: i64,
    per_entity: BTreeMap<&'static str, RunCounts>,
    driven: &Driven,
    warnings: &mut Vec<String>,
    target: String,
) -> Summary {
    let mut counts = RunCounts {
        read: driven.read,
        filtered: driven.filtered,
        ..RunCounts::default()
    };
    for c in per_entity.values() {
        counts.add(c);
    }
    let threshold = super::threshold_crossed(job, counts.read, counts.rejected);
    let misses: Vec<(String, String, u64)> = driven
        .misses
        .sorted()
        .into_iter()
        .map(|(t, c, n)| (t.to_string(), c.to_string(), n))
        .collect();
    for (table, code, n) in misses.iter().take(20) {
        warnings.push(format!(
            "lookup {table:?}: {n} row(s) with code {code:?} not in the table"
        ));
    }
    Summary {
        run_id,
        job: job.name.clone(),
        status: if threshold.is_some() {
            RunStatus::RejectsExceeded
        } else {
            RunStatus::Succeeded
        },
        counts,
        per_entity,
        warnings: warnings.clone(),
        misses,
        reject_reasons: driven.tally.top(10),
        target,
        elapsed: std::time::Duration::ZERO,
        threshold,
    }
}

/// `opsync run`: extract, transform and load in one streaming pass.
pub fn run_job(
    job: &LoadedJob,
    ledger: &mut Ledger,
    opts: &RunOptions,
    obs: &dyn Observer,
) -> Result<Summary, PipelineError> {
    with_run(job, ledger, "run", opts, obs, |ledger, run_id, warnings, partial| {
        let (mapping, mut source, binding) = open_and_bind(job)?;
        record_mapping_and_columns(job, ledger, run_id, &mapping, &binding, obs, warnings)?;
        let target = target::open(job.target(), job.dir())?;
        let entities: Vec<_> = mapping.entities.iter().map(|e| e.entity).collect();
        let batch = target::batch_size(job.target());
        let mut loader = Loader::new(ledger, target, &entities, run_id, &job.mapping.hash, batch)?;
        loader.mask_fields(mapping.sensitive_fields());
        let driven = drive(source.as_mut(), &mapping, &binding, opts.limit, obs, |o| match o {
            Outcome::Record(r) => loader.push(r),
            Outcome::Reject(r) => loader.reject(r),
        });
        let driven = match driven {
            Ok(d) => d,
            Err(e) => {
                // What was read before the failure is loaded: nothing already read is lost.
                loader.flush()?;
                return Err(e);
            }
        };
        partial.read = driven.read;
        let summary = finish_load(job, loader, run_id, driven, opts.limit.is_some(), obs, warnings)?;
        ledger.store_misses(run_id, &summary.misses)?;
        ledger.set_run_target(run_id, &summary.target)?;
        Ok(summary)
    })
}

/// One line of canonical JSON Lines: a record, or the key of a record rejected upstream.
#[derive(Debug)]
pub enum LoadItem {
    Record(CanonicalRecord),
    /// Still in the source, so a snapshot load must not mark it deleted.
    Rejected {
        entity: String,
        key: String,
    },
}

/// `opsync load`: canonical records (from `opsync transform`) into the job's target.
pub fn load_records(
    job: &LoadedJob,
    ledger: &mut Ledger,
    records: impl Iterator<Item = Result<LoadItem, PipelineError>>,
    opts: &RunOptions,
    obs: &dyn Observer,
) -> Result<Summary, PipelineError> {
    with_run(job, ledger, "load", opts, obs, |ledger, run_id, warnings, partial| {
        let mapping = mapping::compile(&job.mapping, job.source().is_json())?;
        let path = job.mapping.path.display().to_string();
        ledger.store_mapping(&job.mapping.hash, &path, &mapping.version, &job.mapping.text, run_id)?;
        let target = target::open(job.target(), job.dir())?;
        let entities: Vec<_> = mapping.entities.iter().map(|e| e.entity).collect();
        let batch = target::batch_size(job.target());
        let mut loader = Loader::new(ledger, target, &entities, run_id, &job.mapping.hash, batch)?;
        loader.mask_fields(mapping.sensitive_fields());
        let mut driven = Driven::default();
        for r in records {
            match r {
                Ok(LoadItem::Record(r)) => loader.push(r)?,
                Ok(LoadItem::Rejected { entity, key }) => {
                    loader.keep_key(&entity, key)?;
                    continue;
                }
                Err(e) => {
                    loader.flush()?;
                    return Err(e);
                }
            }
            driven.read += 1;
            partial.read = driven.read;
            if driven.read.is_multiple_of(4096) {
                obs.progress(0, driven.read);
            }
        }
        let summary = finish_load(job, loader, run_id, driven, false, obs, warnings)?;
        ledger.set_run_target(run_id, &summary.target)?;
        Ok(summary)
    })
}

/// `opsync transform`: map raw records, hand canonical records to `emit` (and the keys of
/// rejected ones, so a snapshot load keeps them), keep rejects in the ledger. Duplicate keys are
/// decided at load time, not here.
pub fn transform(
    job: &LoadedJob,
    ledger: &mut Ledger,
    source: &mut dyn crate::source::Source,
    opts: &RunOptions,
    obs: &dyn Observer,
    mut emit: impl FnMut(&LoadItem) -> Result<(), PipelineError>,
) -> Result<Summary, PipelineError> {
    with_run(
        job,
        ledger,
        "transform",
        opts,
        obs,
        |ledger, run_id, warnings, partial| {
            let mapping = mapping::compile(&job.mapping, job.source().is_json())?;
            let label = job.source().path().to_string();
            let binding = mapping.bind_source(source, &label)?;
            record_mapping_and_columns(job, ledger, run_id, &mapping, &binding, obs, warnings)?;
            let mut per_entity = std::collections::BTreeMap::new();
            for e in &mapping.entities {
                per_entity.insert(e.entity.name, RunCounts::default());
            }
            let mut rejects: Vec<Reject> = Vec::new();
            let mut failure = None;
            let driven = drive(source, &mapping, &binding, opts.limit, obs, |o| {
                match o {
                    Outcome::Record(r) => {
                        per_entity.entry(r.entity.name).or_default().valid += 1;
                        emit(&LoadItem::Record(r))?;
                    }
                    Outcome::Reject(r) => {
                        if let Some(c) = per_entity.get_mut(r.entity.as_str()) {
                            c.rejected += 1;
                        }
                        if let Some(key) = &r.key {
                            emit(&LoadItem::Rejected {
                                entity: r.entity.clone(),
                                key: key.clone(),
                            })?;
                        }
                        rejects.push(r);
                        if rejects.len() >= REJECT_BATCH {
                            ledger.insert_rejects(run_id, &std::mem::take(&mut rejects))?;
                        }
                    }
                }
                Ok(())
            });
            let driven = driven.unwrap_or_else(|e| {
                failure = Some(e);
                Driven::default()
            });
            ledger.insert_rejects(run_id, &rejects)?;
            if let Some(e) = failure {
                return Err(e);
            }
            let summary = summarize(
                job,
                run_id,
                per_entity,
                &driven,
                warnings,
                "(canonical JSON Lines)".into(),
            );
            partial.read = summary.counts.read;
            ledger.store_misses(run_id, &summary.misses)?;
            Ok(summary)
        },
    )
}
