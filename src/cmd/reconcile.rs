//! `opsync reconcile`: compare two datasets of one entity by key and report what differs.

use super::UsageError;
use crate::cli::TableFormat;
use crate::output::print_rows;
use crate::reconcile::{Kind, ReconcileError, Report, Rule, SideSpec, Spec};

/// What one `opsync reconcile` is asked to do.
pub struct Args<'a> {
    pub left: &'a str,
    pub right: &'a str,
    pub entity: &'a str,
    pub compare: &'a [String],
    pub only_named: bool,
    pub format: TableFormat,
    pub max_exceptions: Option<u64>,
}

/// Exceptions listed on the terminal at most; the csv and json formats list them all.
const SHOWN: usize = 200;

pub fn run(a: &Args<'_>) -> anyhow::Result<u8> {
    let usage = |e: ReconcileError| anyhow::Error::new(UsageError(e.to_string()));
    let entity = crate::model::schema::entity(a.entity).ok_or_else(|| {
        let names: Vec<&str> = crate::model::schema::entity_names().collect();
        UsageError(format!(
            "unknown entity {:?}; the entities are {}",
            a.entity,
            names.join(", ")
        ))
    })?;
    let named = a
        .compare
        .iter()
        .map(|c| {
            let (field, rule) = c.split_once(':').unwrap_or((c.as_str(), "exact"));
            Rule::parse(rule)
                .map(|r| (field.trim().to_string(), r))
                .map_err(|e| UsageError(format!("--compare {c:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let spec = Spec::new(entity, &named, a.only_named).map_err(usage)?;
    let left = SideSpec::parse(a.left).and_then(|s| s.open(entity)).map_err(usage)?;
    let right = SideSpec::parse(a.right).and_then(|s| s.open(entity)).map_err(usage)?;
    let report = crate::reconcile::reconcile(&spec, left, right)?;
    match a.format {
        TableFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        TableFormat::Csv => print_rows(
            TableFormat::Csv,
            &EXCEPTION_HEADER,
            &exception_rows(&report, usize::MAX),
        )?,
        TableFormat::Table => print_table(&report)?,
    }
    let exceptions = report.exception_count();
    match a.max_exceptions {
        Some(max) if exceptions > max => {
            eprintln!(
                "opsync: {exceptions} exceptions, more than --max-exceptions {max} ({})",
                summary_line(&report)
            );
            Ok(4)
        }
        _ => Ok(0),
    }
}

const EXCEPTION_HEADER: [&str; 9] = [
    "kind", "key", "field", "rule", "left", "right", "left_at", "right_at", "rows",
];

/// One row per differing field of a mismatched key, one per other exception.
fn exception_rows(r: &Report, limit: usize) -> Vec<Vec<String>> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut rows = Vec::new();
    for e in r.exceptions.iter().take(limit) {
        let rows_text = e.rows.map(|(l, r)| format!("{l} left, {r} right")).unwrap_or_default();
        let base = |field: &str, rule: &str, left: String, right: String| {
            vec![
                e.kind.to_string(),
                e.key.clone(),
                field.to_string(),
                rule.to_string(),
                left,
                right,
                text(&e.left_at),
                text(&e.right_at),
                rows_text.clone(),
            ]
        };
        if e.fields.is_empty() {
            rows.push(base("", "", String::new(), String::new()));
        }
        for f in &e.fields {
            rows.push(base(f.field, &f.rule, text(&f.left), text(&f.right)));
        }
    }
    rows
}

fn summary_line(r: &Report) -> String {
    Kind::ALL
        .iter()
        .map(|k| format!("{} {}", k, r.count(*k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_table(r: &Report) -> anyhow::Result<()> {
    println!(
        "{} by key: {} ({} records) against {} ({} records)",
        r.entity, r.left, r.left_records, r.right, r.right_records
    );
    let summary: Vec<Vec<String>> = Kind::ALL
        .iter()
        .map(|k| vec![k.to_string(), r.count(*k).to_string()])
        .collect();
    print_rows(TableFormat::Table, &["result", "keys"], &summary)?;
    for n in &r.notes {
        println!("note: {n}");
    }
    if r.exceptions.is_empty() {
        println!("no exceptions: every key matched");
        return Ok(());
    }
    let rows = exception_rows(r, SHOWN);
    // The places and row counts are for csv and json; the terminal keeps to what fits.
    let narrow: Vec<Vec<String>> = rows.iter().map(|row| row[..6].to_vec()).collect();
    print_rows(TableFormat::Table, &EXCEPTION_HEADER[..6], &narrow)?;
    if r.exceptions.len() > SHOWN {
        println!(
            "{} more exceptions: see them all with --format csv > exceptions.csv",
            r.exceptions.len() - SHOWN
        );
    }
    Ok(())
}
