//! The embedded default target: an SQLite file with one table per canonical entity, created from
//! the model, written by upsert in batched transactions.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

use super::{Target, TargetError, key_parts};
use crate::model::{CanonicalRecord, Entity, FieldType, Lineage, Value};

/// An SQLite database holding canonical tables.
pub struct SqliteTarget {
    conn: Connection,
    path: String,
}

impl SqliteTarget {
    pub fn open(path: &Path) -> Result<Self, TargetError> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| TargetError::Io {
                path: dir.display().to_string(),
                source: e,
            })?;
        }
        if !path.exists() {
            super::create_private(path).map_err(|e| TargetError::Io {
                path: name.clone(),
                source: e,
            })?;
        }
        let err = |e| TargetError::Sqlite {
            target: name.clone(),
            source: e,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;")
            .map_err(err)?;
        let path = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        Ok(SqliteTarget { conn, path })
    }

    fn err(&self, e: rusqlite::Error) -> TargetError {
        TargetError::Sqlite {
            target: self.path.clone(),
            source: e,
        }
    }

    /// The connection, for reading canonical tables (reports, tests).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn sql_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer | FieldType::Boolean => "INTEGER",
        // Decimals are stored as exact text: SQLite's REAL would round money.
        _ => "TEXT",
    }
}

/// A canonical value bound as a statement parameter; text is bound in place, not copied first.
struct Bind<'a>(&'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(Sql::Null),
            Value::Integer(i) => ToSqlOutput::Owned(Sql::Integer(*i)),
            Value::Boolean(b) => ToSqlOutput::Owned(Sql::Integer(i64::from(*b))),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            other => ToSqlOutput::Owned(Sql::Text(other.to_text().unwrap_or_default())),
        })
    }
}

fn from_sql(ty: FieldType, v: Sql) -> Value {
    match (ty, v) {
        (_, Sql::Null) => Value::Null,
        (FieldType::Boolean, Sql::Integer(i)) => Value::Boolean(i != 0),
        (FieldType::Integer, Sql::Integer(i)) => Value::Integer(i),
        (ty, Sql::Text(s)) => Value::from_stored_text(ty, &s),
        (ty, Sql::Integer(i)) => Value::from_stored_text(ty, &i.to_string()),
        (ty, Sql::Real(f)) => Value::from_stored_text(ty, &f.to_string()),
        (_, Sql::Blob(_)) => Value::Null,
    }
}

/// `CREATE TABLE` for an entity: its fields, a soft-delete flag and the run that last wrote it.
pub fn create_table_sql(e: &Entity) -> String {
    let cols: Vec<String> = e
        .fields
        .iter()
        .map(|f| {
            format!(
                "\"{}\" {}{}",
                f.name,
                sql_type(f.ty),
                if f.key { " NOT NULL" } else { "" }
            )
        })
        .collect();
    let keys: Vec<String> = e.key_fields().map(|(_, f)| format!("\"{}\"", f.name)).collect();
    format!(
        "CREATE TABLE IF NOT EXISTS \"{}\" ({}, \"_deleted\" INTEGER NOT NULL DEFAULT 0, \"_run_id\" INTEGER, PRIMARY KEY ({})) WITHOUT ROWID",
        e.name,
        cols.join(", "),
        keys.join(", ")
    )
}

fn key_where(e: &Entity) -> String {
    e.key_fields()
        .map(|(_, f)| format!("\"{}\" = ?", f.name))
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl Target for SqliteTarget {
    fn id(&self) -> String {
        format!("sqlite:{}", self.path)
    }

    fn prepare(&mut self, entities: &[&'static Entity]) -> Result<(), TargetError> {
        for e in entities {
            self.conn.execute_batch(&create_table_sql(e)).map_err(|x| self.err(x))?;
            // A table made by an older model gains the fields added since.
            let existing: Vec<String> = self
                .conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{}')", e.name))
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(|x| self.err(x))?;
            for f in e.fields.iter().filter(|f| !existing.iter().any(|c| c == f.name)) {
                let sql = format!(
                    "ALTER TABLE \"{}\" ADD COLUMN \"{}\" {}",
                    e.name,
                    f.name,
                    sql_type(f.ty)
                );
                self.conn.execute_batch(&sql).map_err(|x| self.err(x))?;
            }
        }
        Ok(())
    }

    fn fetch(&mut self, e: &'static Entity, keys: &[String]) -> Result<HashMap<String, CanonicalRecord>, TargetError> {
        let cols: Vec<String> = e.fields.iter().map(|f| format!("\"{}\"", f.name)).collect();
        let sql = format!("SELECT {} FROM \"{}\" WHERE {}", cols.join(", "), e.name, key_where(e));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|x| TargetError::Sqlite {
            target: self.path.clone(),
            source: x,
        })?;
        let mut out = HashMap::new();
        for key in keys {
            let parts = key_parts(e, key);
            let mut rows = stmt
                .query(params_from_iter(parts.iter()))
                .map_err(|x| TargetError::Sqlite {
                    target: self.path.clone(),
                    source: x,
                })?;
            if let Some(row) = rows.next().map_err(|x| TargetError::Sqlite {
                target: self.path.clone(),
                source: x,
            })? {
                let mut values = Vec::with_capacity(e.fields.len());
                for (i, f) in e.fields.iter().enumerate() {
                    let v: Sql = row.get(i).map_err(|x| TargetError::Sqlite {
                        target: self.path.clone(),
                        source: x,
                    })?;
                    values.push(from_sql(f.ty, v));
                }
                let lineage = Lineage {
                    source: self.path.as_str().into(),
                    locator: Some(e.name.into()),
                    row: 0,
                    line: 0,
                };
                out.insert(
                    key.clone(),
                    CanonicalRecord {
                        entity: e,
                        values,
                        lineage,
                    },
                );
            }
        }
        Ok(out)
    }

    fn write(
        &mut self,
        e: &'static Entity,
        records: &[&CanonicalRecord],
        deleted: &[String],
        run: i64,
    ) -> Result<(), TargetError> {
        let path = self.path.clone();
        let err = |x| TargetError::Sqlite {
            target: path.clone(),
            source: x,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let cols: Vec<String> = e.fields.iter().map(|f| format!("\"{}\"", f.name)).collect();
            let marks = vec!["?"; e.fields.len() + 1].join(", ");
            let keys: Vec<String> = e.key_fields().map(|(_, f)| format!("\"{}\"", f.name)).collect();
            let sets: Vec<String> = e
                .fields
                .iter()
                .filter(|f| !f.key)
                .map(|f| format!("\"{0}\" = excluded.\"{0}\"", f.name))
                .chain([
                    "\"_deleted\" = 0".to_string(),
                    "\"_run_id\" = excluded.\"_run_id\"".to_string(),
                ])
                .collect();
            let sql = format!(
                "INSERT INTO \"{}\" ({}, \"_run_id\") VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                e.name,
                cols.join(", "),
                marks,
                keys.join(", "),
                sets.join(", ")
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(err)?;
            let run_param = e.fields.len() + 1;
            for r in records {
                for (i, v) in r.values.iter().enumerate() {
                    stmt.raw_bind_parameter(i + 1, Bind(v)).map_err(err)?;
                }
                stmt.raw_bind_parameter(run_param, run).map_err(err)?;
                stmt.raw_execute().map_err(err)?;
            }
            if !deleted.is_empty() {
                let sql = format!(
                    "UPDATE \"{}\" SET \"_deleted\" = 1, \"_run_id\" = ? WHERE {}",
                    e.name,
                    key_where(e)
                );
                let mut del = tx.prepare_cached(&sql).map_err(err)?;
                for key in deleted {
                    let mut p: Vec<Sql> = vec![Sql::Integer(run)];
                    p.extend(key_parts(e, key).into_iter().map(Sql::Text));
                    del.execute(params_from_iter(p.iter())).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)?;
        super::release_cached_pages(&self.conn);
        Ok(())
    }

    fn finish(&mut self, _changed: bool) -> Result<(), TargetError> {
        Ok(())
    }
}
