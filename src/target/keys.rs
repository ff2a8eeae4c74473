//! Keys in SQL: binding a record's (or a key string's) key fields as statement parameters, and
//! reading them back as a key string. Shared by the SQLite target and the file targets' workspace.

use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use rusqlite::{Statement, ToSql};

use super::{KeyRef, TargetError};
use crate::model::{Entity, FieldType, Value, key};

/// A canonical value bound as a statement parameter; text is bound in place, not copied first.
pub struct Bind<'a>(pub &'a Value);

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

/// The SQL type of a canonical field.
pub fn sql_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer | FieldType::Boolean => "INTEGER",
        // Decimals are stored as exact text: SQLite's REAL would round money.
        _ => "TEXT",
    }
}

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"k1" = ?N AND "k2" = ?N+1` over the entity's key fields, parameters numbered from `first`;
/// `alias` qualifies the columns when given.
pub fn key_where(e: &Entity, first: usize, alias: Option<&str>) -> String {
    e.key_fields()
        .enumerate()
        .map(|(i, (_, f))| match alias {
            Some(a) => format!("{a}.{} = ?{}", ident(f.name), first + i),
            None => format!("{} = ?{}", ident(f.name), first + i),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The key fields' names, quoted and comma-separated.
pub fn key_columns(e: &Entity) -> String {
    e.key_fields()
        .map(|(_, f)| ident(f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The typed key values of a key reference: a record's own values, or a key string split and
/// parsed as the key fields' types.
pub fn key_values(e: &Entity, k: &KeyRef<'_>) -> Result<Vec<Value>, TargetError> {
    match k {
        KeyRef::Record(r, _) => Ok(e.key_fields().map(|(i, _)| r.values[i].clone()).collect()),
        KeyRef::Rejected(s) => parsed_key(e, s),
    }
}

/// A key string split and parsed as the key fields' types.
pub fn parsed_key(e: &Entity, s: &str) -> Result<Vec<Value>, TargetError> {
    let parts = key::split(e, s).map_err(TargetError::Other)?;
    e.key_fields()
        .zip(parts)
        .map(|((_, f), p)| Value::parse_stored(f.ty, &p).map_err(TargetError::Other))
        .collect()
}

/// Bind key values as parameters `first..`.
pub fn bind_key(stmt: &mut Statement<'_>, first: usize, values: &[Value]) -> rusqlite::Result<()> {
    for (i, v) in values.iter().enumerate() {
        stmt.raw_bind_parameter(first + i, Bind(v))?;
    }
    Ok(())
}

/// Bind a record's key fields as parameters `first..`, without copying them.
pub fn bind_record_key(
    stmt: &mut Statement<'_>,
    first: usize,
    e: &Entity,
    r: &crate::model::CanonicalRecord,
) -> rusqlite::Result<()> {
    for (n, (i, _)) in e.key_fields().enumerate() {
        stmt.raw_bind_parameter(first + n, Bind(&r.values[i]))?;
    }
    Ok(())
}

/// A canonical value read back from a column of the field's type.
pub fn from_sql(ty: FieldType, v: Sql) -> Value {
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

/// A 16-byte hash read from a BLOB column (`None` when absent or of another length).
pub fn hash_of(blob: Option<Vec<u8>>) -> Option<super::Hash> {
    blob.and_then(|b| b.try_into().ok())
}
