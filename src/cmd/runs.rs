//! `opsync runs` and `opsync runs show RUN`: run history from the ledger.

use crate::cli::{Global, TableFormat};
use crate::ledger::{Ledger, RunRecord, RunStatus};
use crate::output::print_rows;

fn open(g: &Global) -> anyhow::Result<Ledger> {
    super::read_ledger(g)
}

/// What a killed run's ledger cannot know.
const UNKNOWN_ROWS: [&str; 4] = ["read", "malformed", "filtered", "rejected_rows"];
/// What a run still running (or killed and not yet settled) has not counted yet.
const UNKNOWN_RECORDS: [&str; 7] = [
    "valid",
    "rejected",
    "deduplicated",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
];

/// Which counts of a run the ledger can vouch for.
#[derive(Debug, Clone, Copy)]
struct Known {
    rows: bool,
    records: bool,
}

impl Known {
    fn of(run: &RunRecord) -> Known {
        // A run still `running` (or killed, until the next run of its job settles it) has
        // written batches its counts do not hold yet: none of them is final.
        let running = run.status == RunStatus::Running.as_str();
        Known {
            rows: run.rows_known && !running,
            records: !running,
        }
    }
}

/// A count, or `unknown` where the run's rows are not known.
fn count(known: bool, n: u64) -> String {
    if known { n.to_string() } else { "unknown".to_string() }
}

/// A run (or an entity's counts) as JSON, with the counts it cannot know as null.
fn json_counts(value: impl serde::Serialize, known: Known) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(value)?;
    if let Some(o) = v.as_object_mut() {
        let rows = UNKNOWN_ROWS.iter().filter(|_| !known.rows);
        let records = UNKNOWN_RECORDS.iter().filter(|_| !known.records);
        for k in rows.chain(records) {
            if o.contains_key(*k) {
                o.insert((*k).into(), serde_json::Value::Null);
            }
        }
        if o.contains_key("rows_known") {
            o.insert("rows_known".into(), known.rows.into());
        }
    }
    Ok(v)
}

pub fn list(g: &Global, job: Option<&str>, limit: usize, format: TableFormat) -> anyhow::Result<u8> {
    let ledger = open(g)?;
    let runs = ledger.list_runs(job, limit)?;
    if format == TableFormat::Json {
        let runs = runs
            .iter()
            .map(|r| json_counts(r, Known::of(r)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let c = &r.counts;
            let known = Known::of(r);
            let n = |v: u64| count(known.records, v);
            vec![
                r.id.to_string(),
                r.job.clone(),
                r.command.clone(),
                r.started_at.clone(),
                r.status.clone(),
                count(known.rows, c.read),
                n(c.inserted),
                n(c.updated),
                n(c.unchanged),
                n(c.deleted),
                n(c.rejected),
            ]
        })
        .collect();
    print_rows(
        format,
        &[
            "run",
            "job",
            "command",
            "started",
            "status",
            "read",
            "inserted",
            "updated",
            "unchanged",
            "deleted",
            "rejected",
        ],
        &rows,
    )?;
    Ok(0)
}

pub fn show(g: &Global, id: i64, format: TableFormat) -> anyhow::Result<u8> {
    let ledger = open(g)?;
    let run = ledger.get_run(id)?;
    let entities = ledger.entity_counts(id)?;
    let reasons = ledger.reject_reasons(id)?;
    let misses = ledger.misses(id)?;
    if format == TableFormat::Json {
        let known = Known::of(&run);
        let doc = serde_json::json!({
            "run": json_counts(&run, known)?,
            "entities": entities.iter().map(|e| json_counts(e, known)).collect::<anyhow::Result<Vec<_>>>()?,
            "changes": entities.iter().flat_map(|e| {
                [("insert", e.counts.inserted), ("update", e.counts.updated), ("delete", e.counts.deleted)]
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| serde_json::json!({"entity": e.entity, "kind": k, "count": n}))
                    .collect::<Vec<_>>()
            }).collect::<Vec<_>>(),
            "reject_reasons": reasons.iter().map(|(e, f, r, n)| serde_json::json!({"entity": e, "field": f, "rule": r, "count": n})).collect::<Vec<_>>(),
            "lookup_misses": misses.iter().map(|(t, v, n)| serde_json::json!({"lookup": t, "value": v, "rows": n})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    let c = &run.counts;
    let known = Known::of(&run);
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let rows = vec![
        vec!["run".into(), run.id.to_string()],
        vec!["job".into(), run.job.clone()],
        vec!["command".into(), run.command.clone()],
        vec!["job file".into(), opt(&run.job_file)],
        vec!["status".into(), run.status.clone()],
        vec!["started".into(), run.started_at.clone()],
        vec!["ended".into(), opt(&run.ended_at)],
        vec!["target".into(), opt(&run.target)],
        vec![
            "mapping".into(),
            format!("{} ({})", opt(&run.mapping_version), opt(&run.mapping_hash)),
        ],
        vec![
            "opsync / model".into(),
            format!("{} / {}", run.opsync_version, opt(&run.model_version)),
        ],
        vec!["user@host".into(), format!("{}@{}", opt(&run.user), opt(&run.host))],
        vec!["arguments".into(), opt(&run.args)],
        vec![
            "rows".into(),
            format!(
                "read {}, malformed {}, filtered {}, with a rejected record {}",
                count(known.rows, c.read),
                count(known.rows, c.malformed),
                count(known.rows, c.filtered),
                count(known.rows, run.rejected_rows)
            ),
        ],
        vec![
            "records".into(),
            format!(
                "rejected {}, deduplicated {}, inserted {}, updated {}, unchanged {}, deleted {}",
                count(known.records, c.rejected),
                count(known.records, c.deduplicated),
                count(known.records, c.inserted),
                count(known.records, c.updated),
                count(known.records, c.unchanged),
                count(known.records, c.deleted)
            ),
        ],
        vec!["error".into(), opt(&run.error)],
    ];
    print_rows(format, &["", ""], &rows)?;
    if !entities.is_empty() {
        let n = |v: u64| count(known.records, v);
        let live = |v: Option<i64>| v.map_or_else(|| "unknown".to_string(), |x| x.to_string());
        let rows: Vec<Vec<String>> = entities
            .iter()
            .map(|e| {
                let c = &e.counts;
                vec![
                    e.entity.clone(),
                    count(known.rows, c.read),
                    count(known.rows, c.malformed),
                    count(known.rows, c.filtered),
                    n(c.rejected),
                    n(c.deduplicated),
                    n(c.inserted),
                    n(c.updated),
                    n(c.unchanged),
                    n(c.deleted),
                    live(e.live_before),
                    live(e.live_after),
                ]
            })
            .collect();
        print_rows(
            format,
            &[
                "entity",
                "read",
                "malformed",
                "filtered",
                "rejected",
                "deduplicated",
                "inserted",
                "updated",
                "unchanged",
                "deleted",
                "live before",
                "live after",
            ],
            &rows,
        )?;
    }
    if !reasons.is_empty() {
        let rows: Vec<Vec<String>> = reasons
            .iter()
            .map(|(e, f, r, n)| vec![e.clone(), f.clone(), r.clone(), n.to_string()])
            .collect();
        print_rows(format, &["entity", "field", "rule", "rejects"], &rows)?;
    }
    if !misses.is_empty() {
        let rows: Vec<Vec<String>> = misses
            .iter()
            .map(|(t, v, n)| vec![t.clone(), v.clone(), n.to_string()])
            .collect();
        print_rows(format, &["lookup", "code not in table", "rows"], &rows)?;
    }
    for w in &run.warnings {
        println!("warning: {w}");
    }
    Ok(0)
}
