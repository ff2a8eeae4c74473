//! Value vectors of canonical records a run is done with, handed back to be refilled: a record's
//! texts keep their allocations from one record to the next, so a long run does not allocate and
//! free a dozen strings per row (or free them on another thread than the one that made them).

use std::sync::Mutex;

use super::{Entity, Value};

/// Vectors kept per entity at most, bounded whatever the input: enough for what a run has in
/// flight with the default batch of 10,000 records (the batch being filled, the chunks between
/// the threads, the batch being written), so a long run stops allocating after its first batches.
const KEPT: usize = 32_768;

/// The value vectors kept for one entity.
type Kept = (&'static Entity, Vec<Vec<Value>>);

/// A pool of value vectors, per entity.
#[derive(Debug, Default)]
pub struct RecordPool {
    kept: Mutex<Vec<Kept>>,
}

impl RecordPool {
    /// A vector of `entity`'s values to fill: every value is `Null`, or what the same position
    /// held in an earlier record of the entity (the caller overwrites each one it fills, and
    /// the positions it never fills stay `Null`).
    pub fn take(&self, entity: &'static Entity) -> Vec<Value> {
        if let Ok(mut kept) = self.kept.lock()
            && let Some((_, list)) = kept.iter_mut().find(|(e, _)| std::ptr::eq(*e, entity))
            && let Some(values) = list.pop()
        {
            return values;
        }
        vec![Value::Null; entity.fields.len()]
    }

    /// Hand back the values of records the caller is done with.
    pub fn give(&self, records: impl IntoIterator<Item = (&'static Entity, Vec<Value>)>) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        for (entity, values) in records {
            let at = match kept.iter().position(|(e, _)| std::ptr::eq(*e, entity)) {
                Some(at) => at,
                None => {
                    kept.push((entity, Vec::new()));
                    kept.len() - 1
                }
            };
            let list = &mut kept[at].1;
            if list.len() < KEPT && values.len() == entity.fields.len() {
                list.push(values);
            }
        }
    }
}
