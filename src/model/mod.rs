//! The data opsync moves: the canonical model and the records that flow from sources to targets.

pub mod key;
pub mod pool;
pub mod record;
pub mod schema;
pub mod text_row;

pub use pool::RecordPool;
pub use record::{CanonicalRecord, Lineage, RawRecord, RawValues, Reason, Reject, Value};
pub use schema::{ENTITIES, Entity, Field, FieldType};
pub use text_row::TextRow;
