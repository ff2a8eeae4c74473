//! What a reject of the loader shows of a record's sensitive fields: the mask.

use super::Loader;
use crate::mapping::MASK;
use crate::mapping::mask::Secrets;
use crate::model::{CanonicalRecord, Reject};

impl Loader<'_> {
    /// A record as JSON for a reject, sensitive fields masked.
    pub(super) fn masked_json(&self, record: &CanonicalRecord) -> serde_json::Map<String, serde_json::Value> {
        let mut json = record.to_json();
        for (name, v) in json.iter_mut() {
            if !v.is_null() && self.is_sensitive(record.entity.name, name) {
                *v = MASK.into();
            }
        }
        json
    }

    /// Mask the sensitive fields of a reject made from a line `opsync load` could not read as
    /// its entity (a value not of its field's type): the line's values as they came, in its raw
    /// record, its reasons' values and its messages.
    pub fn mask_line_reject(&self, reject: &mut Reject) {
        let entity = reject.entity.clone();
        let mut secrets = Secrets::default();
        let mut sensitive_fields = Vec::new();
        if let serde_json::Value::Object(raw) = &mut reject.raw {
            for (name, v) in raw.iter_mut() {
                if v.is_null() || !self.is_sensitive(&entity, name) {
                    continue;
                }
                match &*v {
                    serde_json::Value::String(s) => secrets.add(s),
                    other => secrets.add(&other.to_string()),
                }
                sensitive_fields.push(name.clone());
                *v = MASK.into();
            }
        }
        for r in &mut reject.reasons {
            if sensitive_fields.contains(&r.field) {
                // The field's own reason: its value is the secret (perhaps escaped, which no
                // scrub would recognise), and its message is withheld if it still shows it.
                r.value = Some(MASK.into());
                r.message = secrets.scrub(&r.message, true);
            } else {
                secrets.scrub_reason(r);
            }
        }
    }
}
