//! The life of a run in the ledger: lock, start, work, prove the accounting, finish (or fail),
//! for `run`, `load` and `transform` alike.

use std::collections::BTreeMap;
use std::time::Instant;

use super::loader::{Handed, reconcile_run};
use super::{
    Driven, EntityLoad, LoadSettings, Loader, Observer, PipelineError, RowEvent, RunOptions, Summary, drive,
    drive_parallel, open_and_bind,
};
use crate::config::{LoadMode, LoadedJob, UnkeyedRejects};
use crate::ledger::runs::RunStart;
use crate::ledger::{Ledger, RunCounts, RunStatus};
use crate::mapping::{self, Binding, Mapping};
use crate::model::{CanonicalRecord, Reject};
use crate::target::{self, Target};

/// Rejects of `transform` go to the ledger this many at a time.
const REJECT_BATCH: usize = 1_000;

/// A run that ended with an error, with what it had done (recorded with it).
pub struct Failure {
    pub error: Box<PipelineError>,
    pub partial: Option<Box<Summary>>,
}

impl<E: Into<PipelineError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            error: Box::new(e.into()),
            partial: None,
        }
    }
}

/// What a run knows while it works.
struct RunCtx {
    run_id: i64,
    /// Runs of this job that a killed process left `running`.
    stale: Vec<i64>,
    warnings: Vec<String>,
}

/// Take the job's lock, record the run's start, do `work`, and record how it ended. A failed run
/// is recorded with its error and its true counts before the error reaches the caller.
fn with_run(
    job: &LoadedJob,
    ledger: &mut Ledger,
    command: &str,
    opts: &RunOptions,
    work: impl FnOnce(&mut Ledger, &mut RunCtx) -> Result<Summary, Failure>,
) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let _lock = ledger.lock_job(&job.name)?;
    let stale = ledger.running_runs(&job.name)?;
    let run_id = ledger.start_run(&RunStart {
        job: job.name.clone(),
        command: command.into(),
        job_file: job.path.display().to_string(),
        target: None,
        mapping_hash: Some(job.mapping.hash.clone()),
        mapping_version: Some(job.mapping.version_label()),
        args: opts.args.clone(),
    })?;
    let mut ctx = RunCtx {
        run_id,
        stale,
        warnings: Vec::new(),
    };
    match work(ledger, &mut ctx) {
        Ok(mut summary) => {
            summary.elapsed = started.elapsed();
            ledger.finish_run(
                run_id,
                summary.status,
                &summary.counts,
                summary.rejected_rows,
                &summary.per_entity,
                &summary.warnings,
                summary.threshold.as_deref(),
            )?;
            Ok(summary)
        }
        Err(Failure { error, partial }) => {
            // Recording the failure is best effort: the error that stopped the run matters more.
            let (counts, rejected_rows, per_entity) = match &partial {
                Some(s) => (s.counts.clone(), s.rejected_rows, s.per_entity.clone()),
                None => (RunCounts::default(), 0, BTreeMap::new()),
            };
            let _ = ledger.finish_run(
                run_id,
                error.status(),
                &counts,
                rejected_rows,
                &per_entity,
                &ctx.warnings,
                Some(&error.to_string()),
            );
            Err(*error)
        }
    }
}

/// Settle the runs a killed process left `running`: keep the batches `target` holds, drop the
/// others, and record their counts from what is kept.
fn settle_stale(
    ctx: &mut RunCtx,
    ledger: &mut Ledger,
    mut target: Option<&mut dyn Target>,
    obs: &dyn Observer,
) -> Result<(), PipelineError> {
    if ctx.stale.is_empty() {
        return Ok(());
    }
    let ledger_id = ledger.id()?;
    for &run in &ctx.stale {
        let same_target = match (&target, ledger.get_run(run)?.target) {
            (Some(t), Some(id)) => t.id() == id,
            _ => false,
        };
        let note = match target.as_deref_mut() {
            Some(t) if same_target => {
                let dropped = reconcile_run(ledger, t, &ledger_id, run)?;
                format!(
                    "the process ended without finishing the run; its counts are those of the batches the target \
                     holds ({dropped} recorded batch(es) were not in the target and were dropped)"
                )
            }
            _ => "the process ended without finishing the run".to_string(),
        };
        ledger.settle_interrupted(run, &note)?;
    }
    let w = format!(
        "{} earlier run(s) of this job ended without finishing; this run completes their work",
        ctx.stale.len()
    );
    obs.warning(&w);
    ctx.warnings.push(w);
    Ok(())
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

/// Open the job's target and a loader on it, after settling earlier runs a crash left open.
fn open_loader<'l>(
    job: &LoadedJob,
    ledger: &'l mut Ledger,
    ctx: &mut RunCtx,
    entities: &[&'static crate::model::Entity],
    sensitive: Vec<(&'static str, &'static str)>,
    opts: &RunOptions,
    obs: &dyn Observer,
) -> Result<Loader<'l>, PipelineError> {
    let mut target = target::open(job.target(), job.dir())?;
    ledger.set_run_target(ctx.run_id, &target.id())?;
    settle_stale(ctx, ledger, Some(target.as_mut()), obs)?;
    let settings = LoadSettings {
        job: job.name.clone(),
        mode: job.file.job.mode,
        batch_size: target::batch_size(job.target()),
        full_refresh: opts.full_refresh,
    };
    let wait = |m: &str| obs.warning(m);
    let mut loader = Loader::new(ledger, target, entities, ctx.run_id, settings, &wait)?;
    loader.mask_fields(sensitive);
    let foreign = loader.foreign_runs()?;
    if !foreign.is_empty() {
        let ids: Vec<String> = foreign.iter().map(i64::to_string).collect();
        let ledger_path = loader.ledger().path().display().to_string();
        let w = format!(
            "target {} holds batches of run(s) {} that the ledger {} did not record: the ledger was restored from \
             a backup, or copied, after they ran. This run loads correctly (the target's own state decides what \
             is unchanged, and each batch is matched by its run's token, not its id), but those runs' counts, \
             changes and rejects are not in this ledger; restore a newer copy of the ledger if you need them",
            loader.target_id(),
            ids.join(", "),
            ledger_path
        );
        obs.warning(&w);
        ctx.warnings.push(w);
    }
    Ok(loader)
}

/// The summary of a run from what the drive and the loader counted.
fn summarize(
    job: &LoadedJob,
    run_id: i64,
    per_entity: BTreeMap<&'static str, EntityLoad>,
    driven: &Driven,
    rejected_rows: u64,
    warnings: &mut Vec<String>,
    target: String,
) -> Summary {
    let mut counts = RunCounts {
        read: driven.read,
        malformed: driven.malformed,
        filtered: driven.filtered_rows(),
        ..RunCounts::default()
    };
    let mut per_entity = per_entity;
    for (name, load) in per_entity.iter_mut() {
        load.counts.read = driven.read;
        load.counts.malformed = driven.malformed;
        load.counts.filtered = driven.filtered.get(name).copied().unwrap_or(0);
        counts.add_loaded(&load.counts);
    }
    counts.rejected += driven.malformed;
    let threshold = super::threshold_crossed(job, counts.read, rejected_rows, counts.rejected);
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
        rejected_rows,
        warnings: warnings.clone(),
        misses,
        reject_reasons: driven.tally.top(10),
        target,
        elapsed: std::time::Duration::ZERO,
        threshold,
    }
}

/// Every entity's rows must add up: read = malformed + filtered + rejected + deduplicated +
/// loaded (inserted, updated, unchanged).
fn check_rows(per_entity: &BTreeMap<&'static str, EntityLoad>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, l) in per_entity {
        let c = &l.counts;
        let sum = c.malformed + c.filtered + c.rejected + c.deduplicated + c.inserted + c.updated + c.unchanged;
        if sum != c.read {
            problems.push(format!(
                "{name}: {} rows read, but {} malformed + {} filtered + {} rejected + {} deduplicated + {} inserted \
                 + {} updated + {} unchanged = {sum}",
                c.read, c.malformed, c.filtered, c.rejected, c.deduplicated, c.inserted, c.updated, c.unchanged
            ));
        }
    }
    problems
}

/// The steps of closing a load that write: snapshot deletes (unless a guard stops them, whose
/// reason is returned), the file swap, the ledger agreeing with the target (batches dropped).
fn close_load(
    job: &LoadedJob,
    loader: &mut Loader<'_>,
    ctx: &mut RunCtx,
    driven: &Driven,
    partial_extract: bool,
    threshold_crossed: bool,
) -> Result<(Option<String>, usize), PipelineError> {
    let mut guard = None;
    if job.file.job.mode == LoadMode::Snapshot {
        let why = if driven.read == 0 {
            Some("the extract is empty")
        } else if partial_extract {
            Some("--limit read only part of the extract")
        } else if threshold_crossed {
            Some("rejects exceeded the job's threshold")
        } else {
            None
        };
        match why {
            Some(why) => ctx
                .warnings
                .push(format!("snapshot mode: no keys marked deleted because {why}")),
            None => {
                let j = &job.file.job;
                let allow_unkeyed = j.unkeyed_rejects == UnkeyedRejects::AllowDeletes;
                match loader.plan_deletes(allow_unkeyed, j.max_delete_percent, &mut ctx.warnings)? {
                    Ok(entities) => loader.delete_unseen(&entities)?,
                    Err(reason) => guard = Some(reason),
                }
            }
        }
    }
    loader.swap()?;
    let dropped = loader.reconcile()?;
    Ok((guard, dropped))
}

/// Close a load: snapshot deletes when the extract was complete and trustworthy, file swaps,
/// the ledger and target agreeing, the accounting, the summary.
fn finish_load(
    job: &LoadedJob,
    mut loader: Loader<'_>,
    ctx: &mut RunCtx,
    driven: Driven,
    partial_extract: bool,
) -> Result<Summary, Failure> {
    // Everything buffered is written first: duplicates found in the last batch are rejects too.
    // A step failing here ends the run with the counts of what the target holds, as any failure.
    if let Err(e) = loader.flush() {
        return Err(fail_load(job, loader, ctx, &driven, e, false));
    }
    let mut driven = driven;
    driven.tally.merge(&loader.tally);
    let rejected_rows = driven.rejected_rows + loader.extra_rejected_rows;
    let rejected: u64 = loader.counts().values().map(|c| c.counts.rejected).sum::<u64>() + driven.malformed;
    let mut threshold = super::threshold_crossed(job, driven.read, rejected_rows, rejected);
    let closed = close_load(job, &mut loader, ctx, &driven, partial_extract, threshold.is_some());
    let (guard, dropped) = match closed {
        Ok(done) => done,
        Err(e) => return Err(fail_load(job, loader, ctx, &driven, e, false)),
    };
    let target_id = loader.target_id().to_string();
    let (per_entity, mut problems) = loader.finish()?;
    if dropped > 0 {
        problems.push(format!(
            "{dropped} batch(es) recorded in the ledger are not in the target"
        ));
    }
    let mut warnings = std::mem::take(&mut ctx.warnings);
    let mut summary = summarize(
        job,
        ctx.run_id,
        per_entity,
        &driven,
        rejected_rows,
        &mut warnings,
        target_id,
    );
    problems.extend(check_rows(&summary.per_entity));
    if !problems.is_empty() {
        ctx.warnings = warnings;
        return Err(Failure {
            error: Box::new(PipelineError::Accounting(problems.join("; "))),
            partial: Some(Box::new(summary)),
        });
    }
    if let Some(g) = guard {
        summary.status = RunStatus::DeletesExceeded;
        threshold = Some(g);
    }
    if threshold.is_some() && summary.status == RunStatus::Succeeded {
        summary.status = RunStatus::RejectsExceeded;
    }
    summary.threshold = threshold;
    Ok(summary)
}

/// A run that failed part-way: drop from the ledger what the target does not hold, and keep
/// what it does as the run's counts.
fn fail_load(
    job: &LoadedJob,
    mut loader: Loader<'_>,
    ctx: &mut RunCtx,
    driven: &Driven,
    error: PipelineError,
    flush: bool,
) -> Failure {
    // What was read before a source failed is loaded: nothing already read is lost. After
    // Ctrl-C the run stops at once instead.
    let error = match (flush, loader.flush()) {
        (true, Err(e)) => e,
        _ => error,
    };
    let per_entity = loader.failed_counts();
    let rejected_rows = driven.rejected_rows + loader.extra_rejected_rows;
    let mut warnings = std::mem::take(&mut ctx.warnings);
    let summary = summarize(
        job,
        ctx.run_id,
        per_entity,
        driven,
        rejected_rows,
        &mut warnings,
        loader.target_id().into(),
    );
    ctx.warnings = warnings;
    Failure {
        error: Box::new(error),
        partial: Some(Box::new(summary)),
    }
}

/// The parent of each of the mapping's entities whose records are rejected with their parent
/// (none where the mapping says `on_parent_reject = "load"`), in the mapping's order.
fn parent_links(mapping: &Mapping) -> Vec<Option<super::loader::ParentLink>> {
    mapping
        .entities
        .iter()
        .map(|e| {
            e.parent.as_ref().map(|p| super::loader::ParentLink {
                parent: p.entity,
                fields: p.fields.clone(),
            })
        })
        .collect()
}

/// `opsync run`: extract, transform and load in one streaming pass.
pub fn run_job(
    job: &LoadedJob,
    ledger: &mut Ledger,
    opts: &RunOptions,
    obs: &dyn Observer,
) -> Result<Summary, PipelineError> {
    with_run(job, ledger, "run", opts, |ledger, ctx| {
        let (mapping, mut source, binding) = open_and_bind(job)?;
        record_mapping_and_columns(job, ledger, ctx.run_id, &mapping, &binding, obs, &mut ctx.warnings)?;
        let entities: Vec<_> = mapping.entities.iter().map(|e| e.entity).collect();
        let mut loader = open_loader(job, ledger, ctx, &entities, mapping.sensitive_fields(), opts, obs)?;
        loader.recycle_into(mapping.pool.clone());
        loader.link_parents(parent_links(&mapping));
        let mut handed = Handed::default();
        let (mut driven, result) =
            drive_parallel(source.as_mut(), &mapping, &binding, opts.limit, obs, |row, event| {
                handed.note(row, &event);
                let result = match event {
                    RowEvent::Record(r) => loader.push(row, r),
                    RowEvent::Reject(r) => loader.reject(Some(row), r),
                    RowEvent::Malformed(r) => loader.reject_malformed(row, r),
                };
                handed.failed |= result.is_err();
                result
            });
        if let Err(e) = result {
            if handed.failed {
                handed.count_into(&mut driven);
            }
            let flush = !matches!(e, PipelineError::Interrupted(_));
            return Err(fail_load(job, loader, ctx, &driven, e, flush));
        }
        let misses = driven
            .misses
            .sorted()
            .iter()
            .map(|(t, c, n)| (t.to_string(), c.to_string(), *n))
            .collect::<Vec<_>>();
        let summary = finish_load(job, loader, ctx, driven, opts.limit.is_some())?;
        ledger.store_misses(ctx.run_id, &misses)?;
        Ok(summary)
    })
}

/// Where `transform` sends its canonical JSON Lines.
pub trait Sink {
    /// One record, or the key of a rejected one.
    fn emit(&mut self, item: &LoadItem) -> Result<(), PipelineError>;
    /// Every item was emitted and the run is about to be recorded as done: make the output whole
    /// (flush it, put the file in place). An error here fails the run.
    fn finish(&mut self) -> Result<(), PipelineError>;
}

/// One line of canonical JSON Lines: a record, a record that breaks the model, or the key of a
/// record rejected upstream.
#[derive(Debug)]
pub enum LoadItem {
    Record(CanonicalRecord),
    /// A line whose values do not fit the canonical model: rejected here.
    Invalid(Reject),
    /// Still in the source, so a snapshot load must not mark it deleted.
    Rejected {
        entity: String,
        key: String,
    },
    /// A source row rejected without a key: of one entity (its key could not be made) or of
    /// none (a malformed row). The extract holds a record the load cannot name, so a snapshot
    /// load must not delete (as `run` would not).
    Unkeyed {
        entity: Option<String>,
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
    with_run(job, ledger, "load", opts, |ledger, ctx| {
        let mapping = mapping::compile(&job.mapping, job.source().is_json())?;
        let path = job.mapping.path.display().to_string();
        ledger.store_mapping(
            &job.mapping.hash,
            &path,
            &mapping.version,
            &job.mapping.text,
            ctx.run_id,
        )?;
        let entities: Vec<_> = mapping.entities.iter().map(|e| e.entity).collect();
        let mut loader = open_loader(job, ledger, ctx, &entities, mapping.sensitive_fields(), opts, obs)?;
        // Each line is one record of one entity: per entity, the lines of that entity are its rows.
        let mut driven = Driven::default();
        let mut lines_of: BTreeMap<&'static str, u64> = BTreeMap::new();
        for r in records {
            if let Some(sig) = super::interrupt::requested() {
                return Err(fail_load(
                    job,
                    loader,
                    ctx,
                    &driven,
                    PipelineError::Interrupted(sig),
                    false,
                ));
            }
            driven.read += 1;
            let row = driven.read;
            let result = match r {
                Ok(LoadItem::Record(r)) => {
                    *lines_of.entry(r.entity.name).or_default() += 1;
                    loader.push(row, r)
                }
                Ok(LoadItem::Invalid(mut reject)) => {
                    loader.mask_line_reject(&mut reject);
                    if let Some(e) = crate::model::schema::entity(&reject.entity) {
                        *lines_of.entry(e.name).or_default() += 1;
                    }
                    driven.tally.add(&reject);
                    driven.rejected_rows += 1;
                    loader.reject(Some(row), reject)
                }
                Ok(LoadItem::Rejected { entity, key }) => {
                    if let Some(e) = crate::model::schema::entity(&entity) {
                        *lines_of.entry(e.name).or_default() += 1;
                    }
                    driven.rejected_rows += 1;
                    loader.keep_key(&entity, key)
                }
                Ok(LoadItem::Unkeyed { entity }) => {
                    driven.rejected_rows += 1;
                    match entity.as_deref().and_then(crate::model::schema::entity) {
                        Some(e) => *lines_of.entry(e.name).or_default() += 1,
                        None => {
                            // A malformed row: a row of every entity, none of which it made.
                            driven.malformed += 1;
                            for e in &entities {
                                *lines_of.entry(e.name).or_default() += 1;
                            }
                        }
                    }
                    loader.keep_unkeyed(entity.as_deref())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                driven.read -= 1;
                return Err(fail_load(job, loader, ctx, &driven, e, true));
            }
            if driven.read.is_multiple_of(4096) {
                obs.progress(0, driven.read);
            }
        }
        // A line of one entity is a row the others did not get: "filtered" for them.
        for e in &entities {
            driven
                .filtered
                .insert(e.name, driven.read - lines_of.get(e.name).copied().unwrap_or(0));
        }
        finish_load(job, loader, ctx, driven, false)
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
    sink: &mut dyn Sink,
) -> Result<Summary, PipelineError> {
    with_run(job, ledger, "transform", opts, |ledger, ctx| {
        settle_stale(ctx, ledger, None, obs)?;
        let mut mapping = mapping::compile(&job.mapping, job.source().is_json())?;
        let label = job.source().path().to_string();
        let binding = mapping.bind_source(source, &label)?;
        source.columns_read(&binding.columns_read(&mapping));
        record_mapping_and_columns(job, ledger, ctx.run_id, &mapping, &binding, obs, &mut ctx.warnings)?;
        let mut per_entity: BTreeMap<&'static str, EntityLoad> = BTreeMap::new();
        for e in &mapping.entities {
            per_entity.insert(e.entity.name, EntityLoad::default());
        }
        let mut rejects: Vec<Reject> = Vec::new();
        let (driven, result) = drive(source, &mapping, &binding, opts.limit, obs, |_, event| {
            match event {
                RowEvent::Malformed(r) => {
                    sink.emit(&LoadItem::Unkeyed { entity: None })?;
                    rejects.push(r);
                }
                RowEvent::Record(r) => {
                    let c = &mut per_entity.entry(r.entity.name).or_default().counts;
                    c.valid += 1;
                    sink.emit(&LoadItem::Record(r))?;
                }
                RowEvent::Reject(r) => {
                    if let Some(c) = crate::model::schema::entity(&r.entity).and_then(|e| per_entity.get_mut(e.name)) {
                        c.counts.rejected += 1;
                    }
                    match &r.key {
                        Some(key) => sink.emit(&LoadItem::Rejected {
                            entity: r.entity.clone(),
                            key: key.clone(),
                        })?,
                        None => sink.emit(&LoadItem::Unkeyed {
                            entity: Some(r.entity.clone()),
                        })?,
                    }
                    rejects.push(r);
                    if rejects.len() >= REJECT_BATCH {
                        ledger.insert_rejects(ctx.run_id, &std::mem::take(&mut rejects))?;
                    }
                }
            }
            Ok(())
        });
        ledger.insert_rejects(ctx.run_id, &rejects)?;
        result?;
        let rejected_rows = driven.rejected_rows;
        let mut warnings = std::mem::take(&mut ctx.warnings);
        let summary = summarize(
            job,
            ctx.run_id,
            per_entity,
            &driven,
            rejected_rows,
            &mut warnings,
            "(canonical JSON Lines)".into(),
        );
        ledger.store_misses(ctx.run_id, &summary.misses)?;
        // Inside the run: an output that cannot be put in place fails it.
        sink.finish()?;
        Ok(summary)
    })
}
