//! The load half of a run: canonical records to the target a batch at a time, each batch
//! recorded in the ledger first and committed to the target with its marker, then snapshot
//! deletes, then the check that the run's accounting holds.
//!
//! Verdicts come from the target, where the state lives: a key met earlier in this run is
//! deduplicated (same content) or a `duplicate_key` reject (other content); else a key the target
//! lacks is an insert, one it holds deleted a re-insert, one with another hash an update, one with
//! the same hash unchanged (not written). A row without a stored hash (written before hashes were
//! kept, or by hand) and every row under `--full-refresh` is compared by its values instead.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod handed;
mod masking;
mod parents;
mod snapshot;

use super::{PipelineError, failpoint, verdict::Verdict};
use crate::config::LoadMode;
use crate::ledger::state::{BatchCounts, BatchRecord};
use crate::ledger::{Ledger, RunCounts, Stream};
use crate::model::record::check_values;
use crate::model::{CanonicalRecord, Entity, Reason, Reject};
use crate::target::{Claim, Hash, KeyRef, Target, TargetBatch, WriteKind};
pub use handed::Handed;
pub use parents::ParentLink;
pub use snapshot::reconcile_run;

/// Rejects are written to the ledger this many at a time.
const REJECT_BATCH: usize = 1_000;

/// A record, or the key of a rejected record, in source order.
enum Item {
    Record { row: u64, record: CanonicalRecord },
    Rejected(String),
}

struct EntityBuffer {
    stream: Stream,
    entity: &'static Entity,
    items: Vec<Item>,
    records: usize,
    /// Sequence number of the last batch.
    seq: u64,
    counts: RunCounts,
    /// Full, waiting for its row to be complete before it is written (a buffer with a parent).
    due: bool,
    /// Rejects whose key could not be made: their keys may be among those a snapshot lacks.
    unkeyed: u64,
    live_before: u64,
}

/// Settings of a load.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub job: String,
    pub mode: LoadMode,
    pub batch_size: usize,
    /// Compare every record's values with the target's, not only hashes.
    pub full_refresh: bool,
}

/// Loads canonical records into one target and keeps the ledger beside it.
pub struct Loader<'l> {
    ledger: &'l mut Ledger,
    ledger_id: String,
    /// The run's token, in the markers of its batches.
    token: String,
    target: Box<dyn Target>,
    target_id: String,
    run: i64,
    settings: LoadSettings,
    buffers: Vec<EntityBuffer>,
    rejects: Vec<Reject>,
    /// Fields masked in messages and in the records kept with rejects, as (entity, field).
    sensitive: HashSet<(&'static str, &'static str)>,
    /// Rows (by their number in the run) known to have a rejected record; pruned as batches flush.
    rejected_recent: BTreeSet<u64>,
    /// The latest row handed to the loader.
    current_row: u64,
    /// Rows whose only rejected records are the loader's own (duplicate keys, model checks): the
    /// drive counts the rows the mapping rejected.
    pub extra_rejected_rows: u64,
    /// Reasons of the rejects the loader itself makes (duplicate keys), for the run summary.
    pub tally: super::ReasonTally,
    /// Where the values of written records go back, to be refilled.
    pool: Option<std::sync::Arc<crate::model::RecordPool>>,
    /// Which buffers' records belong to which others', and the parents rejected here.
    parents: parents::Parents,
}

/// What the loader counted for one entity, with the target's live rows before and after (`None`
/// when the target could not be read after a failure: unknown, not a made-up number).
#[derive(Debug, Clone, Default)]
pub struct EntityLoad {
    pub counts: RunCounts,
    pub live_before: u64,
    pub live_after: Option<u64>,
}

impl<'l> Loader<'l> {
    pub fn new(
        ledger: &'l mut Ledger,
        mut target: Box<dyn Target>,
        entities: &[&'static Entity],
        run: i64,
        settings: LoadSettings,
        wait: &dyn Fn(&str),
    ) -> Result<Self, PipelineError> {
        let ledger_id = ledger.id()?;
        let token = ledger.run_token(run)?;
        let claim = Claim {
            ledger: &ledger_id,
            job: &settings.job,
            mode: settings.mode,
        };
        target.prepare(entities, &claim, wait)?;
        let target_id = target.id();
        let mut buffers = Vec::new();
        for e in entities {
            let stream = ledger.stream(&target_id, e.name)?;
            let empty_at_start = target.is_empty(e)?;
            let live_before = if empty_at_start { 0 } else { target.live_count(e)? };
            buffers.push(EntityBuffer {
                stream,
                entity: e,
                items: Vec::new(),
                records: 0,
                seq: 0,
                counts: RunCounts::default(),
                due: false,
                unkeyed: 0,
                live_before,
            });
        }
        Ok(Loader {
            ledger,
            ledger_id,
            token,
            target,
            target_id,
            run,
            settings,
            buffers,
            rejects: Vec::new(),
            sensitive: HashSet::new(),
            rejected_recent: BTreeSet::new(),
            current_row: 0,
            extra_rejected_rows: 0,
            tally: super::ReasonTally::default(),
            pool: None,
            parents: parents::Parents::default(),
        })
    }

    /// Mask these (entity, field) values in messages and in the records kept with rejects.
    pub fn mask_fields(&mut self, fields: impl IntoIterator<Item = (&'static str, &'static str)>) {
        self.sensitive.extend(fields);
    }

    /// Hand the values of records, once written, back to this pool.
    pub fn recycle_into(&mut self, pool: std::sync::Arc<crate::model::RecordPool>) {
        self.pool = Some(pool);
    }

    /// The parent of each entity, in the order of the entities given to [`Loader::new`]: a
    /// record whose parent from the same row the loader rejects is rejected too.
    pub fn link_parents(&mut self, links: Vec<Option<ParentLink>>) {
        self.parents = parents::Parents::new(links);
    }

    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    pub fn ledger(&mut self) -> &mut Ledger {
        self.ledger
    }

    fn buffer_index(&self, entity: &str) -> Result<usize, PipelineError> {
        self.buffers
            .iter()
            .position(|b| b.entity.name == entity)
            .ok_or_else(|| PipelineError::Input(format!("entity {entity} is not produced by this job's mapping")))
    }

    fn is_sensitive(&self, entity: &str, field: &str) -> bool {
        self.sensitive.iter().any(|(e, f)| *e == entity && *f == field)
    }

    /// Queue a canonical record of source row `row`; writes a batch when it is full. A record
    /// that breaks the canonical model is a reject, whichever command made it.
    pub fn push(&mut self, row: u64, record: CanonicalRecord) -> Result<(), PipelineError> {
        self.next_row(row)?;
        let i = self.buffer_index(record.entity.name)?;
        let name = record.entity.name;
        let shown = |field: &str, text: &str| {
            if self.is_sensitive(name, field) {
                crate::mapping::MASK.to_string()
            } else {
                text.to_string()
            }
        };
        let reasons = check_values(record.entity, &record.values, &shown);
        self.current_row = self.current_row.max(row);
        if !reasons.is_empty() {
            let key_ok = record.entity.key_fields().all(|(k, _)| !record.values[k].is_null());
            let reject = Reject {
                entity: name.to_string(),
                key: key_ok.then(|| record.key()),
                lineage: record.lineage.clone(),
                reasons,
                raw: serde_json::Value::Object(self.masked_json(&record)),
            };
            self.tally.add(&reject);
            self.own_rejected_row(row);
            let shown = self.shown_key(&record);
            self.parents.note(i, row, &record, &reject, shown);
            return self.reject(Some(row), reject);
        }
        let b = &mut self.buffers[i];
        b.items.push(Item::Record { row, record });
        b.records += 1;
        if b.records >= self.settings.batch_size {
            if self.parents.parent_of(i).is_some() {
                // The parent of a record of this row may come after it: written once the row is done.
                self.buffers[i].due = true;
            } else {
                self.flush_entity(i)?;
            }
        }
        Ok(())
    }

    /// A row after the current one: every record of the rows before is in, so the buffers that
    /// waited for their rows to be complete are written.
    fn next_row(&mut self, row: u64) -> Result<(), PipelineError> {
        if row > self.current_row {
            for i in 0..self.buffers.len() {
                if self.buffers[i].due {
                    self.flush_entity(i)?;
                }
            }
        }
        Ok(())
    }

    /// A record's key as messages show it: masked when a key field is sensitive.
    fn shown_key(&self, record: &CanonicalRecord) -> String {
        let entity = record.entity;
        if entity.key_fields().any(|(k, _)| record.values[k].is_null()) {
            "(no key)".to_string()
        } else if entity.key_fields().any(|(_, f)| self.is_sensitive(entity.name, f.name)) {
            crate::mapping::MASK.to_string()
        } else {
            record.key()
        }
    }

    /// Keep a key that was rejected upstream (by `opsync transform`) from snapshot deletes.
    pub fn keep_key(&mut self, entity: &str, key: String) -> Result<(), PipelineError> {
        let i = self.buffer_index(entity)?;
        self.buffers[i].counts.rejected += 1;
        self.buffers[i].items.push(Item::Rejected(key));
        Ok(())
    }

    /// Keep a row rejected upstream without a key (of `entity`, or malformed when `None`) from
    /// snapshot deletes, as [`Loader::reject`] and [`Loader::reject_malformed`] do.
    pub fn keep_unkeyed(&mut self, entity: Option<&str>) -> Result<(), PipelineError> {
        match entity {
            Some(e) => {
                let i = self.buffer_index(e)?;
                self.buffers[i].counts.rejected += 1;
                self.buffers[i].unkeyed += 1;
            }
            None => self.buffers.iter_mut().for_each(|b| b.unkeyed += 1),
        }
        Ok(())
    }

    /// Record a row that could not be read as a row: no record of any entity came from it and no
    /// key is known, so it blocks every entity's snapshot deletes (unless the job allows them).
    pub fn reject_malformed(&mut self, row: u64, reject: Reject) -> Result<(), PipelineError> {
        self.next_row(row)?;
        for b in &mut self.buffers {
            b.unkeyed += 1;
        }
        self.current_row = self.current_row.max(row);
        self.rejected_recent.insert(row);
        self.rejects.push(reject);
        if self.rejects.len() >= REJECT_BATCH {
            self.flush_rejects()?;
        }
        Ok(())
    }

    /// Count a row rejected by the loader itself, unless the mapping rejected a record of it.
    fn own_rejected_row(&mut self, row: u64) {
        if self.rejected_recent.insert(row) {
            self.extra_rejected_rows += 1;
        }
    }

    /// Record a reject of source row `row` (`None`: not tied to one row of this run). The drive
    /// counts the rows it rejects; the loader only remembers them.
    pub fn reject(&mut self, row: Option<u64>, reject: Reject) -> Result<(), PipelineError> {
        if let Some(row) = row {
            self.next_row(row)?;
        }
        if let Ok(i) = self.buffer_index(&reject.entity) {
            let b = &mut self.buffers[i];
            b.counts.rejected += 1;
            match &reject.key {
                Some(k) => b.items.push(Item::Rejected(k.clone())),
                None => b.unkeyed += 1,
            }
        }
        if let Some(row) = row {
            self.current_row = self.current_row.max(row);
            self.rejected_recent.insert(row);
        }
        self.rejects.push(reject);
        if self.rejects.len() >= REJECT_BATCH {
            self.flush_rejects()?;
        }
        Ok(())
    }

    pub(crate) fn flush_rejects(&mut self) -> Result<(), PipelineError> {
        let rejects = std::mem::take(&mut self.rejects);
        self.ledger.insert_rejects(self.run, &rejects)?;
        Ok(())
    }

    /// Forget rejected rows older than every row still waiting in a buffer (and than the row
    /// being handed over, whose other records may still come).
    fn prune_rejected_rows(&mut self) {
        let oldest = self
            .buffers
            .iter()
            .filter_map(|b| {
                b.items.iter().find_map(|it| match it {
                    Item::Record { row, .. } => Some(*row),
                    Item::Rejected(_) => None,
                })
            })
            .min()
            .unwrap_or(self.current_row)
            .min(self.current_row);
        self.rejected_recent = self.rejected_recent.split_off(&oldest);
        self.parents.prune(oldest);
    }

    fn flush_entity(&mut self, i: usize) -> Result<(), PipelineError> {
        // A record is written only once its parent's verdict is known.
        if let Some(p) = self.parents.parent_of(i) {
            self.flush_entity(p)?;
        }
        let mut items = std::mem::take(&mut self.buffers[i].items);
        self.buffers[i].records = 0;
        self.buffers[i].due = false;
        if items.is_empty() {
            return Ok(());
        }
        self.reject_orphans(i, &mut items);
        self.target.begin()?;
        let mut recorded = None;
        let result = self.flush_items(i, &items, &mut recorded);
        match &self.pool {
            Some(pool) => pool.give(items.drain(..).filter_map(|it| match it {
                Item::Record { record, .. } => Some((record.entity, record.values)),
                Item::Rejected(_) => None,
            })),
            None => items.clear(),
        }
        // The next batch fills the same allocation: a fresh one per batch costs page faults.
        self.buffers[i].items = items;
        let dups = match result {
            Ok(dups) => dups,
            Err(e) => {
                self.target.rollback();
                if let Some(seq) = recorded {
                    // Best effort: the next run drops it anyway, as the target has no marker of it.
                    let stream = self.buffers[i].stream.id;
                    let _ = self.ledger.discard_batch(self.run, stream, seq);
                }
                return Err(e);
            }
        };
        for (row, reject) in dups {
            self.tally.add(&reject);
            self.own_rejected_row(row);
            self.buffers[i].counts.rejected += 1;
            self.rejects.push(reject);
        }
        if self.rejects.len() >= REJECT_BATCH {
            self.flush_rejects()?;
        }
        self.prune_rejected_rows();
        Ok(())
    }

    /// Decide, record and write one batch inside the target's open transaction. Returns the
    /// duplicate-key rejects (with their rows) to record once the batch is committed.
    fn flush_items(
        &mut self,
        i: usize,
        items: &[Item],
        recorded: &mut Option<u64>,
    ) -> Result<Vec<(u64, Reject)>, PipelineError> {
        let entity = self.buffers[i].entity;
        let hashes: Vec<Option<Hash>> = items
            .iter()
            .map(|it| match it {
                Item::Record { record, .. } => Some(record.content_hash()),
                Item::Rejected(_) => None,
            })
            .collect();
        let keyrefs: Vec<KeyRef<'_>> = items
            .iter()
            .zip(&hashes)
            .map(|(it, h)| match it {
                Item::Record { record, .. } => KeyRef::Record(record, h.unwrap_or_default()),
                Item::Rejected(k) => KeyRef::Rejected(k),
            })
            .collect();
        let looked = self.target.lookup(entity, &keyrefs)?;
        let mut verdicts: Vec<Option<Verdict>> = (0..items.len())
            .map(|n| match &items[n] {
                Item::Rejected(_) => None,
                Item::Record { .. } => Some(Verdict::decide(
                    looked[n].sighting,
                    looked[n].stored,
                    hashes[n].unwrap_or_default(),
                    self.settings.full_refresh,
                )),
            })
            .collect();

        // Updates name the fields they change; rows compared by value settle here.
        let to_fetch: Vec<&CanonicalRecord> = (0..items.len())
            .filter(|&n| matches!(verdicts[n], Some(Verdict::Update | Verdict::Compare { .. })))
            .map(|n| record_of(&items[n]))
            .collect();
        let old = if to_fetch.is_empty() {
            HashMap::new()
        } else {
            self.target.fetch(entity, &to_fetch)?
        };
        let mut fields: Vec<Option<String>> = vec![None; items.len()];
        for n in 0..items.len() {
            let Some(v) = verdicts[n] else { continue };
            if !matches!(v, Verdict::Update | Verdict::Compare { .. }) {
                continue;
            }
            let r = record_of(&items[n]);
            let changed = old.get(&r.key()).map(|o| r.changed_fields(o));
            // A hash that differs while every value is the same was made some other way (an
            // older opsync, a hand edit of `_hash`): only the hash is written.
            verdicts[n] = Some(match (v, &changed) {
                (
                    Verdict::Compare {
                        stored_hash_matches: true,
                    },
                    Some(c),
                ) if c.is_empty() => Verdict::Unchanged,
                (_, Some(c)) if c.is_empty() => Verdict::Rehash,
                _ => Verdict::Update,
            });
            if verdicts[n] == Some(Verdict::Update) {
                fields[n] = changed.map(|c| serde_json::to_string(&c).unwrap_or_default());
            }
        }

        let mut counts = BatchCounts::default();
        let mut changes = Vec::new();
        let mut writes = Vec::new();
        let mut unchanged = Vec::new();
        let mut dups = Vec::new();
        for n in 0..items.len() {
            let Item::Record { row, record } = &items[n] else {
                continue;
            };
            let hash = hashes[n].unwrap_or_default();
            match verdicts[n] {
                Some(Verdict::Insert) => {
                    counts.inserted += 1;
                    writes.push((record, hash, WriteKind::Insert));
                }
                Some(Verdict::Reinsert) => {
                    counts.inserted += 1;
                    changes.push((record.key(), "insert", None));
                    writes.push((record, hash, WriteKind::Reinsert));
                }
                Some(Verdict::Update) => {
                    counts.updated += 1;
                    changes.push((record.key(), "update", fields[n].take()));
                    writes.push((record, hash, WriteKind::Update));
                }
                Some(Verdict::Rehash) => {
                    counts.unchanged += 1;
                    writes.push((record, hash, WriteKind::Rehash));
                }
                Some(Verdict::Unchanged) => {
                    counts.unchanged += 1;
                    unchanged.push(record);
                }
                Some(Verdict::Deduplicated) => counts.deduplicated += 1,
                Some(Verdict::Duplicate { earlier_rejected }) => {
                    let key = record.key();
                    let first = items[..n].iter().find_map(|it| match it {
                        Item::Record { record: r, .. } if r.key() == key => Some(r),
                        _ => None,
                    });
                    let where_first = match (earlier_rejected, first) {
                        (true, _) => "an earlier row with this key was rejected".to_string(),
                        (false, Some(r)) => format!("first at {}", r.lineage),
                        (false, None) => "first seen earlier in this extract".to_string(),
                    };
                    let reject = self.duplicate_reject(record, &key, &where_first);
                    let shown = self.shown_key(record);
                    self.parents.note(i, *row, record, &reject, shown);
                    dups.push((*row, reject));
                }
                Some(Verdict::Compare { .. }) | None => {}
            }
        }
        let b = &mut self.buffers[i];
        b.seq += 1;
        let seq = b.seq;
        let stream = b.stream.clone();
        let batch = BatchRecord { seq, counts, changes };
        self.ledger.commit_batch(&stream, self.run, &batch)?;
        *recorded = Some(seq);
        failpoint::hit("batch_recorded");
        let target_batch = TargetBatch {
            ledger: &self.ledger_id,
            run: self.run,
            token: &self.token,
            seq,
            writes,
            unchanged,
            deletes: Vec::new(),
        };
        self.target.write(entity, &target_batch)?;
        self.target.commit()?;
        failpoint::hit("batch_committed");
        let c = &mut self.buffers[i].counts;
        c.inserted += counts.inserted;
        c.updated += counts.updated;
        c.unchanged += counts.unchanged;
        c.deduplicated += counts.deduplicated;
        c.valid += counts.inserted + counts.updated + counts.unchanged;
        Ok(dups)
    }

    fn duplicate_reject(&self, record: &CanonicalRecord, key: &str, where_first: &str) -> Reject {
        let entity = record.entity;
        let shown = self.shown_key(record);
        Reject {
            entity: entity.name.to_string(),
            key: Some(key.to_string()),
            lineage: record.lineage.clone(),
            reasons: vec![Reason {
                field: entity.key_label(),
                rule: "duplicate_key".into(),
                value: Some(shown.clone()),
                message: format!("key {shown:?} appears again with different values ({where_first})"),
            }],
            raw: serde_json::Value::Object(self.masked_json(record)),
        }
    }

    /// Write what is buffered.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        for i in 0..self.buffers.len() {
            self.flush_entity(i)?;
        }
        self.flush_rejects()
    }

    /// The counts so far.
    pub fn counts(&self) -> BTreeMap<&'static str, EntityLoad> {
        self.buffers
            .iter()
            .map(|b| {
                (
                    b.entity.name,
                    EntityLoad {
                        counts: b.counts.clone(),
                        live_before: b.live_before,
                        live_after: None,
                    },
                )
            })
            .collect()
    }
}

fn record_of(item: &Item) -> &CanonicalRecord {
    match item {
        Item::Record { record, .. } => record,
        Item::Rejected(_) => unreachable!("only records are asked for their record"),
    }
}
