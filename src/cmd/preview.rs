//! `opsync preview JOB [-n N]`: the first canonical records and rejects as tables, decided as
//! `opsync run` would decide them (duplicate keys, and, when the target exists, insert / update /
//! unchanged against it); nothing is written (no target, no ledger).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::cli::TableFormat;
use crate::mapping::MASK;
use crate::model::{CanonicalRecord, Reason, Reject};
use crate::output::{Output, print_rows};
use crate::pipeline::verdict::Verdict;
use crate::pipeline::{self, RowEvent};
use crate::target::{Sighting, Stored, Target};

pub fn run(out: &Output, job: &Path, rows: u64) -> anyhow::Result<u8> {
    let job = super::load_job(job)?;
    let (mapping, mut source, binding) = pipeline::open_and_bind(&job)?;
    let mut records: BTreeMap<&'static str, Vec<CanonicalRecord>> = BTreeMap::new();
    let mut rejects: Vec<Reject> = Vec::new();
    let (driven, result) = pipeline::drive(
        source.as_mut(),
        &mapping,
        &binding,
        Some(rows),
        &crate::pipeline::Silent,
        |_, event| {
            match event {
                RowEvent::Record(r) => records.entry(r.entity.name).or_default().push(r),
                RowEvent::Reject(r) | RowEvent::Malformed(r) => rejects.push(r),
            }
            Ok(())
        },
    );
    result?;
    let mut target = existing_target(&job);
    let mut decided: BTreeMap<&'static str, Vec<(Verdict, CanonicalRecord)>> = BTreeMap::new();
    let mut deduplicated = 0;
    for (name, list) in records {
        let Some(e) = crate::model::schema::entity(name) else {
            continue;
        };
        let stored: Vec<Option<Stored>> = match target.as_mut() {
            Some(t) => t
                .states(e, &list.iter().collect::<Vec<_>>())
                .unwrap_or_else(|_| vec![None; list.len()]),
            None => vec![None; list.len()],
        };
        let mut seen: HashMap<String, (Sighting, usize)> = HashMap::new();
        for key in rejects
            .iter()
            .filter(|r| r.entity == name)
            .filter_map(|r| r.key.clone())
        {
            seen.entry(key).or_insert((Sighting::Rejected, 0));
        }
        let mut kept = Vec::new();
        for (r, stored) in list.into_iter().zip(stored) {
            let (key, hash) = (r.key(), r.content_hash());
            let sighting = seen.get(&key).map(|s| s.0);
            match Verdict::decide(sighting, stored, hash, false) {
                Verdict::Deduplicated => deduplicated += 1,
                Verdict::Duplicate { earlier_rejected } => {
                    let first = match seen.get(&key) {
                        Some((Sighting::Record(_), at)) if !earlier_rejected => format!("first at line {at}"),
                        _ => "an earlier row with this key was rejected".into(),
                    };
                    rejects.push(Reject {
                        entity: name.to_string(),
                        key: Some(key.clone()),
                        lineage: r.lineage.clone(),
                        reasons: vec![Reason {
                            field: e.key_label(),
                            rule: "duplicate_key".into(),
                            value: Some(key.clone()),
                            message: format!("key {key:?} appears again with different values ({first})"),
                        }],
                        raw: serde_json::Value::Null,
                    });
                }
                verdict => {
                    seen.insert(key, (Sighting::Record(hash), r.lineage.line as usize));
                    kept.push((verdict, r));
                }
            }
        }
        decided.insert(name, kept);
    }
    crate::pipeline::verdict::reject_orphans(&mapping, &mut decided, &mut rejects);
    let unmapped = mapping.unmapped_columns(&binding);
    println!(
        "preview of job {} ({} rows read, {} filtered, {} rejected, {} deduplicated; nothing written)",
        job.name,
        driven.read,
        driven.filtered_rows(),
        rejects.len(),
        deduplicated
    );
    for plan in &mapping.entities {
        let e = plan.entity;
        let list = decided.get(e.name).map(Vec::as_slice).unwrap_or_default();
        println!("\n{} ({} records)", e.name, list.len());
        if list.is_empty() {
            continue;
        }
        let mut header: Vec<&str> = Vec::new();
        if target.is_some() {
            header.push("verdict");
        }
        header.extend(plan.fields.iter().map(|f| e.fields[f.index].name));
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|(verdict, r)| {
                let mut row: Vec<String> = Vec::new();
                if target.is_some() {
                    row.push(verdict.label().into());
                }
                row.extend(plan.fields.iter().map(|f| match r.values[f.index].to_text() {
                    Some(_) if f.sensitive => MASK.to_string(),
                    text => text.unwrap_or_default(),
                }));
                row
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
    for (t, c, n) in driven.misses.sorted() {
        out.warn(&format!("lookup {t:?}: {n} row(s) with code {c:?} not in the table"));
    }
    if out.verbose && !unmapped.is_empty() {
        out.info(&format!("columns not mapped: {}", unmapped.join(", ")));
    }
    Ok(0)
}

/// The job's SQLite target when it already exists, to compare the preview with (read only).
fn existing_target(job: &crate::config::LoadedJob) -> Option<crate::target::SqliteTarget> {
    let crate::config::TargetConfig::Sqlite(c) = job.target() else {
        return None;
    };
    let path = match std::env::var_os("OPSYNC_TARGET") {
        Some(p) => p.into(),
        None => crate::config::resolve(job.dir(), &c.path),
    };
    if !path.is_file() {
        return None;
    }
    crate::target::SqliteTarget::open_read(&path).ok()
}
