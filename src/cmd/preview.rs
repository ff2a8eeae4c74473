//! `opsync preview JOB [-n N]`: the first canonical records and rejects as tables; nothing is
//! written (no target, no ledger).

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::TableFormat;
use crate::mapping::Outcome;
use crate::model::{CanonicalRecord, Reject};
use crate::output::{Output, print_rows};
use crate::pipeline;

pub fn run(out: &Output, job: &Path, rows: u64) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let (mapping, mut source, binding) = pipeline::open_and_bind(&job)?;
    let mut records: BTreeMap<&'static str, Vec<CanonicalRecord>> = BTreeMap::new();
    let mut rejects: Vec<Reject> = Vec::new();
    let driven = pipeline::drive(
        source.as_mut(),
        &mapping,
        &binding,
        Some(rows),
        &crate::pipeline::Silent,
        |o| {
            match o {
                Outcome::Record(r) => records.entry(r.entity.name).or_default().push(r),
                Outcome::Reject(r) => rejects.push(r),
            }
            Ok(())
        },
    )?;
    let (read, filtered, misses) = (driven.read, driven.filtered, driven.misses);
    let unmapped = mapping.unmapped_columns(&binding);
    println!(
        "preview of job {} ({} rows read, {} filtered, {} rejected; nothing written)",
        job.name,
        read,
        filtered,
        rejects.len()
    );
    for plan in &mapping.entities {
        let e = plan.entity;
        let list = records.get(e.name).map(Vec::as_slice).unwrap_or_default();
        println!("\n{} ({} records)", e.name, list.len());
        if list.is_empty() {
            continue;
        }
        let fields: Vec<usize> = plan.fields.iter().map(|f| f.index).collect();
        let header: Vec<&str> = fields.iter().map(|i| e.fields[*i].name).collect();
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                fields
                    .iter()
                    .map(|i| r.values[*i].to_text().unwrap_or_default())
                    .collect()
            })
            .collect();
        print_rows(TableFormat::Table, &header, &rows)?;
    }
    if !rejects.is_empty() {
        println!("\nrejects ({})", rejects.len());
        let rows: Vec<Vec<String>> = rejects
            .iter()
            .flat_map(|r| {
                r.reasons.iter().map(move |x| {
                    vec![
                        r.lineage.to_string(),
                        r.entity.clone(),
                        r.key.clone().unwrap_or_default(),
                        x.field.clone(),
                        x.rule.clone(),
                        x.value.clone().unwrap_or_default(),
                        x.message.clone(),
                    ]
                })
            })
            .collect();
        print_rows(
            TableFormat::Table,
            &["source", "entity", "key", "field", "rule", "value", "message"],
            &rows,
        )?;
    }
    if let Some(w) = binding.shared_names_warning(job.source().path()) {
        out.warn(&w);
    }
    for (t, c, n) in misses.sorted() {
        out.warn(&format!("lookup {t:?}: {n} row(s) with code {c:?} not in the table"));
    }
    if out.verbose && !unmapped.is_empty() {
        out.info(&format!("columns not mapped: {}", unmapped.join(", ")));
    }
    Ok(0)
}
