//! The rows a run handed to the loader, for the counts of a run whose load failed.

use std::collections::BTreeMap;

use crate::pipeline::{Driven, RowEvent};

/// The rows the loader was handed, counted as the drive counts them. The drive reads and maps
/// ahead of the loader, so when the loader fails, a failed run's rows are these, not the drive's.
#[derive(Default)]
pub struct Handed {
    /// The latest row handed over (rows are numbered from 1, in order).
    rows: u64,
    malformed: u64,
    rejected_rows: u64,
    last_rejected: u64,
    /// Per entity, rows with a record or reject of it, and the latest such row.
    made: BTreeMap<String, (u64, u64)>,
    /// The loader failed.
    pub failed: bool,
}

impl Handed {
    pub fn note(&mut self, row: u64, event: &RowEvent) {
        self.rows = self.rows.max(row);
        let entity = match event {
            RowEvent::Malformed(_) => {
                self.malformed += 1;
                self.rejected_row(row);
                return;
            }
            RowEvent::Record(r) => r.entity.name,
            RowEvent::Reject(r) => {
                self.rejected_row(row);
                r.entity.as_str()
            }
        };
        let made = self.made.entry(entity.to_string()).or_default();
        if made.1 != row {
            *made = (made.0 + 1, row);
        }
    }

    fn rejected_row(&mut self, row: u64) {
        if self.last_rejected != row {
            self.last_rejected = row;
            self.rejected_rows += 1;
        }
    }

    /// Put the handed rows in place of what the drive counted: a row is filtered for an entity
    /// when it was handed over (or skipped before one that was) and made nothing of it.
    pub fn count_into(&self, driven: &mut Driven) {
        driven.read = self.rows;
        driven.malformed = self.malformed;
        driven.rejected_rows = self.rejected_rows;
        for (entity, filtered) in driven.filtered.iter_mut() {
            let made = self.made.get(*entity).map_or(0, |m| m.0);
            *filtered = self.rows.saturating_sub(self.malformed).saturating_sub(made);
        }
    }
}
