//! How one record compares with what the run met before and what the target holds: the one
//! decision `run`, `load` and `preview` share.

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
