//! A load's end: snapshot deletes behind their guards, keeping in the ledger exactly the batches
//! the target holds, and the true counts of a run that failed.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use super::{EntityLoad, Loader, failpoint};
use crate::ledger::Ledger;
use crate::ledger::state::{BatchCounts, BatchRecord};
use crate::model::Entity;
use crate::pipeline::PipelineError;
use crate::target::{RunMark, Target, TargetBatch};

impl Loader<'_> {
    /// Runs the target holds batches of that the ledger never recorded, each reported once: the
    /// ledger was restored from a backup (or copied) after they ran.
    pub fn foreign_runs(&mut self) -> Result<Vec<i64>, PipelineError> {
        let marked = self.target.marked_runs(&self.ledger_id)?;
        Ok(self.ledger.foreign_runs(&self.target_id, &marked, self.run)?)
    }

    /// Put file targets' files in place: their hashes are recorded in the ledger first.
    pub fn swap(&mut self) -> Result<(), PipelineError> {
        let hashes = self.target.prepare_swap()?;
        for (entity, hash) in &hashes {
            if let Some(b) = self.buffers.iter().find(|b| b.entity.name == *entity) {
                self.ledger.record_swap(self.run, b.stream.id, hash)?;
            }
        }
        if !hashes.is_empty() {
            failpoint::hit("swap_recorded");
            self.target.swap()?;
            failpoint::hit("swapped");
        }
        Ok(())
    }

    /// Drop the ledger's batches of this run that the target does not hold (a failed write, a
    /// file target whose files were never swapped in), so the two agree. Returns how many.
    pub fn reconcile(&mut self) -> Result<usize, PipelineError> {
        reconcile_run(self.ledger, self.target.as_mut(), &self.ledger_id, self.run)
    }

    /// The counts and live rows of each entity, checked: the target's live rows must be those
    /// before the run plus its inserts less its deletes.
    pub fn finish(mut self) -> Result<(BTreeMap<&'static str, EntityLoad>, Vec<String>), PipelineError> {
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        for i in 0..self.buffers.len() {
            let e = self.buffers[i].entity;
            let b = &self.buffers[i];
            // The table is locked for the run: when the run wrote nothing, nothing changed it.
            let wrote = b.counts.inserted + b.counts.updated + b.counts.deleted > 0;
            let live_after = if wrote {
                self.target.live_count(e)?
            } else {
                b.live_before
            };
            let b = &self.buffers[i];
            let expected = (b.live_before + b.counts.inserted).saturating_sub(b.counts.deleted);
            if live_after != expected {
                problems.push(format!(
                    "{}: the target holds {live_after} live records, but {} before the run + {} inserted - {} \
                     deleted = {expected}",
                    e.name, b.live_before, b.counts.inserted, b.counts.deleted
                ));
            }
            out.insert(
                e.name,
                EntityLoad {
                    counts: b.counts.clone(),
                    live_before: b.live_before,
                    live_after: Some(live_after),
                },
            );
        }
        self.flush_rejects()?;
        Ok((out, problems))
    }

    /// Snapshot deletes: whether each entity may delete, and the guard against wiping a table.
    /// Returns the entities to delete in, or the reason nothing may be deleted at all.
    pub fn plan_deletes(
        &mut self,
        unkeyed_allowed: bool,
        max_delete_percent: Decimal,
        warnings: &mut Vec<String>,
    ) -> Result<Result<Vec<usize>, String>, PipelineError> {
        let mut allowed = Vec::new();
        for i in 0..self.buffers.len() {
            let (unkeyed, e) = (self.buffers[i].unkeyed, self.buffers[i].entity);
            if unkeyed > 0 && !unkeyed_allowed {
                if self.target.unseen_count(e)? == 0 {
                    continue;
                }
                let b = &self.buffers[i];
                warnings.push(format!(
                    "snapshot mode: no {} marked deleted because {} rejected row(s) had no key (malformed, or the \
                     key failed a step): their keys may be among those missing; fix them, or set \
                     unkeyed_rejects = \"allow_deletes\" in [job]",
                    b.entity.name, b.unkeyed
                ));
                continue;
            }
            allowed.push(i);
        }
        for &i in &allowed {
            let e = self.buffers[i].entity;
            let live = self.target.live_count(e)?;
            let unseen = self.target.unseen_count(e)?;
            if live > 0 && Decimal::from(unseen) * Decimal::ONE_HUNDRED > max_delete_percent * Decimal::from(live) {
                let pct = (Decimal::from(unseen) * Decimal::ONE_HUNDRED / Decimal::from(live)).round_dp(1);
                return Ok(Err(format!(
                    "snapshot would delete {unseen} of {live} live {} records ({pct}%), more than the job's \
                     max_delete_percent ({max_delete_percent}%); nothing was deleted. If the extract is complete, \
                     raise max_delete_percent in [job] for one run",
                    e.name
                )));
            }
        }
        Ok(Ok(allowed))
    }

    /// Mark the keys this run did not meet as deleted, a batch at a time, for these entities.
    pub fn delete_unseen(&mut self, entities: &[usize]) -> Result<(), PipelineError> {
        for &i in entities {
            let entity = self.buffers[i].entity;
            loop {
                self.target.begin()?;
                let mut recorded = None;
                let result = self.delete_batch(i, entity, &mut recorded);
                match result {
                    Ok(true) => {}
                    Ok(false) => {
                        self.target.rollback();
                        break;
                    }
                    Err(e) => {
                        self.target.rollback();
                        if let Some(seq) = recorded {
                            let stream = self.buffers[i].stream.id;
                            let _ = self.ledger.discard_batch(self.run, stream, seq);
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    fn delete_batch(
        &mut self,
        i: usize,
        entity: &'static Entity,
        recorded: &mut Option<u64>,
    ) -> Result<bool, PipelineError> {
        let keys = self.target.unseen(entity, self.settings.batch_size)?;
        if keys.is_empty() {
            return Ok(false);
        }
        let b = &mut self.buffers[i];
        b.seq += 1;
        let (seq, stream) = (b.seq, b.stream.clone());
        let batch = BatchRecord {
            seq,
            counts: BatchCounts {
                deleted: keys.len() as u64,
                ..BatchCounts::default()
            },
            changes: keys.iter().map(|k| (k.clone(), "delete", None)).collect(),
        };
        self.ledger.commit_batch(&stream, self.run, &batch)?;
        *recorded = Some(seq);
        failpoint::hit("batch_recorded");
        let target_batch = TargetBatch {
            ledger: &self.ledger_id,
            run: self.run,
            token: &self.token,
            seq,
            writes: Vec::new(),
            unchanged: Vec::new(),
            deletes: keys.iter().map(String::as_str).collect(),
        };
        self.target.write(entity, &target_batch)?;
        self.target.commit()?;
        failpoint::hit("batch_committed");
        self.buffers[i].counts.deleted += keys.len() as u64;
        Ok(true)
    }

    /// The counts of a run that failed, true whatever the failure left: its loaded records
    /// counted from the batches the ledger keeps once reconciled with the target (what the target
    /// holds, not what was attempted), its rejects as the ledger holds them, and the target's live
    /// records read back (unknown when the target cannot be read).
    pub fn failed_counts(&mut self) -> BTreeMap<&'static str, EntityLoad> {
        // Best effort: rejects still buffered reach the ledger if it can take them.
        let _ = self.flush_rejects();
        let mut out = self.held_counts().unwrap_or_else(|_| self.counts());
        if let Ok(ledger_rejects) = self.ledger.reject_counts(self.run) {
            for (name, load) in out.iter_mut() {
                load.counts.rejected = ledger_rejects.get(*name).copied().unwrap_or(0);
            }
        }
        for b in &self.buffers {
            if let Some(load) = out.get_mut(b.entity.name) {
                load.live_after = self.target.live_in_place(b.entity).ok();
            }
        }
        out
    }

    /// The counts of a run that failed, its loaded records counted from the batches the ledger
    /// keeps once reconciled with the target.
    fn held_counts(&mut self) -> Result<BTreeMap<&'static str, EntityLoad>, PipelineError> {
        self.reconcile()?;
        let mut held: HashMap<String, BatchCounts> = HashMap::new();
        for b in self.ledger.run_batches(self.run)? {
            held.entry(b.entity).or_default().add(&b.counts);
        }
        let mut out = self.counts();
        for (name, load) in out.iter_mut() {
            let h = held.remove(*name).unwrap_or_default();
            let c = &mut load.counts;
            (c.inserted, c.updated, c.unchanged, c.deduplicated, c.deleted) =
                (h.inserted, h.updated, h.unchanged, h.deduplicated, h.deleted);
            c.valid = h.inserted + h.updated + h.unchanged;
        }
        Ok(out)
    }
}

/// Drop a run's ledger batches that `target` does not hold; returns how many were dropped.
pub fn reconcile_run(
    ledger: &mut Ledger,
    target: &mut dyn Target,
    ledger_id: &str,
    run: i64,
) -> Result<usize, PipelineError> {
    let batches = ledger.run_batches(run)?;
    let token = ledger.run_token(run)?;
    let mark = RunMark { id: run, token: &token };
    let mut by_stream: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for b in batches {
        by_stream.entry(b.stream).or_default().push(b);
    }
    let mut dropped = 0;
    for (stream, batches) in by_stream {
        let Some(entity) = crate::model::schema::entity(&batches[0].entity) else {
            continue;
        };
        let swap = ledger.swap_hash(run, stream)?;
        let held = target.committed(ledger_id, mark, entity, swap.as_deref())?;
        for b in batches.iter().filter(|b| !held.has(b.seq)) {
            ledger.discard_batch(run, stream, b.seq)?;
            dropped += 1;
        }
    }
    Ok(dropped)
}
