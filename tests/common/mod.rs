//! A scratch folder with files, and the real `opsync` binary run inside it (after ripgrep's
//! `tests/util.rs`): tests write a CSV and a job file, run a command, and check exit code,
//! output, target rows and ledger.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// A temporary working folder; the ledger is `opsync.db` inside it.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Write a file (parents created).
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// `opsync ARGS` in this folder, with the folder's ledger and no progress bars.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("opsync").expect("binary");
        c.current_dir(self.path())
            .env("OPSYNC_LEDGER", self.join("opsync.db"))
            .env_remove("OPSYNC_TARGET");
        c.args(args);
        c
    }

    /// Run and return the output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run opsync")
    }

    /// Rows of a query against an SQLite file in this folder, as text.
    pub fn query(&self, db: &str, sql: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(self.join(db)).expect("open db");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        let v: rusqlite::types::Value = r.get(i)?;
                        Ok(match v {
                            rusqlite::types::Value::Null => "NULL".to_string(),
                            rusqlite::types::Value::Integer(i) => i.to_string(),
                            rusqlite::types::Value::Real(f) => f.to_string(),
                            rusqlite::types::Value::Text(s) => s,
                            rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    /// One number from a query.
    pub fn count(&self, db: &str, sql: &str) -> i64 {
        self.query(db, sql)[0][0].parse().expect("a number")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code of a finished command.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Replace the scratch folder's path and timings so whole outputs can be snapshotted.
pub fn redact(dir: &Dir, text: &str) -> String {
    let root = dir.path().display().to_string();
    let canonical = std::fs::canonicalize(dir.path())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let text = text.replace(&canonical, "[DIR]").replace(&root, "[DIR]");
    let timing = regex::Regex::new(r"in \d+\.\d+s \(\d+ rows/s\)").expect("regex");
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z").expect("regex");
    let text = timing.replace_all(&text, "in [TIME]");
    let text = stamp.replace_all(&text, "[TIMESTAMP]");
    // Table columns are as wide as their widest cell, and a temporary folder's name is as long as
    // the machine makes it: padding and rules are squeezed so snapshots do not depend on it.
    let padding = regex::Regex::new(r" +│").expect("regex");
    let rule = regex::Regex::new(r"─+").expect("regex");
    let text = padding.replace_all(&text, " │");
    rule.replace_all(&text, "─").into_owned()
}

/// A job file for an item CSV with the given extra `[job]` lines and field table.
pub fn item_job(name: &str, source: &str, job_extra: &str, fields: &str) -> String {
    format!(
        r#"[job]
name = "{name}"
{job_extra}

[source]
kind = "csv"
path = "{source}"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "item"

[entity.fields]
{fields}
"#
    )
}

/// The fields of a typical item mapping over `code,name,cost,gtin,uom`.
pub const ITEM_FIELDS: &str = r#"item_id = { from = "code", steps = [{ step = "trim" }] }
description = { from = "name", steps = [{ step = "trim" }] }
unit_cost = { from = "cost", steps = [{ step = "to_decimal" }] }
gtin = { from = "gtin", validate = [{ rule = "gtin" }] }
uom = { from = "uom" }
"#;
