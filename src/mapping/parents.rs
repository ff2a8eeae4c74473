//! Dependent records: a record whose parent from the same row was rejected (a PO line whose
//! PO failed a rule) is rejected too, its reason naming the parent's, unless its entity says
//! `on_parent_reject = "load"`. Which entities depend on which is data of the canonical model
//! (`model::schema::PARENTS`).

use super::{Mapping, Outcome};
use crate::model::{Reason, Reject, Value};

/// What one entity of a row became: where its outcome is in the output, and the values of a
/// rejected record (its parent key, for the records that depend on it).
pub(super) struct Made {
    pub at: usize,
    pub rejected: Option<Vec<Value>>,
}

impl Mapping {
    /// A record whose parent from the same row was rejected is rejected too, naming the
    /// parent's reasons: loaded alone it would be an orphan (a PO line without its PO).
    pub(super) fn reject_orphans(&self, made: &mut [Option<Made>], out: &mut [Outcome]) {
        // One pass per level of parents, so that a grandchild sees its parent's new verdict.
        for _ in 0..self.entities.len() {
            let mut changed = false;
            for (i, plan) in self.entities.iter().enumerate() {
                let Some(link) = &plan.parent else { continue };
                let (Some(Some(child)), Some(Some(parent))) = (made.get(i), made.get(link.entity)) else {
                    continue;
                };
                let (Some(parent_values), Outcome::Record(record), Outcome::Reject(parent_reject)) =
                    (&parent.rejected, &out[child.at], &out[parent.at])
                else {
                    continue;
                };
                // The parent whose key is unknown (it failed) may be this record's: rejected
                // too, rather than loaded on a guess. A different parent is not this one's.
                let same = link.fields.iter().all(|(c, p)| {
                    parent_values[*p].is_null() || parent_values[*p].to_text() == record.values[*c].to_text()
                });
                if !same {
                    continue;
                }
                let why: Vec<String> = parent_reject.reasons.iter().map(ToString::to_string).collect();
                let parent_key = parent_reject
                    .key
                    .as_ref()
                    .map_or_else(|| "(no key)".to_string(), |k| format!("{k:?}"));
                let reject = Reject {
                    entity: record.entity.name.to_string(),
                    key: Some(record.key()),
                    lineage: record.lineage.clone(),
                    reasons: vec![Reason {
                        field: "*".into(),
                        rule: "parent_rejected".into(),
                        value: None,
                        message: format!(
                            "parent {} {parent_key} was rejected: {}",
                            parent_reject.entity,
                            why.join("; ")
                        ),
                    }],
                    raw: parent_reject.raw.clone(),
                };
                let at = child.at;
                if let Outcome::Record(r) = std::mem::replace(&mut out[at], Outcome::Reject(reject)) {
                    made[i] = Some(Made {
                        at,
                        rejected: Some(r.values),
                    });
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }
}
