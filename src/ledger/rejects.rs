//! Rejects: records a mapping refused, with their lineage, reasons and masked raw values.

use rusqlite::params;
use serde::Serialize;

use super::{Ledger, LedgerError};
use crate::model::Reject;

/// A reject as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredReject {
    pub id: i64,
    pub run: i64,
    pub entity: String,
    pub key: Option<String>,
    pub source: Option<String>,
    pub row: Option<i64>,
    pub line: Option<i64>,
    pub field: Option<String>,
    pub rule: Option<String>,
    pub value: Option<String>,
    pub message: Option<String>,
    pub reasons: serde_json::Value,
    pub raw: serde_json::Value,
    pub state: String,
}

impl Ledger {
    /// Store rejects of a run in one transaction. The first reason fills the field, rule, value
    /// and message columns; all reasons are kept as JSON.
    pub fn insert_rejects(&mut self, run: i64, rejects: &[Reject]) -> Result<(), LedgerError> {
        if rejects.is_empty() {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let err = |e| LedgerError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO rejects (run, entity, key, source, row, line, field, rule, value, message, reasons, raw) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(err)?;
            for r in rejects {
                let first = r.reasons.first();
                let message = match r.reasons.as_slice() {
                    [one] => one.message.clone(),
                    many => many.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; "),
                };
                stmt.execute(params![
                    run,
                    r.entity,
                    r.key,
                    r.lineage.source.as_ref(),
                    r.lineage.row as i64,
                    r.lineage.line as i64,
                    first.map(|x| x.field.as_str()),
                    first.map(|x| x.rule.as_str()),
                    first.and_then(|x| x.value.as_deref()),
                    message,
                    serde_json::to_string(&r.reasons).unwrap_or_default(),
                    r.raw.to_string(),
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Rejects of one run, or of the latest run that has any when `run` is `None`.
    pub fn rejects(&self, run: Option<i64>, limit: usize) -> Result<(Option<i64>, Vec<StoredReject>), LedgerError> {
        let run = match run {
            Some(r) => Some(r),
            None => self
                .conn
                .query_row("SELECT max(run) FROM rejects", [], |r| r.get(0))
                .map_err(|e| self.err(e))?,
        };
        let Some(run) = run else {
            return Ok((None, Vec::new()));
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run, entity, key, source, row, line, field, rule, value, message, reasons, raw, state \
                 FROM rejects WHERE run = ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![run, limit as i64], |r| {
                let reasons: Option<String> = r.get(11)?;
                let raw: Option<String> = r.get(12)?;
                Ok(StoredReject {
                    id: r.get(0)?,
                    run: r.get(1)?,
                    entity: r.get(2)?,
                    key: r.get(3)?,
                    source: r.get(4)?,
                    row: r.get(5)?,
                    line: r.get(6)?,
                    field: r.get(7)?,
                    rule: r.get(8)?,
                    value: r.get(9)?,
                    message: r.get(10)?,
                    reasons: reasons.and_then(|x| serde_json::from_str(&x).ok()).unwrap_or_default(),
                    raw: raw.and_then(|x| serde_json::from_str(&x).ok()).unwrap_or_default(),
                    state: r.get(13)?,
                })
            })
            .map_err(|e| self.err(e))?;
        Ok((Some(run), rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?))
    }

    /// A run's rejected records per entity as the ledger holds them, rows that could not be read
    /// as rows (`malformed_row`, counted apart) left out.
    pub fn reject_counts(&self, run: i64) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT entity, count(*) FROM rejects WHERE run = ?1 AND coalesce(rule, '') <> 'malformed_row' \
                 GROUP BY entity",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
