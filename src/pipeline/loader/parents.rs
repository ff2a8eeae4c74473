//! Records that belong to a parent from the same row (a PO line to its PO). The mapping rejects
//! a dependent whose parent failed a rule; duplicate keys and the model's checks are decided
//! here, later, so the loader applies the same rule to the parents it rejects: the dependent
//! records of that row are rejected too, naming the parent's key and reason, unless the mapping
//! says `on_parent_reject = "load"` (then it gives no link for that entity).
//!
//! A dependent must never be written before its parent's verdict is known: a buffer with a
//! parent flushes that parent's buffer first, and waits for its row to be complete.

use std::collections::BTreeMap;

use super::Item;
use crate::model::{CanonicalRecord, Reason, Reject, Value};
use crate::pipeline::verdict::parent_rejected;

/// The parent of one entity buffer: the parent's buffer and the (dependent field, parent key
/// field) pairs that tie a record to it.
#[derive(Debug, Clone)]
pub struct ParentLink {
    pub parent: usize,
    pub fields: Vec<(usize, usize)>,
}

/// A parent record the loader rejected, kept until the dependents of its row are decided.
struct RejectedParent {
    buffer: usize,
    entity: &'static str,
    values: Vec<Value>,
    /// The key as shown in messages (masked when sensitive).
    shown_key: String,
    reasons: Vec<Reason>,
}

/// The parent links of a loader's buffers and the parents it rejected in rows not yet done.
#[derive(Default)]
pub(super) struct Parents {
    links: Vec<Option<ParentLink>>,
    is_parent: Vec<bool>,
    rejected: BTreeMap<u64, Vec<RejectedParent>>,
}

impl Parents {
    /// Links per buffer, in the buffers' order (`None`: no parent, or its rejects do not matter).
    pub fn new(links: Vec<Option<ParentLink>>) -> Self {
        let mut is_parent = vec![false; links.len()];
        for l in links.iter().flatten() {
            if let Some(p) = is_parent.get_mut(l.parent) {
                *p = true;
            }
        }
        Parents {
            links,
            is_parent,
            rejected: BTreeMap::new(),
        }
    }

    /// The buffer of the parent of buffer `i`.
    pub fn parent_of(&self, i: usize) -> Option<usize> {
        self.links.get(i).and_then(Option::as_ref).map(|l| l.parent)
    }

    /// Remember that the loader rejected `record` of `row` (buffer `i`), if records depend on it.
    pub fn note(&mut self, i: usize, row: u64, record: &CanonicalRecord, reject: &Reject, shown_key: String) {
        if !self.is_parent.get(i).copied().unwrap_or(false) {
            return;
        }
        self.rejected.entry(row).or_default().push(RejectedParent {
            buffer: i,
            entity: record.entity.name,
            values: record.values.clone(),
            shown_key,
            reasons: reject.reasons.clone(),
        });
    }

    /// The reject of `record` (row `row`, buffer `i`) when the loader rejected its parent from
    /// the same row. A parent whose tying value is unknown may be this record's: rejected too,
    /// rather than loaded on a guess.
    /// Its `raw` is left for the caller.
    pub fn orphan(&self, i: usize, row: u64, record: &CanonicalRecord) -> Option<Reject> {
        let link = self.links.get(i)?.as_ref()?;
        let parent = self.rejected.get(&row)?.iter().find(|p| {
            p.buffer == link.parent
                && link.fields.iter().all(|(c, pf)| {
                    let pv = p.values.get(*pf).unwrap_or(&Value::Null);
                    pv.is_null() || Some(pv.to_text()) == record.values.get(*c).map(Value::to_text)
                })
        })?;
        Some(Reject {
            entity: record.entity.name.to_string(),
            key: Some(record.key()),
            lineage: record.lineage.clone(),
            reasons: vec![parent_rejected(parent.entity, &parent.shown_key, &parent.reasons)],
            raw: serde_json::Value::Null,
        })
    }

    /// Forget the rejected parents of rows before `oldest`: their dependents are all decided.
    pub fn prune(&mut self, oldest: u64) {
        if !self.rejected.is_empty() {
            self.rejected = self.rejected.split_off(&oldest);
        }
    }
}

impl super::Loader<'_> {
    /// Records whose parent from the same row this loader rejected are rejects too; their keys
    /// stay, so that a snapshot does not delete them.
    pub(super) fn reject_orphans(&mut self, i: usize, items: &mut [Item]) {
        if self.parents.parent_of(i).is_none() {
            return;
        }
        for it in items.iter_mut() {
            let Item::Record { row, record } = it else { continue };
            let Some(mut reject) = self.parents.orphan(i, *row, record) else {
                continue;
            };
            reject.raw = serde_json::Value::Object(self.masked_json(record));
            let row = *row;
            let shown = self.shown_key(record);
            self.parents.note(i, row, record, &reject, shown);
            *it = Item::Rejected(record.key());
            self.tally.add(&reject);
            self.own_rejected_row(row);
            self.buffers[i].counts.rejected += 1;
            self.rejects.push(reject);
        }
    }
}
