//! The run ledger: an SQLite file (WAL, owner-only) recording runs, rejects, record state,
//! changes, lookup misses and the headers sources had, so every run can be traced and repeated.

mod lock;
mod migrations;
pub mod rejects;
pub mod runs;
pub mod state;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use thiserror::Error;

pub use lock::{JobLock, LockHeld};
pub use runs::{EntityCounts, RunCounts, RunRecord, RunStatus};
pub use state::Stream;

/// What can go wrong with the ledger.
#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger {path} is read-only: {detail}")]
    ReadOnly { path: String, detail: String },
    #[error("ledger {path} does not exist yet: nothing has run with it")]
    Missing { path: String },
    #[error("ledger {path}: {source}")]
    Migration {
        path: String,
        #[source]
        source: rusqlite_migration::Error,
    },
    #[error("ledger {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    NotFound(String),
}

/// A ledger file marked read-only is refused even to a user (root) who could write it anyway:
/// someone made it read-only on purpose.
fn is_read_only(path: &Path) -> bool {
    let marked = std::fs::metadata(path)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false);
    marked || std::fs::OpenOptions::new().write(true).open(path).is_err()
}

/// The path of one of a database's companion files (`-wal`, `-shm`).
fn wal_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A path as the path of an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Companion files a read-only moment left read-only beside a ledger that is writable again:
/// given the ledger's own permissions, as SQLite would have made them.
fn mend_companions(path: &Path) -> Result<(), LedgerError> {
    let Ok(db) = std::fs::metadata(path) else {
        return Ok(());
    };
    for suffix in ["-wal", "-shm"] {
        let companion = wal_path(path, suffix);
        let Ok(meta) = std::fs::metadata(&companion) else {
            continue;
        };
        if meta.permissions().readonly() && !db.permissions().readonly() {
            std::fs::set_permissions(&companion, db.permissions()).map_err(|e| LedgerError::ReadOnly {
                path: companion.display().to_string(),
                detail: format!("cannot make it writable ({e}); make it writable (chmod u+w) or remove it"),
            })?;
        }
    }
    Ok(())
}

/// Turns an SQLite error into a ledger error naming the file.
fn sqlite_error(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |source| LedgerError::Sqlite {
        path: path.to_string(),
        source,
    }
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    /// The path as given, for messages.
    path: PathBuf,
    /// The file itself, symbolic links resolved: locks belong to it, not to a path someone typed.
    real: PathBuf,
}

/// A path with its symbolic links resolved (the file exists once a ledger is open).
fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Ledger {
    /// Open (creating and migrating when needed) for a command that writes.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let name = path.display().to_string();
        if path.is_dir() {
            return Err(LedgerError::Io {
                path: name,
                source: std::io::Error::other("this is a folder; the ledger is a file (name one, like opsync.db)"),
            });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LedgerError::Io {
                path: name.clone(),
                source: e,
            })?;
        }
        if !path.exists() {
            crate::target::create_private(path).map_err(|e| LedgerError::Io {
                path: name.clone(),
                source: e,
            })?;
        } else if is_read_only(path) {
            return Err(LedgerError::ReadOnly {
                path: name,
                detail:
                    "opsync records every run in it; make it writable (chmod u+w) or pass --ledger with another file"
                        .into(),
            });
        }
        mend_companions(path)?;
        let err = sqlite_error(&name);
        let mut conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(&err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;",
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => LedgerError::ReadOnly {
                path: name.clone(),
                detail: "its folder or its -wal file is not writable".into(),
            },
            e => err(e),
        })?;
        migrations::migrations()
            .to_latest(&mut conn)
            .map_err(|e| LedgerError::Migration {
                path: name.clone(),
                source: e,
            })?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
            real: real_path(path),
        })
    }

    /// Open an existing ledger for reading only (runs, rejects, explain).
    pub fn open_read(path: &Path) -> Result<Self, LedgerError> {
        let name = path.display().to_string();
        if !path.exists() {
            return Err(LedgerError::Missing { path: name });
        }
        let err = sqlite_error(&name);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        // A reader must leave nothing behind: opening a WAL database creates its -wal and -shm
        // files (with the database's permissions, so read-only ones beside a read-only ledger,
        // which would then refuse the next run once the ledger is writable again). Without a
        // -wal file every committed page is in the database itself, so it is read as immutable,
        // creating nothing.
        let immutable = !wal_path(path, "-wal").exists() && is_read_only(path);
        let uri = format!("file:{}{}", uri_path(path), if immutable { "?immutable=1" } else { "" });
        let conn = Connection::open_with_flags(uri, flags).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(&err)?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
            real: real_path(path),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> LedgerError {
        LedgerError::Sqlite {
            path: self.path.display().to_string(),
            source: e,
        }
    }

    /// The connection, for read-only reporting queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Take this job's lock; it is released when the returned guard drops or the process dies.
    pub fn lock_job(&self, job: &str) -> Result<JobLock, LockHeld> {
        JobLock::acquire(&self.real, job)
    }

    /// The ledger's own id, made when it was created: names it in the markers targets keep.
    pub fn id(&self) -> Result<String, LedgerError> {
        self.conn
            .query_row("SELECT value FROM ledger_info WHERE key = 'id'", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}
