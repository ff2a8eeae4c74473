//! The lineage kept on each row of an SQLite target, read back for `opsync explain`.

use std::sync::Arc;

use super::SqliteTarget;
use crate::model::{CanonicalRecord, Entity, Lineage};
use crate::target::TargetError;
use crate::target::keys::{bind_key, from_sql, ident, key_where};

/// Where a stored row came from, as the target keeps it.
#[derive(Debug, Clone)]
pub struct RowLineage {
    pub first_run: Option<i64>,
    pub changed_run: Option<i64>,
    pub deleted: bool,
    pub source: Option<String>,
    pub row: Option<i64>,
    pub line: Option<i64>,
}

impl SqliteTarget {
    /// One stored record by its key string, with the lineage kept on its row (`opsync explain`).
    pub fn record(&self, e: &'static Entity, key: &str) -> Result<Option<(CanonicalRecord, RowLineage)>, TargetError> {
        let values = crate::target::keys::parsed_key(e, key)?;
        let cols: Vec<String> = e.fields.iter().map(|f| format!("t.{}", ident(f.name))).collect();
        let sql = format!(
            "SELECT {}, t._first_run, t._run_id, t._deleted, s.path, t._row, t._line FROM {} t \
             LEFT JOIN _opsync_sources s ON s.id = t._source WHERE {}",
            cols.join(", "),
            ident(e.name),
            key_where(e, 1, Some("t"))
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|x| self.err(x))?;
        bind_key(&mut stmt, 1, &values).map_err(|x| self.err(x))?;
        let mut rows = stmt.raw_query();
        let Some(r) = rows.next().map_err(|x| self.err(x))? else {
            return Ok(None);
        };
        let n = e.fields.len();
        let mut record_values = Vec::with_capacity(n);
        for (i, f) in e.fields.iter().enumerate() {
            record_values.push(from_sql(f.ty, r.get(i).map_err(|x| self.err(x))?));
        }
        let get = |i: usize| -> Result<Option<i64>, TargetError> { r.get(n + i).map_err(|x| self.err(x)) };
        let lineage = RowLineage {
            first_run: get(0)?,
            changed_run: get(1)?,
            deleted: get(2)?.unwrap_or(0) != 0,
            source: r.get(n + 3).map_err(|x| self.err(x))?,
            row: get(4)?,
            line: get(5)?,
        };
        let record = CanonicalRecord {
            entity: e,
            values: record_values,
            lineage: Lineage {
                source: Arc::from(self.path.as_str()),
                locator: Some(e.name.into()),
                row: 0,
                line: 0,
            },
        };
        Ok(Some((record, lineage)))
    }
}
