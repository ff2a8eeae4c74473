//! `opsync explain ENTITY KEY`: field-level lineage of one canonical record. The ledger keeps
//! lineage per record (run, source file and row, mapping version); each field's column and steps
//! are read from that mapping version, and its value from the target.

use anyhow::Context;

use super::UsageError;
use crate::cli::{Global, TableFormat};
use crate::config::mapping::{FieldMapping, MappingFile, Step};
use crate::config::{FileKind, JobFile, diagnostic::line_col, file_kind};
use crate::ledger::Ledger;
use crate::model::{CanonicalRecord, schema};
use crate::output::print_rows;
use crate::pipeline::PipelineError;

pub fn run(g: &Global, entity: &str, key: &str, format: TableFormat) -> anyhow::Result<u8> {
    let Some(e) = schema::entity(entity) else {
        return Err(UsageError(format!("unknown entity {entity:?} (`opsync schema` lists them)")).into());
    };
    let ledger = Ledger::open_read(&g.ledger)
        .map_err(PipelineError::Ledger)
        .context("cannot read the run ledger")?;
    let found = ledger.key_lineage(e.name, key)?;
    if found.is_empty() {
        return Err(UsageError(format!(
            "no {} with key {key:?} in the ledger {} (keys of composite entities join their parts with '|': {})",
            e.name,
            g.ledger.display(),
            e.key_label()
        ))
        .into());
    }
    let mut docs = Vec::new();
    for l in &found {
        let current = read_target(&l.stream.target, e, key);
        let mapping = match &l.mapping_hash {
            Some(h) => ledger.mapping(h)?,
            None => None,
        };
        let run = ledger.get_run(l.changed_run).ok();
        let (mapping_path, version, fields) = match &mapping {
            Some((path, version, text)) => (
                path.clone(),
                version.clone().unwrap_or_default(),
                field_sources(text, e.name),
            ),
            None => (String::new(), String::new(), Vec::new()),
        };
        let mut rows = Vec::new();
        for (i, f) in e.fields.iter().enumerate() {
            let value = match &current {
                Ok(Some(r)) => r.values[i].to_text().unwrap_or_default(),
                _ => String::new(),
            };
            let (from, steps, line) = fields
                .iter()
                .find(|(name, ..)| name == f.name)
                .map(|(_, from, steps, line)| (from.clone(), steps.clone(), format!("{mapping_path}:{line}")))
                .unwrap_or_else(|| ("(not mapped)".into(), String::new(), String::new()));
            rows.push(vec![f.name.to_string(), value, from, steps, line]);
        }
        let where_from = format!(
            "{}:{} (row {})",
            l.source.clone().unwrap_or_default(),
            l.line.unwrap_or(0),
            l.row.unwrap_or(0)
        );
        if format == TableFormat::Json {
            docs.push(serde_json::json!({
                "entity": e.name, "key": key, "target": l.stream.target,
                "source": l.source, "row": l.row, "line": l.line,
                "changed_run": l.changed_run, "first_run": l.first_run, "seen_run": l.seen_run, "deleted_run": l.deleted_run,
                "job": run.as_ref().map(|r| r.job.clone()),
                "mapping": {"path": mapping_path, "version": version, "hash": l.mapping_hash},
                "fields": rows.iter().map(|r| serde_json::json!({"field": r[0], "value": r[1], "from": r[2], "steps": r[3], "defined_at": r[4]})).collect::<Vec<_>>(),
            }));
            continue;
        }
        println!("{} {key} in {}", e.name, l.stream.target);
        if let Err(err) = &current {
            println!("  value: cannot read the target: {err}");
        } else if let Ok(None) = &current {
            println!("  value: not in the target any more");
        }
        println!(
            "  last changed by run {}{} from {where_from}",
            l.changed_run,
            run.as_ref()
                .map(|r| format!(" (job {}, {})", r.job, r.started_at))
                .unwrap_or_default()
        );
        println!(
            "  mapping {mapping_path} version {version} ({})",
            l.mapping_hash.as_deref().map(|h| &h[..h.len().min(12)]).unwrap_or("?")
        );
        println!(
            "  first seen in run {}, last seen in run {}{}",
            l.first_run,
            l.seen_run,
            l.deleted_run
                .map(|d| format!(", deleted in run {d}"))
                .unwrap_or_default()
        );
        print_rows(format, &["field", "value", "from", "steps", "defined at"], &rows)?;
    }
    if format == TableFormat::Json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(0)
}

/// The current record from a target named by its ledger id (`sqlite:PATH`, `csv:DIR`, `jsonl:DIR`).
fn read_target(id: &str, e: &'static crate::model::Entity, key: &str) -> anyhow::Result<Option<CanonicalRecord>> {
    let (kind, path) = id.split_once(':').context("unknown target")?;
    let config = match kind {
        "sqlite" => crate::config::TargetConfig::Sqlite(crate::config::job::SqliteTarget {
            path: path.into(),
            batch_size: 1,
        }),
        "csv" => crate::config::TargetConfig::Csv(crate::config::job::FileTarget { dir: path.into() }),
        "jsonl" => crate::config::TargetConfig::Jsonl(crate::config::job::FileTarget { dir: path.into() }),
        other => anyhow::bail!("unknown target kind {other}"),
    };
    if kind == "sqlite" && !std::path::Path::new(path).exists() {
        anyhow::bail!("{path} does not exist");
    }
    let mut target = crate::target::open(&config, std::path::Path::new(""))?;
    Ok(target.fetch(e, &[key.to_string()])?.remove(key))
}

/// For each mapped field of an entity in a stored mapping text: (field, from, steps, line).
fn field_sources(text: &str, entity: &str) -> Vec<(String, String, String, usize)> {
    let mapping: Option<MappingFile> = match file_kind(text) {
        FileKind::Mapping => toml::from_str(text).ok(),
        FileKind::Job => toml::from_str::<JobFile>(text)
            .ok()
            .map(|mut j| j.take_inline_mapping()),
    };
    let Some(mapping) = mapping else {
        return Vec::new();
    };
    let Some(em) = mapping.entities.iter().find(|m| m.name.get_ref() == entity) else {
        return Vec::new();
    };
    em.fields
        .iter()
        .map(|(name, fm)| {
            let line = line_col(text, name.span().start).0;
            (
                name.get_ref().clone(),
                describe_from(fm.get_ref()),
                describe_steps(fm.get_ref()),
                line,
            )
        })
        .collect()
}

fn describe_from(f: &FieldMapping) -> String {
    if let Some(c) = &f.from {
        format!("column {:?}", c.get_ref())
    } else if let Some(i) = f.from_index {
        format!("column #{i}")
    } else if let Some(k) = &f.constant {
        format!("const {}", k.get_ref())
    } else if let Some(x) = &f.expr {
        format!("expr {}", x.get_ref())
    } else {
        "steps".into()
    }
}

fn describe_steps(f: &FieldMapping) -> String {
    let mut parts: Vec<String> = f
        .steps
        .iter()
        .map(|s| match s.get_ref() {
            Step::Lookup { table, .. } => format!("lookup({table})"),
            Step::ParseDate { formats, .. } => format!("parse_date({})", formats.join(" | ")),
            Step::Concat { columns, .. } => format!("concat({})", columns.join(", ")),
            Step::Coalesce { columns } => format!("coalesce({})", columns.join(", ")),
            Step::Case { to } => format!("case({to:?})").to_lowercase(),
            other => other.name().to_string(),
        })
        .collect();
    parts.extend(f.validate.iter().map(|v| format!("check {}", v.get_ref().name())));
    parts.join(" -> ")
}
