//! `opsync test`: run the `[[test]]` cases declared in mapping files (and in job files) through
//! the compiled mapping, as a run would, and compare what comes out with what the case expects.
//!
//! A case's input rows become raw records (lineage `"<mapping> test <case>"`, row = position);
//! records of one entity and key are deduplicated as the loader does, a different record under
//! a known key becoming a `duplicate_key` reject. Expected records are matched in order per
//! entity, on the fields they list, by canonical text; expected rejects one to one, in order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::mapping_is_json;
use crate::config::mapping::{ExpectedReject, TestCase};
use crate::config::{
    ConfigError, FileKind, JobFile, closest, file_kind, load_job, load_mapping, parse_toml, read_text,
};
use crate::mapping::{ColumnRef, Mapping, MissCounter, Outcome, compile};
use crate::model::{CanonicalRecord, Entity, FieldType, Lineage, RawRecord, RawValues, Reason, Reject, Value, schema};

/// The name of the failing case that stands for a file that could not be read or parsed.
pub const LOAD_CASE: &str = "(loading the file)";

/// One fixture case: passed when it has no failures.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case's `name`.
    pub name: String,
    /// What differed, one entry per difference, ready to show.
    pub failures: Vec<String>,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The cases of one file, in the order declared.
#[derive(Debug, Clone, Serialize)]
pub struct FileCases {
    /// The file as named on the command line (or found below a folder).
    pub path: PathBuf,
    /// Its cases; none when it declares none.
    pub cases: Vec<CaseResult>,
}

/// The outcome of `opsync test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestRun {
    /// Every file tested, in order.
    pub files: Vec<FileCases>,
}

impl TestRun {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases().filter(|c| c.passed()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases().filter(|c| !c.passed()).count()
    }

    fn cases(&self) -> impl Iterator<Item = &CaseResult> {
        self.files.iter().flat_map(|f| &f.cases)
    }
}

/// Run the cases of every file.
pub fn run_fixtures(files: &[PathBuf]) -> TestRun {
    TestRun {
        files: files
            .iter()
            .map(|p| FileCases {
                path: p.clone(),
                cases: file_cases(p),
            })
            .collect(),
    }
}

/// Problems as lines to show, in the order of the files' text.
fn problem_lines(e: &ConfigError) -> Vec<String> {
    let mut problems: Vec<_> = e.0.iter().collect();
    problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    problems.iter().map(ToString::to_string).collect()
}

fn load_failure(e: &ConfigError) -> Vec<CaseResult> {
    vec![CaseResult {
        name: LOAD_CASE.into(),
        failures: problem_lines(e),
    }]
}

fn file_cases(path: &Path) -> Vec<CaseResult> {
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => return load_failure(&e),
    };
    match file_kind(&text) {
        FileKind::Mapping => match load_mapping(path) {
            Ok(m) => run_cases(compile(&m, mapping_is_json(&m.file)), &m.file.tests),
            Err(e) => load_failure(&e),
        },
        FileKind::Job => {
            let file: JobFile = match parse_toml(path, &text) {
                Ok(f) => f,
                Err(d) => return load_failure(&d.into()),
            };
            if file.tests.is_empty() {
                return Vec::new();
            }
            match load_job(path) {
                Ok(job) => {
                    // An inline mapping carries the job's cases; a mapping file's own cases are
                    // run when that file is tested, the job's here.
                    let tests = if job.mapping.path == job.path {
                        &job.mapping.file.tests
                    } else {
                        &job.file.tests
                    };
                    run_cases(compile(&job.mapping, job.source().is_json()), tests)
                }
                Err(e) => fail_all(&file.tests, "the job does not load:", &e),
            }
        }
    }
}

fn run_cases(mapping: Result<Mapping, ConfigError>, cases: &[TestCase]) -> Vec<CaseResult> {
    match mapping {
        Ok(m) => cases.iter().map(|c| run_case(&m, c)).collect(),
        Err(e) => fail_all(cases, "the mapping does not compile:", &e),
    }
}

/// Every case failed by the same problems, under a heading.
fn fail_all(cases: &[TestCase], heading: &str, e: &ConfigError) -> Vec<CaseResult> {
    let mut failures = vec![heading.to_string()];
    failures.extend(problem_lines(e));
    cases
        .iter()
        .map(|c| CaseResult {
            name: c.name.clone(),
            failures: failures.clone(),
        })
        .collect()
}

/// Run one case through a compiled mapping and compare.
pub fn run_case(mapping: &Mapping, case: &TestCase) -> CaseResult {
    let failures = match produce(mapping, case) {
        Ok((records, rejects)) => {
            let mut f = compare_records(mapping, case, &records);
            f.extend(compare_rejects(&case.expect_rejects, &rejects));
            f
        }
        Err(e) => problem_lines(&e),
    };
    CaseResult {
        name: case.name.clone(),
        failures,
    }
}

/// The columns of a case: every key of its input rows (first seen first), then every column the
/// mapping or its expressions read that the rows do not name (read as blank, `""`, as a blank
/// cell of a real file is).
fn header(mapping: &Mapping, input: &[toml::Table]) -> Vec<String> {
    let mut header: Vec<String> = Vec::new();
    let named = input.iter().flat_map(|row| row.keys().cloned());
    let read = mapping.slots.iter().filter_map(|s| match &s.column {
        ColumnRef::Name(n) => Some(n.clone()),
        _ => None,
    });
    let in_expressions = mapping.expr_columns.iter().cloned();
    for column in named.chain(read).chain(in_expressions) {
        if !header.contains(&column) {
            header.push(column);
        }
    }
    header
}

/// A TOML value as source text: strings as they are, other values as TOML writes them.
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// A TOML value as a JSON value, for the cases of mappings over JSON sources.
fn toml_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(toml_json).collect(),
        toml::Value::Table(t) => t.iter().map(|(k, v)| (k.clone(), toml_json(v))).collect(),
    }
}

/// Map the case's input rows: records (deduplicated by entity and key) and rejects, in order.
fn produce(mapping: &Mapping, case: &TestCase) -> Result<(Vec<CanonicalRecord>, Vec<Reject>), ConfigError> {
    let header = header(mapping, &case.input);
    let binding = mapping.bind(&header, "test input", true)?;
    let source: Arc<str> = Arc::from(format!("{} test {}", mapping.path.display(), case.name));
    let mut misses = MissCounter::default();
    let mut outcomes = Vec::new();
    let mut records: Vec<CanonicalRecord> = Vec::new();
    let mut rejects = Vec::new();
    let mut first: HashMap<(&'static str, String), (usize, [u8; 16])> = HashMap::new();
    for (i, row) in case.input.iter().enumerate() {
        let n = i as u64 + 1;
        let values = if mapping.json {
            RawValues::Json(toml_json(&toml::Value::Table(row.clone())))
        } else {
            RawValues::Row(
                header
                    .iter()
                    .map(|h| row.get(h).map(toml_text).unwrap_or_default())
                    .collect(),
            )
        };
        let raw = RawRecord {
            values,
            lineage: Lineage {
                source: source.clone(),
                locator: None,
                row: n,
                line: n,
            },
        };
        outcomes.clear();
        mapping.apply(&binding, &raw, &mut outcomes, &mut misses);
        for outcome in outcomes.drain(..) {
            let record = match outcome {
                Outcome::Reject(r) => {
                    rejects.push(r);
                    continue;
                }
                Outcome::Record(r) => r,
            };
            let key = record.key();
            let hash = record.content_hash();
            match first.get(&(record.entity.name, key.clone())) {
                None => {
                    first.insert((record.entity.name, key), (records.len(), hash));
                    records.push(record);
                }
                Some((_, h)) if *h == hash => {}
                Some((j, _)) => rejects.push(duplicate(&record, key, &records[*j].lineage)),
            }
        }
    }
    Ok((records, rejects))
}

/// The reject the loader makes of a second, different record under a key already seen.
fn duplicate(record: &CanonicalRecord, key: String, first: &Lineage) -> Reject {
    Reject {
        entity: record.entity.name.to_string(),
        key: Some(key.clone()),
        lineage: record.lineage.clone(),
        reasons: vec![Reason {
            field: record.entity.key_label(),
            rule: "duplicate_key".into(),
            value: Some(key.clone()),
            message: format!("key {key:?} appears again with different values (first at {first})"),
        }],
        raw: serde_json::Value::Object(record.to_json()),
    }
}

/// The entity an `expect` table is about: its `entity`, or the mapping's only entity.
fn expected_entity(mapping: &Mapping, expect: &toml::Table) -> Result<&'static Entity, String> {
    match expect.get("entity") {
        Some(toml::Value::String(name)) => schema::entity(name).ok_or_else(|| {
            let hint = closest(name, schema::entity_names()).map(|c| format!(" (did you mean {c:?}?)"));
            format!("unknown entity {name:?}{}", hint.unwrap_or_default())
        }),
        Some(other) => Err(format!("entity must be a string, not {other}")),
        None => match mapping.entities.as_slice() {
            [only] => Ok(only.entity),
            _ => Err("names no entity: add entity = \"...\"".into()),
        },
    }
}

/// The canonical text an expected value stands for (`12.50` and `12.5` are one decimal).
fn expected_text(ty: FieldType, v: &toml::Value) -> String {
    let raw = toml_text(v);
    if raw.is_empty() {
        return raw;
    }
    Value::from_stored_text(ty, &raw).to_text().unwrap_or_default()
}

fn compare_records(mapping: &Mapping, case: &TestCase, records: &[CanonicalRecord]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut groups: Vec<(&'static Entity, Vec<(usize, &toml::Table)>)> = Vec::new();
    let expect = case.expect.as_deref().unwrap_or_default();
    if case.expect.as_ref().is_some_and(Vec::is_empty) && !records.is_empty() {
        let keys: Vec<String> = records
            .iter()
            .map(|r| format!("{} {:?}", r.entity.name, r.key()))
            .collect();
        failures.push(format!(
            "expected no records (expect = []), got {}: {}",
            records.len(),
            keys.join(", ")
        ));
    }
    for (n, expect) in expect.iter().enumerate() {
        match expected_entity(mapping, expect) {
            Ok(e) => match groups.iter_mut().find(|(g, _)| g.name == e.name) {
                Some((_, list)) => list.push((n, expect)),
                None => groups.push((e, vec![(n, expect)])),
            },
            Err(msg) => failures.push(format!("expect #{}: {msg}", n + 1)),
        }
    }
    for (entity, expected) in &groups {
        let got: Vec<&CanonicalRecord> = records.iter().filter(|r| r.entity.name == entity.name).collect();
        for (i, (n, expect)) in expected.iter().enumerate() {
            for (field, want) in expect.iter().filter(|(k, _)| k.as_str() != "entity") {
                let Some(index) = entity.field_index(field) else {
                    let hint =
                        closest(field, entity.fields.iter().map(|f| f.name)).map(|c| format!(" (did you mean {c:?}?)"));
                    failures.push(format!(
                        "expect #{}: {} has no field {field:?}{}",
                        n + 1,
                        entity.name,
                        hint.unwrap_or_default()
                    ));
                    continue;
                };
                let Some(record) = got.get(i) else { continue };
                let want = expected_text(entity.fields[index].ty, want);
                let have = record.values[index].to_text().unwrap_or_default();
                if want != have {
                    failures.push(format!(
                        "{} #{} (key {:?}): {field}: expected {want:?}, got {have:?}",
                        entity.name,
                        i + 1,
                        record.key()
                    ));
                }
            }
        }
        if got.len() != expected.len() {
            let keys: Vec<String> = got.iter().map(|r| format!("{:?}", r.key())).collect();
            let keys = if keys.is_empty() {
                String::new()
            } else {
                format!(" (keys {})", keys.join(", "))
            };
            failures.push(format!(
                "{}: expected {} record{}, got {}{keys}",
                entity.name,
                expected.len(),
                if expected.len() == 1 { "" } else { "s" },
                got.len()
            ));
        }
    }
    failures
}

fn reject_matches(e: &ExpectedReject, r: &Reject) -> bool {
    let reason_fits = |reason: &Reason| {
        e.field.as_ref().is_none_or(|f| *f == reason.field) && e.rule.as_ref().is_none_or(|x| *x == reason.rule)
    };
    e.row.is_none_or(|row| row == r.lineage.row)
        && e.entity.as_ref().is_none_or(|x| *x == r.entity)
        && ((e.field.is_none() && e.rule.is_none()) || r.reasons.iter().any(reason_fits))
}

/// An expected reject as written: `{ row = 2, field = "gtin", rule = "gtin" }`.
fn describe_expected(e: &ExpectedReject) -> String {
    let mut parts = Vec::new();
    if let Some(row) = e.row {
        parts.push(format!("row = {row}"));
    }
    for (name, v) in [("entity", &e.entity), ("field", &e.field), ("rule", &e.rule)] {
        if let Some(v) = v {
            parts.push(format!("{name} = {v:?}"));
        }
    }
    format!("{{ {} }}", parts.join(", "))
}

/// A reject as a person reads it: `row 2 item: gtin (gtin): "123" is not a valid GTIN`.
fn describe_reject(r: &Reject) -> String {
    let reasons: Vec<String> = r
        .reasons
        .iter()
        .map(|x| format!("{} ({}): {}", x.field, x.rule, x.message))
        .collect();
    format!("row {} {}: {}", r.lineage.row, r.entity, reasons.join("; "))
}

fn compare_rejects(expected: &[ExpectedReject], rejects: &[Reject]) -> Vec<String> {
    let mut failures = Vec::new();
    for i in 0..expected.len().max(rejects.len()) {
        match (expected.get(i), rejects.get(i)) {
            (Some(e), Some(r)) if reject_matches(e, r) => {}
            (Some(e), Some(r)) => failures.push(format!(
                "reject #{}: expected {}, got {}",
                i + 1,
                describe_expected(e),
                describe_reject(r)
            )),
            (Some(e), None) => failures.push(format!(
                "reject #{}: expected {}, got no reject",
                i + 1,
                describe_expected(e)
            )),
            (None, Some(r)) => failures.push(format!("unexpected reject: {}", describe_reject(r))),
            (None, None) => {}
        }
    }
    failures
}

#[cfg(test)]
mod tests;
