//! The load half of a run: canonical records in batches to the target, then their state to the
//! ledger. Decides insert / update / unchanged / duplicate per key a batch at a time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::PipelineError;
use crate::config::LoadMode;
use crate::ledger::state::{BatchWrite, Written};
use crate::ledger::{Ledger, RunCounts, Stream};
use crate::model::{CanonicalRecord, Entity, Reason, Reject};
use crate::target::Target;

/// Rejects are written to the ledger this many at a time.
const REJECT_BATCH: usize = 1_000;

struct EntityBuffer {
    stream: Stream,
    entity: &'static Entity,
    pending: Vec<CanonicalRecord>,
    /// Keys of rejected records: still present in the source, so never deleted by a snapshot.
    rejected_keys: Vec<String>,
}

/// Loads canonical records into one target and keeps the ledger beside it.
pub struct Loader<'l> {
    ledger: &'l mut Ledger,
    target: Box<dyn Target>,
    target_id: String,
    run: i64,
    mapping_hash: String,
    batch_size: usize,
    buffers: Vec<EntityBuffer>,
    rejects: Vec<Reject>,
    source_ids: HashMap<Arc<str>, i64>,
    /// Fields masked in the raw values of duplicate-key rejects, as (entity, field).
    sensitive: HashSet<(&'static str, &'static str)>,
    /// Counts per entity.
    pub counts: BTreeMap<&'static str, RunCounts>,
    /// Reasons of the rejects the loader itself makes (duplicate keys), for the run summary.
    pub tally: super::ReasonTally,
}

/// How one record of a batch compares with the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Insert,
    Reinsert,
    Update,
    Unchanged,
    Deduplicated,
    /// Same key, different values; the index of the first occurrence if it is in this batch.
    Duplicate(Option<usize>),
}

impl<'l> Loader<'l> {
    pub fn new(
        ledger: &'l mut Ledger,
        mut target: Box<dyn Target>,
        entities: &[&'static Entity],
        run: i64,
        mapping_hash: &str,
        batch_size: usize,
    ) -> Result<Self, PipelineError> {
        target.prepare(entities)?;
        let target_id = target.id();
        let mut buffers = Vec::new();
        let mut counts = BTreeMap::new();
        for e in entities {
            let stream = ledger.stream(&target_id, e.name)?;
            buffers.push(EntityBuffer {
                stream,
                entity: e,
                pending: Vec::new(),
                rejected_keys: Vec::new(),
            });
            counts.insert(e.name, RunCounts::default());
        }
        Ok(Loader {
            ledger,
            target,
            target_id,
            run,
            mapping_hash: mapping_hash.to_string(),
            batch_size,
            buffers,
            rejects: Vec::new(),
            source_ids: HashMap::new(),
            sensitive: HashSet::new(),
            counts,
            tally: super::ReasonTally::default(),
        })
    }

    /// Mask these (entity, field) values in the records kept with duplicate-key rejects.
    pub fn mask_fields(&mut self, fields: impl IntoIterator<Item = (&'static str, &'static str)>) {
        self.sensitive.extend(fields);
    }

    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    fn buffer_index(&self, entity: &str) -> Result<usize, PipelineError> {
        self.buffers
            .iter()
            .position(|b| b.entity.name == entity)
            .ok_or_else(|| PipelineError::Input(format!("entity {entity} is not produced by this job's mapping")))
    }

    /// Queue a canonical record; writes a batch when it is full.
    pub fn push(&mut self, record: CanonicalRecord) -> Result<(), PipelineError> {
        let i = self.buffer_index(record.entity.name)?;
        self.buffers[i].pending.push(record);
        if self.buffers[i].pending.len() >= self.batch_size {
            self.flush_entity(i)?;
        }
        Ok(())
    }

    /// Keep a key that was rejected upstream (by `opsync transform`) from snapshot deletes.
    pub fn keep_key(&mut self, entity: &str, key: String) -> Result<(), PipelineError> {
        let i = self.buffer_index(entity)?;
        self.buffers[i].rejected_keys.push(key);
        Ok(())
    }

    /// Record a reject.
    pub fn reject(&mut self, reject: Reject) -> Result<(), PipelineError> {
        if let Ok(i) = self.buffer_index(&reject.entity) {
            let b = &mut self.buffers[i];
            self.counts.entry(b.entity.name).or_default().rejected += 1;
            if let Some(k) = &reject.key {
                b.rejected_keys.push(k.clone());
            }
        }
        self.rejects.push(reject);
        if self.rejects.len() >= REJECT_BATCH {
            self.flush_rejects()?;
        }
        Ok(())
    }

    fn flush_rejects(&mut self) -> Result<(), PipelineError> {
        let rejects = std::mem::take(&mut self.rejects);
        self.ledger.insert_rejects(self.run, &rejects)?;
        Ok(())
    }

    fn source_id(&mut self, source: &Arc<str>) -> Result<i64, PipelineError> {
        if let Some(id) = self.source_ids.get(source) {
            return Ok(*id);
        }
        let id = self.ledger.source_id(source)?;
        self.source_ids.insert(source.clone(), id);
        Ok(id)
    }

    fn flush_entity(&mut self, i: usize) -> Result<(), PipelineError> {
        let records = std::mem::take(&mut self.buffers[i].pending);
        let rejected_keys = std::mem::take(&mut self.buffers[i].rejected_keys);
        if records.is_empty() && rejected_keys.is_empty() {
            return Ok(());
        }
        let entity = self.buffers[i].entity;
        let stream = self.buffers[i].stream.clone();
        let keys: Vec<String> = records.iter().map(CanonicalRecord::key).collect();
        let hashes: Vec<[u8; 16]> = records.iter().map(CanonicalRecord::content_hash).collect();
        let states = self.ledger.states(&stream, keys.iter().map(String::as_str))?;

        let mut first: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        let mut verdicts = Vec::with_capacity(records.len());
        for (n, key) in keys.iter().enumerate() {
            let verdict = if let Some(&j) = first.get(key.as_str()) {
                if hashes[j] == hashes[n] {
                    Verdict::Deduplicated
                } else {
                    Verdict::Duplicate(Some(j))
                }
            } else {
                first.insert(key, n);
                match states.get(key.as_str()) {
                    None => Verdict::Insert,
                    Some(s) if s.deleted_run.is_some() => Verdict::Reinsert,
                    Some(s) if s.seen_run == self.run => {
                        if s.hash[..] == hashes[n][..] {
                            Verdict::Deduplicated
                        } else {
                            Verdict::Duplicate(None)
                        }
                    }
                    Some(s) if s.hash[..] != hashes[n][..] => Verdict::Update,
                    Some(_) => Verdict::Unchanged,
                }
            };
            verdicts.push(verdict);
        }

        let full = self.target.full_rewrite();
        let is_written = |v: Verdict| matches!(v, Verdict::Insert | Verdict::Reinsert | Verdict::Update);
        let to_write: Vec<&CanonicalRecord> = records
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| is_written(**v) || (full && **v == Verdict::Unchanged))
            .map(|(r, _)| r)
            .collect();
        let update_keys: Vec<String> = keys
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Update)
            .map(|(k, _)| k.clone())
            .collect();
        let old = if update_keys.is_empty() {
            HashMap::new()
        } else {
            self.target.fetch(entity, &update_keys)?
        };
        self.target.write(entity, &to_write, &[], self.run)?;

        let mut batch = BatchWrite::default();
        let mut counts = RunCounts::default();
        for (n, v) in verdicts.iter().enumerate() {
            let key = keys[n].as_str();
            match v {
                Verdict::Insert | Verdict::Reinsert | Verdict::Update => {
                    let source = self.source_id(&records[n].lineage.source)?;
                    let l = &records[n].lineage;
                    batch.written.push(Written {
                        key,
                        hash: hashes[n],
                        source,
                        row: l.row,
                        line: l.line,
                    });
                    counts.valid += 1;
                    match v {
                        Verdict::Update => {
                            counts.updated += 1;
                            let fields = old
                                .get(key)
                                .map(|o| serde_json::to_string(&records[n].changed_fields(o)).unwrap_or_default());
                            batch.changes.push((key, "update", fields));
                        }
                        Verdict::Reinsert => {
                            counts.inserted += 1;
                            batch.changes.push((key, "insert", None));
                        }
                        _ => counts.inserted += 1,
                    }
                }
                Verdict::Unchanged => {
                    counts.valid += 1;
                    counts.unchanged += 1;
                    batch.seen.push(key);
                }
                Verdict::Deduplicated => counts.deduplicated += 1,
                Verdict::Duplicate(_) => {}
            }
        }
        let rejected: HashSet<&str> = rejected_keys.iter().map(String::as_str).collect();
        batch.seen.extend(rejected.iter().copied());
        self.ledger
            .commit_batch(&stream, self.run, &self.mapping_hash, &batch)?;
        self.counts.entry(entity.name).or_default().add(&counts);

        for (n, v) in verdicts.iter().enumerate() {
            let Verdict::Duplicate(j) = v else { continue };
            let where_first = match j {
                Some(j) => format!("first at {}", records[*j].lineage),
                None => "first seen earlier in this extract".to_string(),
            };
            let reject = Reject {
                entity: entity.name.to_string(),
                key: Some(keys[n].clone()),
                lineage: records[n].lineage.clone(),
                reasons: vec![Reason {
                    field: entity.key_label(),
                    rule: "duplicate_key".into(),
                    value: Some(keys[n].clone()),
                    message: format!("key {:?} appears again with different values ({where_first})", keys[n]),
                }],
                raw: serde_json::Value::Object(self.masked_json(&records[n])),
            };
            self.tally.add(&reject);
            self.reject(reject)?;
        }
        Ok(())
    }

    /// A record as JSON for a reject, sensitive fields masked.
    fn masked_json(&self, record: &CanonicalRecord) -> serde_json::Map<String, serde_json::Value> {
        let mut json = record.to_json();
        for (name, v) in json.iter_mut() {
            if !v.is_null()
                && self
                    .sensitive
                    .iter()
                    .any(|(e, f)| *e == record.entity.name && f == name)
            {
                *v = crate::mapping::MASK.into();
            }
        }
        json
    }

    /// Write what is buffered.
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        for i in 0..self.buffers.len() {
            self.flush_entity(i)?;
        }
        self.flush_rejects()
    }

    /// Mark keys this run did not see as deleted (snapshot mode), a batch at a time.
    fn delete_unseen(&mut self) -> Result<(), PipelineError> {
        for i in 0..self.buffers.len() {
            let (stream, entity) = (self.buffers[i].stream.clone(), self.buffers[i].entity);
            loop {
                let keys = self.ledger.unseen_keys(&stream, self.run, self.batch_size)?;
                if keys.is_empty() {
                    break;
                }
                self.target.write(entity, &[], &keys, self.run)?;
                let batch = BatchWrite {
                    deleted: keys.iter().map(String::as_str).collect(),
                    changes: keys.iter().map(|k| (k.as_str(), "delete", None)).collect(),
                    ..BatchWrite::default()
                };
                self.ledger
                    .commit_batch(&stream, self.run, &self.mapping_hash, &batch)?;
                self.counts.entry(entity.name).or_default().deleted += keys.len() as u64;
            }
        }
        Ok(())
    }

    /// Flush, apply snapshot deletes when allowed, and close the target.
    pub fn finish(
        mut self,
        mode: LoadMode,
        deletes_allowed: bool,
    ) -> Result<BTreeMap<&'static str, RunCounts>, PipelineError> {
        self.flush()?;
        if mode == LoadMode::Snapshot && deletes_allowed {
            self.delete_unseen()?;
        }
        let changed = self.counts.values().any(|c| c.inserted + c.updated + c.deleted > 0);
        self.target.finish(changed)?;
        Ok(self.counts)
    }
}
