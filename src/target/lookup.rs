//! Per entity, the keys a run has met and what the target holds for them: the lookups behind
//! every verdict, and the keys a snapshot lacks.
//!
//! Most extracts come sorted by their key. While the keys of a run arrive in the order the
//! table's primary key sorts them, a batch is looked up with one range scan of the table (not a
//! descent per key), a key met twice can only be the one met just before, and the table's keys
//! that the scan passes over without a match are the ones the extract lacks (kept in a small
//! temporary table of gaps). The first key out of order turns the entity to the general way:
//! every key met from then on is noted in a temporary table. The keys met before the turn are
//! not copied there (at 10M keys that copy wrote 380 MB): they are the table's keys up to the
//! last one met then (the boundary), less the gaps, and are found there when met again. Both
//! ways give the same verdicts; the sorted way writes nothing per key.

use std::borrow::Cow;
use std::cmp::Ordering;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::keys::{bind_key, bind_record_key, from_sql, hash_of, ident, key_columns, key_values, key_where, sql_type};
use super::{KeyRef, Sighting, Stored, TargetError};
use crate::model::{Entity, Value, key};

/// What a lookup found for one key of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looked {
    /// The first time this run met the key before, if it did.
    pub sighting: Option<Sighting>,
    /// What the target holds for it (not looked up when the key was met before).
    pub stored: Option<Stored>,
}

/// How an entity's keys are tracked in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sorted,
    Unsorted,
}

/// The keys of one entity a run has met.
pub struct KeyIndex {
    entity: &'static Entity,
    mode: Mode,
    /// The table held no row when the run started: only this run's own keys can be found in it.
    empty_at_start: bool,
    /// Sorted mode: the last key met, and how it was first met.
    last: Option<(Vec<Value>, Sighting)>,
    /// Unsorted mode after a sorted start: the last key met in sorted mode. The table's keys up
    /// to it, less the gaps, were met before the turn.
    boundary: Option<Vec<Value>>,
    seen: String,
    gaps: String,
}

/// Compare two keys as SQLite's primary key orders them (text by bytes, integers by value);
/// `None` for values it would not order that way.
fn compare(a: &[Value], b: &[Value]) -> Option<Ordering> {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Text(p), Value::Text(q)) => p.as_bytes().cmp(q.as_bytes()),
            (Value::Integer(p), Value::Integer(q)) => p.cmp(q),
            _ => return None,
        };
        if o != Ordering::Equal {
            return Some(o);
        }
    }
    Some(Ordering::Equal)
}

/// Compare the first `n` columns of a row (a key) with a key, as [`compare`] does.
fn compare_row(row: &rusqlite::Row<'_>, key: &[Value], n: usize) -> Result<Option<Ordering>, TargetError> {
    use rusqlite::types::ValueRef;
    for (i, v) in key.iter().enumerate().take(n) {
        let o = match (row.get_ref(i).map_err(sql_err)?, v) {
            (ValueRef::Text(a), Value::Text(b)) => a.cmp(b.as_bytes()),
            (ValueRef::Integer(a), Value::Integer(b)) => a.cmp(b),
            _ => return Ok(None),
        };
        if o != Ordering::Equal {
            return Ok(Some(o));
        }
    }
    Ok(Some(Ordering::Equal))
}

/// A key's values: borrowed from a record (the model puts key fields first), parsed from a
/// rejected record's key string.
fn key_view<'a>(e: &Entity, item: &'a KeyRef<'_>) -> Result<Cow<'a, [Value]>, TargetError> {
    match item {
        KeyRef::Record(r, _) if e.key_fields().enumerate().all(|(n, (i, _))| n == i) => {
            Ok(Cow::Borrowed(&r.values[..e.key_fields().count()]))
        }
        _ => key_values(e, item).map(Cow::Owned),
    }
}

fn sql_err(e: rusqlite::Error) -> TargetError {
    TargetError::Sqlite {
        target: "(key index)".into(),
        source: e,
    }
}

/// `(k1, k2)` with parameters numbered from `first`.
fn row_value(e: &Entity, first: usize) -> String {
    let marks: Vec<String> = (0..e.key_fields().count()).map(|i| format!("?{}", first + i)).collect();
    format!("({})", marks.join(", "))
}

fn qualified_keys(e: &Entity, alias: &str) -> String {
    e.key_fields()
        .map(|(_, f)| format!("{alias}.{}", ident(f.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn joined(e: &Entity, a: &str, b: &str) -> String {
    e.key_fields()
        .map(|(_, f)| format!("{a}.{0} = {b}.{0}", ident(f.name)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl KeyIndex {
    /// Make the entity's temporary tables (emptied) and note whether its table is empty.
    pub fn new(conn: &Connection, e: &'static Entity) -> Result<Self, TargetError> {
        let seen = ident(&format!("_seen_{}", e.name));
        let gaps = ident(&format!("_gaps_{}", e.name));
        let keys: Vec<String> = e
            .key_fields()
            .map(|(_, f)| format!("{} {}", ident(f.name), sql_type(f.ty)))
            .collect();
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {seen} ({k}, _hash BLOB, PRIMARY KEY ({pk})) WITHOUT ROWID; \
             CREATE TEMP TABLE IF NOT EXISTS {gaps} ({k}, PRIMARY KEY ({pk})) WITHOUT ROWID; \
             DELETE FROM temp.{seen}; DELETE FROM temp.{gaps};",
            k = keys.join(", "),
            pk = key_columns(e)
        ))
        .map_err(sql_err)?;
        let empty_at_start = conn
            .query_row(
                &format!("SELECT NOT EXISTS (SELECT 1 FROM {})", ident(e.name)),
                [],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        let keys_sortable = e
            .key_fields()
            .all(|(_, f)| matches!(f.ty, crate::model::FieldType::String | crate::model::FieldType::Integer));
        Ok(KeyIndex {
            entity: e,
            mode: if keys_sortable { Mode::Sorted } else { Mode::Unsorted },
            empty_at_start,
            last: None,
            boundary: None,
            seen,
            gaps,
        })
    }

    /// Look up a batch's keys (in source order), noting them as met.
    pub fn lookup(&mut self, conn: &Connection, items: &[KeyRef<'_>]) -> Result<Vec<Looked>, TargetError> {
        let e = self.entity;
        if self.mode == Mode::Sorted {
            let parts: Vec<Cow<'_, [Value]>> = items.iter().map(|k| key_view(e, k)).collect::<Result<_, _>>()?;
            if let Some(found) = self.lookup_sorted(conn, items, &parts)? {
                return Ok(found);
            }
            self.turn_unsorted();
        }
        self.lookup_unsorted(conn, items)
    }

    /// The sorted way; `None` when the batch does not keep the order (or is too sparse for a
    /// range scan), and nothing was noted.
    fn lookup_sorted(
        &mut self,
        conn: &Connection,
        items: &[KeyRef<'_>],
        parts: &[Cow<'_, [Value]>],
    ) -> Result<Option<Vec<Looked>>, TargetError> {
        let e = self.entity;
        let mut previous: Option<&[Value]> = self.last.as_ref().map(|(k, _)| k.as_slice());
        for p in parts {
            if let Some(q) = previous
                && !matches!(compare(q, p), Some(Ordering::Less | Ordering::Equal))
            {
                return Ok(None);
            }
            previous = Some(p);
        }
        let Some(upper) = parts.last() else {
            return Ok(Some(Vec::new()));
        };
        // What the table holds for each item, and the rows between items (gaps), found by one
        // range scan from the last key met to this batch's last key, merged as it streams.
        let mut stored: Vec<Option<Stored>> = vec![None; items.len()];
        let mut gaps: Vec<Vec<Value>> = Vec::new();
        if !self.empty_at_start {
            let limit = 4 * parts.len() + 64;
            let n = e.key_fields().count();
            let lower = self.last.as_ref().map(|(k, _)| k);
            let sql = format!(
                "SELECT {cols}, _hash, _deleted FROM {t} WHERE {lo} ({cols}) <= {up} ORDER BY {cols} LIMIT {limit}",
                cols = key_columns(e),
                t = ident(e.name),
                lo = if lower.is_some() {
                    format!("({}) > {} AND", key_columns(e), row_value(e, 1))
                } else {
                    String::new()
                },
                up = row_value(e, if lower.is_some() { n + 1 } else { 1 }),
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
            let mut at = 1;
            if let Some(lo) = lower {
                bind_key(&mut stmt, at, lo).map_err(sql_err)?;
                at += n;
            }
            bind_key(&mut stmt, at, upper).map_err(sql_err)?;
            let mut result = stmt.raw_query();
            let (mut i, mut count) = (0, 0);
            while let Some(r) = result.next().map_err(sql_err)? {
                count += 1;
                if count >= limit {
                    return Ok(None);
                }
                // Items below this row met no row; the row matches the next item, or is a gap.
                let mut order = Ordering::Less;
                while i < parts.len() {
                    let Some(o) = compare_row(r, &parts[i], n)? else {
                        return Ok(None);
                    };
                    order = o;
                    if o != Ordering::Greater {
                        break;
                    }
                    i += 1;
                }
                if i < parts.len() && order == Ordering::Equal {
                    let hash = match r.get_ref(n).map_err(sql_err)? {
                        rusqlite::types::ValueRef::Blob(b) => b.try_into().ok(),
                        _ => None,
                    };
                    let deleted: i64 = r.get(n + 1).map_err(sql_err)?;
                    stored[i] = Some(Stored {
                        hash,
                        deleted: deleted != 0,
                    });
                    i += 1;
                } else {
                    let mut key = Vec::with_capacity(n);
                    for (c, (_, f)) in e.key_fields().enumerate() {
                        key.push(from_sql(f.ty, r.get::<_, Sql>(c).map_err(sql_err)?));
                    }
                    gaps.push(key);
                }
            }
        }
        let mut out = Vec::with_capacity(items.len());
        let mut group: Option<(&[Value], Sighting)> = self.last.as_ref().map(|(k, s)| (k.as_slice(), *s));
        for (n, (item, key)) in items.iter().zip(parts).enumerate() {
            let sighting = match group {
                Some((k, s)) if compare(k, key) == Some(Ordering::Equal) => Some(s),
                _ => None,
            };
            if sighting.is_none() {
                let first = match item {
                    KeyRef::Record(_, h) => Sighting::Record(*h),
                    KeyRef::Rejected(_) => Sighting::Rejected,
                };
                group = Some((key, first));
            }
            out.push(Looked {
                sighting,
                stored: if sighting.is_some() { None } else { stored[n] },
            });
        }
        self.last = group.map(|(k, s)| (k.to_vec(), s));
        if !gaps.is_empty() {
            let sql = format!(
                "INSERT OR IGNORE INTO temp.{} ({}) VALUES {}",
                self.gaps,
                key_columns(e),
                row_value(e, 1)
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
            for g in &gaps {
                bind_key(&mut stmt, 1, g).map_err(sql_err)?;
                stmt.raw_execute().map_err(sql_err)?;
            }
        }
        // Rejected keys are noted, so that turning to the general way keeps them as rejected.
        for (item, key) in items.iter().zip(parts) {
            if let KeyRef::Rejected(_) = item {
                self.note(conn, key, None)?;
            }
        }
        Ok(Some(out))
    }

    fn note(&self, conn: &Connection, key: &[Value], hash: Option<&[u8]>) -> Result<usize, TargetError> {
        let n = self.entity.key_fields().count();
        let sql = format!(
            "INSERT INTO temp.{} ({}, _hash) VALUES ({}, ?{}) ON CONFLICT DO NOTHING",
            self.seen,
            key_columns(self.entity),
            row_value(self.entity, 1).trim_matches(['(', ')']),
            n + 1
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
        bind_key(&mut stmt, 1, key).map_err(sql_err)?;
        stmt.raw_bind_parameter(n + 1, hash).map_err(sql_err)?;
        stmt.raw_execute().map_err(sql_err)
    }

    /// Turn to the general way. The keys met so far stay where they are (the table's keys up to
    /// the last one met, less the gaps; rejected keys are noted already).
    fn turn_unsorted(&mut self) {
        self.boundary = self.last.take().map(|(k, _)| k);
        self.mode = Mode::Unsorted;
    }

    /// The general way: each key is noted in the table of keys met; a key already there was met
    /// before, and so was one the table holds up to the boundary outside the gaps.
    fn lookup_unsorted(&mut self, conn: &Connection, items: &[KeyRef<'_>]) -> Result<Vec<Looked>, TargetError> {
        let e = self.entity;
        let n = e.key_fields().count();
        let insert = format!(
            "INSERT INTO temp.{} ({}, _hash) VALUES ({}, ?{}) ON CONFLICT DO NOTHING",
            self.seen,
            key_columns(e),
            row_value(e, 1).trim_matches(['(', ')']),
            n + 1
        );
        let select = format!("SELECT _hash FROM temp.{} WHERE {}", self.seen, key_where(e, 1, None));
        // What the table holds for a key, and whether it was met before the turn.
        let state = match self.boundary {
            Some(_) => format!(
                "SELECT t._hash, t._deleted, ({}) <= {} AND NOT EXISTS (SELECT 1 FROM temp.{} g WHERE {}) \
                 FROM {} t WHERE {}",
                qualified_keys(e, "t"),
                row_value(e, n + 1),
                self.gaps,
                joined(e, "g", "t"),
                ident(e.name),
                key_where(e, 1, Some("t"))
            ),
            None => format!(
                "SELECT _hash, _deleted, 0 FROM {} WHERE {}",
                ident(e.name),
                key_where(e, 1, None)
            ),
        };
        let restate = format!(
            "UPDATE temp.{} SET _hash = ?{} WHERE {}",
            self.seen,
            n + 1,
            key_where(e, 1, None)
        );
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut ins = conn.prepare_cached(&insert).map_err(sql_err)?;
            let added = match item {
                KeyRef::Record(r, h) => {
                    bind_record_key(&mut ins, 1, e, r).map_err(sql_err)?;
                    ins.raw_bind_parameter(n + 1, &h[..]).map_err(sql_err)?;
                    ins.raw_execute().map_err(sql_err)?
                }
                KeyRef::Rejected(_) => {
                    let values = key_values(e, item)?;
                    bind_key(&mut ins, 1, &values).map_err(sql_err)?;
                    ins.raw_bind_parameter(n + 1, None::<&[u8]>).map_err(sql_err)?;
                    ins.raw_execute().map_err(sql_err)?
                }
            };
            if added == 0 {
                let mut sel = conn.prepare_cached(&select).map_err(sql_err)?;
                bind_item_key(&mut sel, e, item)?;
                let mut rows = sel.raw_query();
                let earlier: Option<Vec<u8>> = match rows.next().map_err(sql_err)? {
                    Some(r) => r.get(0).map_err(sql_err)?,
                    None => None,
                };
                out.push(Looked {
                    sighting: Some(hash_of(earlier).map_or(Sighting::Rejected, Sighting::Record)),
                    stored: None,
                });
                continue;
            }
            // A stored state matters for a record the table may hold; the boundary asks for a key
            // met before the turn whatever it is.
            let wants_stored = !(self.empty_at_start || matches!(item, KeyRef::Rejected(_)));
            let mut found: Option<(Option<Vec<u8>>, bool, bool)> = None;
            if wants_stored || self.boundary.is_some() {
                let mut st = conn.prepare_cached(&state).map_err(sql_err)?;
                bind_item_key(&mut st, e, item)?;
                if let Some(b) = &self.boundary {
                    bind_key(&mut st, n + 1, b).map_err(sql_err)?;
                }
                let mut rows = st.raw_query();
                if let Some(row) = rows.next().map_err(sql_err)? {
                    let deleted: i64 = row.get(1).map_err(sql_err)?;
                    let before: i64 = row.get(2).map_err(sql_err)?;
                    found = Some((row.get(0).map_err(sql_err)?, deleted != 0, before != 0));
                }
            }
            match found {
                // Met before the turn: its first sighting is what the table holds now (rows met
                // are written, rejected keys were noted), kept for its next sightings.
                Some((hash, _, true)) => {
                    let mut up = conn.prepare_cached(&restate).map_err(sql_err)?;
                    bind_item_key(&mut up, e, item)?;
                    up.raw_bind_parameter(n + 1, hash.as_deref()).map_err(sql_err)?;
                    up.raw_execute().map_err(sql_err)?;
                    out.push(Looked {
                        sighting: Some(hash_of(hash).map_or(Sighting::Rejected, Sighting::Record)),
                        stored: None,
                    });
                }
                Some((hash, deleted, false)) if wants_stored => {
                    out.push(Looked {
                        sighting: None,
                        stored: Some(Stored {
                            hash: hash_of(hash),
                            deleted,
                        }),
                    });
                }
                _ => out.push(Looked {
                    sighting: None,
                    stored: None,
                }),
            }
        }
        Ok(out)
    }

    /// The live keys of the table this run has not met, at most `limit`.
    pub fn unseen(&self, conn: &Connection, limit: usize) -> Result<Vec<String>, TargetError> {
        let e = self.entity;
        let (sql, last) = self.unseen_query(&qualified_keys(e, "t"));
        let sql = format!("{sql} LIMIT {limit}");
        let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
        if let Some(last) = last {
            bind_key(&mut stmt, 1, last).map_err(sql_err)?;
        }
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sql_err)? {
            let mut texts = Vec::new();
            for (n, (_, f)) in e.key_fields().enumerate() {
                texts.push(from_sql(f.ty, r.get::<_, Sql>(n).map_err(sql_err)?).to_text());
            }
            out.push(key::join(e, texts.iter().map(Option::as_deref)));
        }
        Ok(out)
    }

    /// How many live keys of the table this run has not met.
    pub fn unseen_count(&self, conn: &Connection) -> Result<u64, TargetError> {
        let (sql, last) = self.unseen_query("1");
        let sql = format!("SELECT count(*) FROM ({sql})");
        let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
        if let Some(last) = last {
            bind_key(&mut stmt, 1, last).map_err(sql_err)?;
        }
        let mut rows = stmt.raw_query();
        let n: i64 = match rows.next().map_err(sql_err)? {
            Some(r) => r.get(0).map_err(sql_err)?,
            None => 0,
        };
        Ok(n.max(0) as u64)
    }

    /// The query of unseen live keys selecting `what` from the table as `t`, and the key to bind.
    fn unseen_query(&self, what: &str) -> (String, Option<&Vec<Value>>) {
        let e = self.entity;
        let t = ident(e.name);
        // The key up to which the table's keys were met: the last one in sorted mode, the
        // boundary after the turn.
        let bound = match self.mode {
            Mode::Sorted => self.last.as_ref().map(|(k, _)| k),
            Mode::Unsorted => self.boundary.as_ref(),
        };
        match (self.mode, bound) {
            (Mode::Unsorted, None) => (
                format!(
                    "SELECT {what} FROM {t} t WHERE t._deleted = 0 AND NOT EXISTS \
                     (SELECT 1 FROM temp.{} s WHERE {})",
                    self.seen,
                    joined(e, "s", "t")
                ),
                None,
            ),
            // Keys up to the boundary outside the gaps were met before the turn.
            (Mode::Unsorted, Some(b)) => (
                format!(
                    "SELECT {what} FROM {t} t WHERE t._deleted = 0 AND ({keys}) > {b} \
                     AND NOT EXISTS (SELECT 1 FROM temp.{seen} s WHERE {st}) \
                     UNION ALL SELECT {what} FROM temp.{gaps} g JOIN {t} t ON {gt} WHERE t._deleted = 0 \
                     AND NOT EXISTS (SELECT 1 FROM temp.{seen} s WHERE {st})",
                    keys = qualified_keys(e, "t"),
                    b = row_value(e, 1),
                    seen = self.seen,
                    st = joined(e, "s", "t"),
                    gaps = self.gaps,
                    gt = joined(e, "g", "t"),
                ),
                Some(b),
            ),
            (Mode::Sorted, None) => (format!("SELECT {what} FROM {t} t WHERE t._deleted = 0"), None),
            (Mode::Sorted, Some(last)) => (
                format!(
                    "SELECT {what} FROM {t} t WHERE t._deleted = 0 AND ({}) > {} \
                     UNION ALL SELECT {what} FROM temp.{} g JOIN {t} t ON {} WHERE t._deleted = 0",
                    qualified_keys(e, "t"),
                    row_value(e, 1),
                    self.gaps,
                    joined(e, "g", "t")
                ),
                Some(last),
            ),
        }
    }
}

fn bind_item_key(stmt: &mut rusqlite::Statement<'_>, e: &Entity, item: &KeyRef<'_>) -> Result<(), TargetError> {
    match item {
        KeyRef::Record(r, _) => bind_record_key(stmt, 1, e, r).map_err(sql_err),
        KeyRef::Rejected(_) => {
            let values = key_values(e, item)?;
            bind_key(stmt, 1, &values).map_err(sql_err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_as_sqlite_orders_them() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            compare(&[t("A"), Value::Integer(10)], &[t("A"), Value::Integer(9)]),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&[t("B")], &[t("a")]),
            Some(Ordering::Less),
            "bytes, not letters"
        );
        assert_eq!(compare(&[t("é")], &[t("z")]), Some(Ordering::Greater));
        assert_eq!(compare(&[t("A")], &[Value::Integer(1)]), None);
    }
}
