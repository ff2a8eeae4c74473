//! Batch markers made before runs had tokens.

use rusqlite::Connection;

use super::{META_BATCHES, SqliteTarget};
use crate::target::TargetError;

impl SqliteTarget {
    /// Give a target made before runs had tokens a `token` column in its batch markers (part of
    /// the key: two runs of one id, one lost with a restored ledger, each keep their markers).
    /// Markers already there get an empty token.
    pub(super) fn add_marker_tokens(&self) -> Result<(), TargetError> {
        let has_token = |conn: &Connection| -> rusqlite::Result<bool> {
            conn.query_row(
                "SELECT count(*) FROM pragma_table_info('_opsync_batches') WHERE name = 'token'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        };
        if has_token(&self.conn).map_err(|x| self.err(x))? {
            return Ok(());
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|x| self.err(x))?;
        let result = has_token(&self.conn).and_then(|done| {
            if done {
                return Ok(());
            }
            self.conn.execute_batch(&format!(
                "ALTER TABLE _opsync_batches RENAME TO _opsync_batches_v1; {META_BATCHES} \
                 INSERT INTO _opsync_batches (ledger, run, entity, seq, inserted, updated, deleted, token) \
                 SELECT ledger, run, entity, seq, inserted, updated, deleted, '' FROM _opsync_batches_v1; \
                 DROP TABLE _opsync_batches_v1;"
            ))
        });
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(|x| self.err(x)),
            Err(x) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(self.err(x))
            }
        }
    }
}
