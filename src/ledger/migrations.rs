//! The ledger's schema, by version. Append new migrations; never edit a released one.

use rusqlite_migration::{M, Migrations};

const V1: &str = r#"
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    command TEXT NOT NULL,
    job_file TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    valid INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    filtered INTEGER NOT NULL DEFAULT 0,
    deduplicated INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    target TEXT,
    mapping_hash TEXT,
    mapping_version TEXT,
    model_version TEXT,
    opsync_version TEXT NOT NULL,
    user TEXT,
    host TEXT,
    args TEXT,
    warnings TEXT,
    error TEXT
);
CREATE INDEX runs_job ON runs (job, id);

-- Mapping texts stored once by hash: `explain` reads a record's fields from the mapping version
-- that last changed it, so lineage is kept per record, not per field.
CREATE TABLE mapping_versions (
    hash TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    version TEXT,
    text TEXT NOT NULL,
    first_run INTEGER
);

CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);

-- One stream per target and entity: record state is kept per stream.
CREATE TABLE streams (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    entity TEXT NOT NULL,
    UNIQUE (target, entity)
);

CREATE TABLE record_state (
    stream INTEGER NOT NULL,
    key TEXT NOT NULL,
    hash BLOB NOT NULL,
    first_run INTEGER NOT NULL,
    changed_run INTEGER NOT NULL,
    seen_run INTEGER NOT NULL,
    deleted_run INTEGER,
    source INTEGER,
    row INTEGER,
    line INTEGER,
    mapping_hash TEXT,
    PRIMARY KEY (stream, key)
) WITHOUT ROWID;

-- Updates, deletes and re-inserts per run. A key's first insert is its record_state.first_run
-- (see the run_changes view), which spares a first load one write per record.
CREATE TABLE changes (
    run INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT
);
CREATE INDEX changes_run ON changes (run);

CREATE VIEW run_changes AS
    SELECT c.run, s.target, s.entity, c.key, c.kind, c.fields
      FROM changes c JOIN streams s ON s.id = c.stream
    UNION ALL
    SELECT r.first_run, s.target, s.entity, r.key, 'insert', NULL
      FROM record_state r JOIN streams s ON s.id = r.stream;

CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    entity TEXT NOT NULL,
    key TEXT,
    source TEXT,
    row INTEGER,
    line INTEGER,
    field TEXT,
    rule TEXT,
    value TEXT,
    message TEXT,
    reasons TEXT,
    raw TEXT,
    state TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX rejects_run ON rejects (run);

CREATE TABLE lookup_misses (
    run INTEGER NOT NULL,
    lookup TEXT NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (run, lookup, value)
);

-- The header a job's source had at its last run, to report new columns.
CREATE TABLE job_columns (
    job TEXT PRIMARY KEY,
    columns TEXT NOT NULL,
    run INTEGER
);

CREATE TABLE watermarks (
    job TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    run INTEGER,
    PRIMARY KEY (job, name)
);
"#;

/// Version 2: the state that decides "unchanged, skip" moved into the target, beside the rows it
/// describes (a content-hash column on each entity table), so `record_state` is gone. The ledger
/// keeps runs, rejects, changes (updates, deletes and re-inserts; a row's first insert is its
/// `_first_run` in the target) and, per run, the batches it wrote: each batch is recorded here
/// before the target commits it, and the target keeps a marker of it in the same transaction as
/// the rows, so after a crash the next run keeps exactly the batches the target has.
const V2: &str = r#"
CREATE TABLE ledger_info (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO ledger_info (key, value) VALUES ('id', lower(hex(randomblob(16))));

DROP VIEW run_changes;
DROP TABLE record_state;

ALTER TABLE changes ADD COLUMN batch INTEGER;
CREATE VIEW run_changes AS
    SELECT c.run, s.target, s.entity, c.key, c.kind, c.fields
      FROM changes c JOIN streams s ON s.id = c.stream;

CREATE TABLE run_batches (
    run INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    deduplicated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (run, stream, seq)
);

-- File targets: the content hash of the file a run is about to swap in, recorded before the swap,
-- so that the next run can tell whether a killed run's swap happened.
CREATE TABLE run_swaps (
    run INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (run, stream)
);

-- Counts of a run per entity, with the target's live rows before and after: the run's accounting.
CREATE TABLE run_entities (
    run INTEGER NOT NULL,
    entity TEXT NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    malformed INTEGER NOT NULL DEFAULT 0,
    filtered INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    deduplicated INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    live_before INTEGER,
    live_after INTEGER,
    PRIMARY KEY (run, entity)
);

ALTER TABLE runs ADD COLUMN malformed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rejected_rows INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 3: every run gets a random token, written in the markers a target keeps of its batches,
/// so that a marker matches only the run that wrote it: a ledger restored from a backup hands out
/// run ids again, and the target may hold markers of the lost runs under those ids. Runs recorded
/// before V3 get a `legacy-` token: their markers carry no token. `foreign_runs` keeps the runs a
/// target holds batches of that this ledger never recorded (found after a restore), so each is
/// reported once.
const V3: &str = r#"
ALTER TABLE runs ADD COLUMN token TEXT;
UPDATE runs SET token = 'legacy-' || lower(hex(randomblob(16)));

CREATE TABLE foreign_runs (
    target TEXT NOT NULL,
    run INTEGER NOT NULL,
    token TEXT NOT NULL,
    found_by INTEGER NOT NULL,
    PRIMARY KEY (target, run, token)
);
"#;

/// Version 4: a run a killed process left running is settled from the batches the target holds;
/// the rows it read, found malformed or filtered are not known, and say so rather than 0. Runs
/// settled before V4 are the interrupted ones that recorded no row read.
const V4: &str = r#"
ALTER TABLE runs ADD COLUMN rows_known INTEGER NOT NULL DEFAULT 1;
UPDATE runs SET rows_known = 0 WHERE status = 'interrupted' AND read = 0;
"#;

/// All migrations, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2), M::up(V3), M::up(V4)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    #[test]
    fn runs_recorded_before_v3_get_distinct_legacy_tokens() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 2).unwrap();
        for _ in 0..2 {
            conn.execute(
                "INSERT INTO runs (job, command, started_at, status, opsync_version) VALUES ('j', 'run', 'now', 'succeeded', '0')",
                [],
            )
            .unwrap();
        }
        super::migrations().to_latest(&mut conn).unwrap();
        let tokens: Vec<String> = conn
            .prepare("SELECT token FROM runs ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t.starts_with("legacy-") && t.len() > 20));
        assert_ne!(tokens[0], tokens[1]);
    }
}
