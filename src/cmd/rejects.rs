//! `opsync rejects [--run RUN]`: rejected records with their reasons and masked raw values.

use crate::cli::{Global, TableFormat};
use crate::output::print_rows;

pub fn run(g: &Global, run: Option<i64>, limit: usize, format: TableFormat) -> anyhow::Result<u8> {
    let ledger = super::read_ledger(g)?;
    let (run, rejects) = ledger.rejects(run, limit)?;
    let misses = match run {
        Some(r) => ledger.misses(r)?,
        None => Vec::new(),
    };
    if format == TableFormat::Json {
        let doc = serde_json::json!({
            "run": run,
            "rejects": rejects,
            "lookup_misses": misses.iter().map(|(t, v, n)| serde_json::json!({"lookup": t, "value": v, "rows": n})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    let Some(run) = run else {
        eprintln!("no rejects in the ledger {}", ledger.path().display());
        return Ok(0);
    };
    let rows: Vec<Vec<String>> = rejects
        .iter()
        .map(|r| {
            let o = |x: &Option<String>| x.clone().unwrap_or_default();
            vec![
                r.run.to_string(),
                format!("{}:{}", o(&r.source), r.line.unwrap_or(0)),
                r.row.map(|x| x.to_string()).unwrap_or_default(),
                r.entity.clone(),
                o(&r.key),
                o(&r.field),
                o(&r.rule),
                o(&r.value),
                o(&r.message),
            ]
        })
        .collect();
    if format == TableFormat::Table && rows.is_empty() {
        eprintln!("run {run} has no rejects");
    } else {
        print_rows(
            format,
            &[
                "run", "source", "row", "entity", "key", "field", "rule", "value", "message",
            ],
            &rows,
        )?;
    }
    if format == TableFormat::Table && !misses.is_empty() {
        println!("lookup misses of run {run}:");
        let rows: Vec<Vec<String>> = misses
            .iter()
            .map(|(t, v, n)| vec![t.clone(), v.clone(), n.to_string()])
            .collect();
        print_rows(format, &["lookup", "code not in table", "rows"], &rows)?;
    }
    Ok(0)
}
