//! How one record compares with what the run met before and what the target holds: the one
//! decision `run`, `load` and `preview` share.

use std::collections::BTreeMap;

use crate::mapping::Mapping;
use crate::model::{CanonicalRecord, Reason, Reject, key};
use crate::target::{Hash, Sighting, Stored};

/// What happens to one record of the extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A key the target does not hold.
    Insert,
    /// A key the target holds as deleted.
    Reinsert,
    /// A live key whose content changed.
    Update,
    /// A live key whose content is the same (nothing written).
    Unchanged,
    /// Same values, but the stored hash was missing or stale: only the hash is written.
    Rehash,
    /// The stored row has no hash, or `--full-refresh` asks for values to decide: compare the
    /// values (the result is `Update`, `Unchanged` or `Rehash`).
    Compare { stored_hash_matches: bool },
    /// The key came earlier in this run with the same content: counted, not written again.
    Deduplicated,
    /// The key came earlier in this run with other content, or as a rejected record: a reject,
    /// since which one is right cannot be told.
    Duplicate { earlier_rejected: bool },
}

impl Verdict {
    /// Decide from the key's earlier sighting in this run, what the target holds, and the
    /// record's content hash.
    pub fn decide(sighting: Option<Sighting>, stored: Option<Stored>, hash: Hash, full_refresh: bool) -> Verdict {
        match sighting {
            Some(Sighting::Record(h)) if h == hash => Verdict::Deduplicated,
            Some(Sighting::Record(_)) => Verdict::Duplicate {
                earlier_rejected: false,
            },
            Some(Sighting::Rejected) => Verdict::Duplicate { earlier_rejected: true },
            None => match stored {
                None => Verdict::Insert,
                Some(s) if s.deleted => Verdict::Reinsert,
                Some(s) if full_refresh || s.hash.is_none() => Verdict::Compare {
                    stored_hash_matches: s.hash == Some(hash),
                },
                Some(s) if s.hash != Some(hash) => Verdict::Update,
                Some(_) => Verdict::Unchanged,
            },
        }
    }

    /// The word a person reads (preview).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Insert => "insert",
            Verdict::Reinsert => "re-insert",
            Verdict::Update => "update",
            Verdict::Unchanged | Verdict::Rehash => "unchanged",
            Verdict::Compare { .. } => "compare",
            Verdict::Deduplicated => "deduplicated",
            Verdict::Duplicate { .. } => "duplicate key",
        }
    }
}

/// The reason of a record rejected because its parent from the same row was: the parent's
/// entity, key (as shown) and reasons. The same words as the mapping's `parent_rejected`.
pub fn parent_rejected(parent: &str, shown_key: &str, parent_reasons: &[Reason]) -> Reason {
    let why: Vec<String> = parent_reasons.iter().map(ToString::to_string).collect();
    Reason {
        field: "*".into(),
        rule: "parent_rejected".into(),
        value: None,
        message: format!("parent {parent} {shown_key:?} was rejected: {}", why.join("; ")),
    }
}

/// Records kept by `preview` whose parent from the same row is among `rejects` (a duplicate key
/// decided after mapping) become rejects too, as `run` rejects them, unless the mapping says
/// `on_parent_reject = "load"`.
pub fn reject_orphans(
    mapping: &Mapping,
    decided: &mut BTreeMap<&'static str, Vec<(Verdict, CanonicalRecord)>>,
    rejects: &mut Vec<Reject>,
) {
    // One pass per level of parents, so that a grandchild sees its parent's new reject.
    for _ in 0..mapping.entities.len() {
        let mut changed = false;
        for plan in &mapping.entities {
            let (Some(link), Some(list)) = (&plan.parent, decided.get_mut(plan.entity.name)) else {
                continue;
            };
            let parent = mapping.entities[link.entity].entity;
            let mut kept = Vec::with_capacity(list.len());
            for (verdict, r) in list.drain(..) {
                // The parent's key as this record names it.
                let parts: Vec<Option<String>> = parent
                    .key_fields()
                    .map(|(k, _)| {
                        let c = link.fields.iter().find(|(_, p)| *p == k).map(|(c, _)| *c)?;
                        r.values.get(c)?.to_text()
                    })
                    .collect();
                let key = key::join(parent, parts.iter().map(Option::as_deref));
                let rejected = rejects.iter().find(|x| {
                    x.entity == parent.name && x.lineage.row == r.lineage.row && x.key.as_deref() == Some(key.as_str())
                });
                match rejected {
                    Some(p) => {
                        let reason = parent_rejected(parent.name, &key, &p.reasons);
                        rejects.push(Reject {
                            entity: r.entity.name.to_string(),
                            key: Some(r.key()),
                            lineage: r.lineage.clone(),
                            reasons: vec![reason],
                            raw: serde_json::Value::Null,
                        });
                        changed = true;
                    }
                    None => kept.push((verdict, r)),
                }
            }
            *list = kept;
        }
        if !changed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Hash = [1; 16];
    const B: Hash = [2; 16];

    #[test]
    fn earlier_sightings_decide_before_the_target() {
        let live = Some(Stored {
            hash: Some(B),
            deleted: false,
        });
        assert_eq!(
            Verdict::decide(Some(Sighting::Record(A)), live, A, false),
            Verdict::Deduplicated
        );
        assert_eq!(
            Verdict::decide(Some(Sighting::Record(B)), live, A, false),
            Verdict::Duplicate {
                earlier_rejected: false
            }
        );
        assert_eq!(
            Verdict::decide(Some(Sighting::Rejected), None, A, false),
            Verdict::Duplicate { earlier_rejected: true }
        );
    }

    #[test]
    fn the_target_decides_first_sightings() {
        assert_eq!(Verdict::decide(None, None, A, false), Verdict::Insert);
        let deleted = Some(Stored {
            hash: Some(A),
            deleted: true,
        });
        assert_eq!(Verdict::decide(None, deleted, A, false), Verdict::Reinsert);
        let same = Some(Stored {
            hash: Some(A),
            deleted: false,
        });
        assert_eq!(Verdict::decide(None, same, A, false), Verdict::Unchanged);
        assert_eq!(Verdict::decide(None, same, B, false), Verdict::Update);
        assert_eq!(
            Verdict::decide(None, same, A, true),
            Verdict::Compare {
                stored_hash_matches: true
            }
        );
        let unhashed = Some(Stored {
            hash: None,
            deleted: false,
        });
        assert_eq!(
            Verdict::decide(None, unhashed, A, false),
            Verdict::Compare {
                stored_hash_matches: false
            }
        );
    }
}
