//! `opsync explain ENTITY KEY`: field-level lineage of one canonical record. An SQLite target keeps
//! lineage per record beside its values (the run that last changed it, source file, row and line);
//! the run names the mapping version, whose text the ledger keeps, and each field's column and
//! steps are read from that text.

use anyhow::Context;

use super::UsageError;
use crate::cli::{Global, TableFormat};
use crate::config::mapping::{FieldMapping, MappingFile, Step};
use crate::config::{FileKind, JobFile, diagnostic::line_col, file_kind};
use crate::mapping::MASK;
use crate::mapping::reads::{Header, Sensitive, field_reads};
use crate::model::{CanonicalRecord, schema};
use crate::output::print_rows;
use crate::target::RowLineage;

pub fn run(g: &Global, entity: &str, key: &str, format: TableFormat) -> anyhow::Result<u8> {
    let Some(e) = schema::entity(entity) else {
        return Err(UsageError(format!("unknown entity {entity:?} (`opsync schema` lists them)")).into());
    };
    crate::model::key::split(e, key).map_err(UsageError)?;
    let ledger = super::read_ledger(g)?;
    let mut found = Vec::new();
    for target in ledger.targets_of(e.name)? {
        match read_target(&target, e, key) {
            Ok(Some(hit)) => found.push((target, hit)),
            Ok(None) => {}
            Err(err) => eprintln!("opsync: warning: cannot read {target}: {err:#}"),
        }
    }
    if found.is_empty() {
        return Err(UsageError(format!(
            "no {} with key {key:?} in the targets the ledger {} knows (keys of composite entities join their \
             parts with '|': {})",
            e.name,
            ledger.path().display(),
            e.key_label()
        ))
        .into());
    }
    let mut docs = Vec::new();
    for (target, (record, lineage)) in &found {
        let run = lineage
            .as_ref()
            .and_then(|l| l.changed_run)
            .and_then(|r| ledger.get_run(r).ok());
        let mapping = match run.as_ref().and_then(|r| r.mapping_hash.clone()) {
            Some(h) => ledger.mapping(&h)?.map(|m| (h, m)),
            None => None,
        };
        let (mapping_hash, mapping_path, version, fields) = match &mapping {
            Some((hash, (path, version, text))) => (
                hash.clone(),
                path.clone(),
                version.clone().unwrap_or_default(),
                field_sources(
                    text,
                    e.name,
                    run.as_ref().and_then(|r| ledger.job_columns(&r.job).ok().flatten()),
                ),
            ),
            None => (String::new(), String::new(), String::new(), Vec::new()),
        };
        let mut rows = Vec::new();
        for (i, f) in e.fields.iter().enumerate() {
            let source = fields.iter().find(|s| s.name == f.name);
            let value = match record.values[i].to_text() {
                Some(_) if source.is_some_and(|s| s.sensitive) => MASK.to_string(),
                text => text.unwrap_or_default(),
            };
            let (from, steps, line) = source
                .map(|s| (s.from.clone(), s.steps.clone(), format!("{mapping_path}:{}", s.line)))
                .unwrap_or_else(|| ("(not mapped)".into(), String::new(), String::new()));
            rows.push(vec![f.name.to_string(), value, from, steps, line]);
        }
        let l = lineage.clone().unwrap_or(RowLineage {
            first_run: None,
            changed_run: None,
            deleted: false,
            source: None,
            row: None,
            line: None,
        });
        let where_from = format!(
            "{}:{} (row {})",
            l.source.clone().unwrap_or_default(),
            l.line.unwrap_or(0),
            l.row.unwrap_or(0)
        );
        if format == TableFormat::Json {
            docs.push(serde_json::json!({
                "entity": e.name, "key": key, "target": target,
                "source": l.source, "row": l.row, "line": l.line, "deleted": l.deleted,
                "changed_run": l.changed_run, "first_run": l.first_run,
                "job": run.as_ref().map(|r| r.job.clone()),
                "mapping": {"path": mapping_path, "version": version, "hash": mapping_hash},
                "fields": rows.iter().map(|r| serde_json::json!({"field": r[0], "value": r[1], "from": r[2], "steps": r[3], "defined_at": r[4]})).collect::<Vec<_>>(),
            }));
            continue;
        }
        println!(
            "{} {key} in {target}{}",
            e.name,
            if l.deleted { " (deleted)" } else { "" }
        );
        match (&lineage, l.changed_run) {
            (Some(_), Some(changed)) => {
                println!(
                    "  last changed by run {changed}{} from {where_from}",
                    run.as_ref()
                        .map(|r| format!(" (job {}, {})", r.job, r.started_at))
                        .unwrap_or_default()
                );
                println!(
                    "  mapping {mapping_path} version {version} ({})",
                    &mapping_hash[..mapping_hash.len().min(12)]
                );
                if let Some(first) = l.first_run {
                    println!("  first inserted by run {first}");
                }
            }
            _ => println!("  lineage: not kept by this target (file targets hold values only)"),
        }
        print_rows(format, &["field", "value", "from", "steps", "defined at"], &rows)?;
    }
    if format == TableFormat::Json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(0)
}

/// A record read from a target named by its ledger id (`sqlite:PATH`, `csv:DIR`, `jsonl:DIR`),
/// with its lineage when the target keeps it.
fn read_target(
    id: &str,
    e: &'static crate::model::Entity,
    key: &str,
) -> anyhow::Result<Option<(CanonicalRecord, Option<RowLineage>)>> {
    let (kind, path) = id.split_once(':').context("unknown target")?;
    match kind {
        "sqlite" => {
            if !std::path::Path::new(path).exists() {
                anyhow::bail!("{path} does not exist");
            }
            let target = crate::target::SqliteTarget::open(std::path::Path::new(path))?;
            Ok(target.record(e, key)?.map(|(r, l)| (r, Some(l))))
        }
        "csv" | "jsonl" => {
            let file = std::path::Path::new(path).join(format!("{}.{kind}", e.name));
            if !file.exists() {
                return Ok(None);
            }
            Ok(crate::target::read_file_record(&file, kind == "csv", e, key)?.map(|r| (r, None)))
        }
        other => anyhow::bail!("unknown target kind {other}"),
    }
}

/// Where one mapped field comes from, read from a stored mapping text.
struct FieldSource {
    name: String,
    from: String,
    steps: String,
    line: usize,
    /// Its value is masked: marked sensitive, or made from a column of `sensitive_columns`.
    sensitive: bool,
}

/// For each mapped field of an entity in a stored mapping text: where it comes from. `header` is
/// the job's source header as the ledger last saw it (positions read by `from_index` are
/// compared with named columns through it; without it, either may be the other).
fn field_sources(text: &str, entity: &str, header: Option<Vec<String>>) -> Vec<FieldSource> {
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
    let engine = crate::mapping::expr::engine();
    let sensitive = Sensitive::of(&mapping, &engine);
    let masked = header.as_ref().map(|h| sensitive.masked_columns(h));
    let known = match (&header, &masked) {
        (Some(h), Some(m)) => Header::Known(h, m),
        _ => Header::Unknown,
    };
    em.fields
        .iter()
        .map(|(name, fm)| FieldSource {
            name: name.get_ref().clone(),
            from: describe_from(fm.get_ref()),
            steps: describe_steps(fm.get_ref()),
            line: line_col(text, name.span().start).0,
            sensitive: fm.get_ref().sensitive || sensitive.masks(&field_reads(fm.get_ref(), &engine), known),
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
