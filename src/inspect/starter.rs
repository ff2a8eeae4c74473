//! The starter mapping `inspect` writes: opsync's mapping TOML for the guessed entity, with a job
//! file to go with it as a comment on top.
//!
//! Every matched field gets `from` and the steps its column's inferred type calls for (`trim` for
//! text, `to_decimal`, `parse_date` with the detected format, `to_boolean`, a `gtin` check), so the
//! file compiles as it is whenever every required field found a column. What the guess could not
//! settle stays visible but harmless: required fields without a column are commented-out
//! placeholders, doubtful matches carry a comment, unmatched columns are listed at the end, and
//! an example `[[test]]` is commented out. TOML is written by hand rather than serialized, because
//! the comments are the point.

use std::fmt::Write;

use crate::config::SourceConfig;
use crate::config::job::SheetRef;
use crate::model::{ENTITIES, Entity, Field, FieldType};

use super::Inspection;
use super::guess::normalize;
use super::profile::{ColumnSummary, InferredType};
use super::shape::{boolean_counterpart, boolean_word};

/// The job file's name for a file: its normalized stem (`Assets Sample.csv` -> `assets_sample`).
pub fn job_name(inspection: &Inspection) -> String {
    let stem = inspection
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = normalize(&stem);
    if name.is_empty() { "inspected".into() } else { name }
}

/// The `[source]` table that reads the file, as TOML lines.
pub fn source_block(inspection: &Inspection) -> String {
    let mut out = String::from("[source]\n");
    let source = &inspection.source;
    let _ = writeln!(out, "kind = {}", quote(source.kind()));
    let _ = writeln!(out, "path = {}", quote(source.path()));
    match source {
        SourceConfig::Csv(c) => {
            if c.delimiter != ',' {
                let _ = writeln!(out, "delimiter = {}", quote(&c.delimiter.to_string()));
            }
            if !c.header {
                let _ = writeln!(out, "header = false  # the columns are named column_1, column_2, ...");
            }
            if let Some(e) = &c.encoding {
                let _ = writeln!(out, "encoding = {}", quote(e));
            }
        }
        SourceConfig::Excel(x) => match &x.sheet {
            Some(SheetRef::Name(s)) => {
                let _ = writeln!(out, "sheet = {}", quote(s));
            }
            Some(SheetRef::Index(i)) => {
                let _ = writeln!(out, "sheet = {i}");
            }
            None => {}
        },
        SourceConfig::Json(j) | SourceConfig::Jsonl(j) => {
            if let Some(r) = &j.records {
                let _ = writeln!(out, "records = {}", quote(r));
            }
        }
        SourceConfig::FixedWidth(_) => {}
    }
    out
}

/// The starter mapping file; `mapping_file` is the name the job snippet refers to it by.
pub fn starter_mapping(inspection: &Inspection, mapping_file: &str) -> String {
    let name = job_name(inspection);
    let file = inspection
        .path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Starter mapping for {}, written by `opsync inspect`: check every line.",
        comment(&file)
    );
    match &inspection.guess {
        Some(g) => {
            let others: Vec<&str> = g.others.iter().map(|(n, _)| *n).collect();
            let runners = if others.is_empty() {
                String::new()
            } else {
                format!("; runners-up: {}", others.join(", "))
            };
            let _ = writeln!(
                out,
                "# Entity guessed from the column names: {} ({} of {} fields matched{runners}).",
                g.entity.name,
                g.fields.len(),
                g.entity.fields.len()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# No column name matched a canonical field: choose the entity (`opsync schema` lists them)."
            );
        }
    }
    let _ = writeln!(
        out,
        "# Then run `opsync validate`, `opsync preview {name}.job.toml` and `opsync test`."
    );
    let _ = writeln!(out, "#\n# A job file to go with it ({name}.job.toml):\n#");
    let job = format!(
        "mapping = {}\n\n[job]\nname = {}\n\n{}\n[target]\nkind = \"sqlite\"\npath = \"opsync-target.db\"\n",
        quote(mapping_file),
        quote(&name),
        source_block(inspection)
    );
    for line in job.lines() {
        out.push_str(if line.is_empty() { "#" } else { "# " });
        out.push_str(line);
        out.push('\n');
    }
    let _ = writeln!(out, "\nversion = \"1\"\n");
    let entity: &Entity = inspection.guess.as_ref().map_or(&ENTITIES[0], |g| g.entity);
    let _ = writeln!(out, "[[entity]]");
    let _ = write!(out, "name = {}", quote(entity.name));
    if inspection.guess.is_none() {
        let _ = write!(out, "  # a placeholder: no entity matched");
    }
    let _ = writeln!(out, "\n\n[entity.fields]");
    let mut unmatched_optional = Vec::new();
    for field in entity.fields {
        let column = inspection
            .guess
            .as_ref()
            .and_then(|g| g.column_of(field.name))
            .and_then(|i| inspection.columns.get(i));
        let index = inspection.guess.as_ref().and_then(|g| g.column_of(field.name));
        match column {
            Some(col) => {
                // The first of a name held twice is read by position: its name could mean either.
                let first_of_shared = index.filter(|i| inspection.shared.iter().any(|s| s.positions[0] == *i));
                field_line(&mut out, field, col, first_of_shared);
            }
            None if field.required => {
                let _ = writeln!(
                    out,
                    "# {} = {{ from = \"?\" }}  # required: no column matched",
                    field.name
                );
            }
            None => unmatched_optional.push(field.name),
        }
    }
    if !unmatched_optional.is_empty() {
        let _ = writeln!(out, "# Not matched (optional): {}", unmatched_optional.join(", "));
    }
    unmatched_columns(&mut out, inspection);
    example_test(&mut out, inspection, entity);
    out
}

/// One mapped field, with comments on anything doubtful above it.
fn field_line(out: &mut String, field: &Field, col: &ColumnSummary, by_index: Option<usize>) {
    let (steps, note) = match field.ty {
        FieldType::Code(codes) if col.has_values() => code_steps(col, codes),
        ty => steps_for(&col.ty, ty),
    };
    if let Some(note) = note {
        let _ = writeln!(out, "# {}: column {} {note}", field.name, comment(&quote(&col.name)));
    }
    let mut line = match by_index {
        Some(i) => {
            let _ = writeln!(
                out,
                "# {}: the header holds {} more than once; this is the first (column {})",
                field.name,
                comment(&quote(&col.name)),
                i + 1
            );
            format!("{} = {{ from_index = {i}", field.name)
        }
        None => format!("{} = {{ from = {}", field.name, quote(&col.name)),
    };
    if !steps.is_empty() {
        let _ = write!(line, ", steps = [{}]", steps.join(", "));
    }
    if field.name == "gtin" {
        line.push_str(", validate = [{ rule = \"gtin\" }]");
    }
    line.push_str(" }");
    let _ = writeln!(out, "{line}");
}

/// Steps for a field that takes one of a list of codes. A yes/no column becomes
/// `active`/`inactive` through a `map` (with the opposite spelling added, as a file that is all
/// `TRUE` today may say `FALSE` tomorrow); other values seen that are not codes are named.
fn code_steps(col: &ColumnSummary, codes: &[&str]) -> (Vec<String>, Option<String>) {
    if col.ty == InferredType::Boolean && codes == ["active", "inactive"] {
        let mut words = col.domain.clone();
        for w in col.domain.iter().filter_map(|w| boolean_counterpart(w)) {
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let pairs: Vec<String> = words
            .iter()
            .map(|w| {
                let code = if boolean_word(w) == Some(true) {
                    codes[0]
                } else {
                    codes[1]
                };
                format!("{} = {}", key(w), quote(code))
            })
            .collect();
        return (
            vec![format!("{{ step = \"map\", values = {{ {} }} }}", pairs.join(", "))],
            None,
        );
    }
    let trim = vec!["{ step = \"trim\" }".to_string()];
    if col.domain.is_empty() {
        let note = format!(
            "must hold one of {}; add a map step if it spells them otherwise",
            codes.join(", ")
        );
        return (trim, Some(note));
    }
    let odd: Vec<&str> = col
        .domain
        .iter()
        .filter(|v| !codes.iter().any(|c| c.eq_ignore_ascii_case(v)))
        .map(String::as_str)
        .collect();
    if odd.is_empty() {
        return (trim, None);
    }
    let note = format!(
        "holds {} where one of {} is expected: add a map step",
        odd.join(", "),
        codes.join(", ")
    );
    (trim, Some(note))
}

/// The steps that turn a column of this inferred type into the field's type, and a note when
/// the values do not look like they will convert.
fn steps_for(ty: &InferredType, field: FieldType) -> (Vec<String>, Option<String>) {
    use InferredType as T;
    let trim = || vec!["{ step = \"trim\" }".to_string()];
    let doubt = |what: &str| Some(format!("holds {ty}, not {what}: check the values and add steps"));
    if *ty == T::Empty {
        return (trim(), Some("was empty in the rows read".into()));
    }
    match field {
        FieldType::String | FieldType::Code(_) => (trim(), None),
        FieldType::Decimal { .. } => match ty {
            T::Decimal {
                decimal_comma: true, ..
            } => (vec!["{ step = \"to_decimal\", decimal_comma = true }".into()], None),
            T::Decimal { .. } | T::Integer => (vec!["{ step = \"to_decimal\" }".into()], None),
            _ => (trim(), doubt("numbers")),
        },
        FieldType::Integer => match ty {
            T::Integer => (vec!["{ step = \"to_integer\" }".into()], None),
            T::Decimal { .. } => (vec!["{ step = \"to_integer\" }".into()], doubt("whole numbers")),
            _ => (trim(), doubt("whole numbers")),
        },
        FieldType::Date | FieldType::Timestamp => match ty {
            T::Date { format, ambiguous_with } | T::Timestamp { format, ambiguous_with } => {
                let step = format!("{{ step = \"parse_date\", formats = [{}] }}", quote(format));
                let note = ambiguous_with.as_ref().map(|o| {
                    format!("fits {format} and {o} in the rows read: day and month are ambiguous, check which is meant")
                });
                (vec![step], note)
            }
            _ => (trim(), doubt("dates")),
        },
        FieldType::Boolean => match ty {
            T::Boolean | T::Integer => (vec!["{ step = \"to_boolean\" }".into()], None),
            _ => (trim(), doubt("yes/no values")),
        },
    }
}

fn unmatched_columns(out: &mut String, inspection: &Inspection) {
    let used: Vec<usize> = inspection
        .guess
        .as_ref()
        .map(|g| g.fields.iter().map(|m| m.column).collect())
        .unwrap_or_default();
    let rest: Vec<&ColumnSummary> = inspection
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, c)| c)
        .collect();
    if rest.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n# Columns not mapped:");
    for c in rest {
        let _ = writeln!(out, "#   {} ({})", comment(&c.name), c.ty);
    }
}

/// A commented-out fixture case built from the first row: its mapped columns as input, the
/// record's text key fields as the expectation.
fn example_test(out: &mut String, inspection: &Inspection, entity: &Entity) {
    let _ = writeln!(
        out,
        "\n# A fixture case for `opsync test`: uncomment, then complete `expect`."
    );
    let _ = writeln!(out, "# [[test]]");
    let _ = writeln!(out, "# name = \"first row\"");
    let mut input = Vec::new();
    let mut expect = vec![format!("entity = {}", quote(entity.name))];
    let fields: Vec<(Option<&str>, usize)> = match &inspection.guess {
        Some(g) if !g.fields.is_empty() => g.fields.iter().map(|m| (Some(m.field), m.column)).collect(),
        _ => (0..inspection.columns.len()).map(|i| (None, i)).collect(),
    };
    for (field, column) in fields {
        let (Some(col), Some(value)) = (inspection.columns.get(column), inspection.first_row.get(column)) else {
            continue;
        };
        input.push(format!("{} = {}", key(&col.name), quote(value)));
        let text_key = entity
            .fields
            .iter()
            .any(|f| Some(f.name) == field && f.key && f.ty == FieldType::String);
        if let Some(field) = field.filter(|_| text_key && !value.trim().is_empty()) {
            expect.push(format!("{field} = {}", quote(value.trim())));
        }
    }
    let _ = writeln!(out, "# input = [{{ {} }}]", comment(&input.join(", ")));
    let _ = writeln!(out, "# expect = [{{ {} }}]", comment(&expect.join(", ")));
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(s: &str) -> String {
    let bare = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { s.to_string() } else { quote(s) }
}

/// Text safe inside a `#` comment: one line.
fn comment(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::config::job::CsvSource;
    use crate::config::{LoadedMapping, MappingFile, parse_toml};
    use crate::inspect::guess_entity;

    fn col(name: &str, ty: InferredType) -> ColumnSummary {
        ColumnSummary {
            name: name.into(),
            ty,
            empty: 0,
            distinct: 1,
            distinct_capped: false,
            max_len: 5,
            samples: vec![],
            domain: vec![],
        }
    }

    fn inspection(columns: Vec<ColumnSummary>, first_row: &[&str]) -> Inspection {
        let guess = guess_entity(&columns, "export.csv");
        Inspection {
            path: PathBuf::from("export.csv"),
            kind: super::super::FileKind::Delimited,
            layout: None,
            source: SourceConfig::Csv(CsvSource {
                path: "export.csv".into(),
                delimiter: ';',
                quote: '"',
                header: true,
                columns: vec![],
                skip_rows: 0,
                encoding: Some("windows-1252".into()),
                trust_multiline: false,
            }),
            rows: 1,
            columns,
            first_row: first_row.iter().map(|s| s.to_string()).collect(),
            guess,
            notes: vec![],
            shared: vec![],
        }
    }

    fn compile(text: &str) -> Result<crate::mapping::Mapping, crate::config::ConfigError> {
        let path = Path::new("starter.mapping.toml");
        let file: MappingFile = parse_toml(path, text).map_err(|d| crate::config::ConfigError(vec![d]))?;
        let loaded = LoadedMapping {
            path: path.into(),
            text: text.into(),
            hash: crate::config::text_hash(text),
            file,
        };
        crate::mapping::compile(&loaded, false)
    }

    #[test]
    fn a_complete_guess_compiles() {
        let cols = vec![
            col("Asset Tag", InferredType::Text),
            col("Name", InferredType::Text),
            col(
                "Purchase Date",
                InferredType::Date {
                    format: "%m/%d/%y".into(),
                    ambiguous_with: Some("%d/%m/%y".into()),
                },
            ),
            col(
                "Purchase Cost",
                InferredType::Decimal {
                    decimal_comma: true,
                    currency: true,
                },
            ),
            col("Status", InferredType::Text),
            col("Notes \"x\"", InferredType::Text),
        ];
        let ins = inspection(cols, &["ICC-1", "Backhoe", "1/2/23", "2.266,13 €", "Ready", "n"]);
        let text = starter_mapping(&ins, "export.mapping.toml");
        assert!(
            text.contains("asset_id = { from = \"Asset Tag\", steps = [{ step = \"trim\" }] }"),
            "{text}"
        );
        assert!(text.contains("formats = [\"%m/%d/%y\"]"), "{text}");
        assert!(text.contains("day and month are ambiguous"), "{text}");
        assert!(text.contains("decimal_comma = true"), "{text}");
        assert!(text.contains("# delimiter = \";\""), "{text}");
        assert!(text.contains("#   Notes \"x\" (text)"), "{text}");
        assert!(text.contains("# input = [{ \"Asset Tag\" = \"ICC-1\""), "{text}");
        assert!(
            text.contains("# expect = [{ entity = \"asset\", asset_id = \"ICC-1\" }]"),
            "{text}"
        );
        if let Err(e) = compile(&text) {
            panic!("{e}\n{text}");
        }
        // The commented job file parses as a job once uncommented.
        let job: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .skip_while(|l| !l.starts_with("# mapping"))
            .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
            .collect();
        let parsed: crate::config::JobFile =
            parse_toml(Path::new("j.toml"), &job).unwrap_or_else(|e| panic!("{e}\n{job}"));
        assert_eq!(parsed.source.get_ref().kind(), "csv");
    }

    #[test]
    fn missing_required_fields_are_placeholders_and_the_toml_still_parses() {
        let cols = vec![
            col("Asset Tag", InferredType::Text),
            col(
                "Purchase Cost",
                InferredType::Date {
                    format: "%Y-%m-%d".into(),
                    ambiguous_with: None,
                },
            ),
        ];
        let ins = inspection(cols, &["A", "2024-01-01"]);
        let text = starter_mapping(&ins, "m.toml");
        assert!(text.contains("# description = { from = \"?\" }  # required"), "{text}");
        let err = compile(&text).unwrap_err().to_string();
        assert!(err.contains("needs the required field(s) description"), "{err}");
    }

    #[test]
    fn codes_from_flags_and_words() {
        let mut active = col("Active", InferredType::Boolean);
        active.domain = vec!["TRUE".into()];
        let (steps, note) = code_steps(&active, &["active", "inactive"]);
        assert_eq!(
            steps,
            ["{ step = \"map\", values = { TRUE = \"active\", FALSE = \"inactive\" } }"]
        );
        assert_eq!(note, None);
        let mut status = col("Status", InferredType::Text);
        status.domain = vec!["Active".into(), "Retired".into()];
        let (_, note) = code_steps(&status, &["active", "inactive"]);
        assert_eq!(
            note.as_deref(),
            Some("holds Retired where one of active, inactive is expected: add a map step")
        );
        status.domain = vec!["ACTIVE".into(), "inactive".into()];
        assert_eq!(code_steps(&status, &["active", "inactive"]).1, None);
    }

    #[test]
    fn steps_follow_types() {
        let dec = InferredType::Decimal {
            decimal_comma: false,
            currency: false,
        };
        assert_eq!(
            steps_for(&dec, FieldType::Decimal { scale: 2 }).0,
            ["{ step = \"to_decimal\" }"]
        );
        assert_eq!(
            steps_for(&InferredType::Boolean, FieldType::Boolean).0,
            ["{ step = \"to_boolean\" }"]
        );
        assert_eq!(
            steps_for(&InferredType::Integer, FieldType::Integer).0,
            ["{ step = \"to_integer\" }"]
        );
        let (steps, note) = steps_for(&InferredType::Text, FieldType::Decimal { scale: 2 });
        assert_eq!(steps, ["{ step = \"trim\" }"]);
        assert!(note.is_some_and(|n| n.contains("not numbers")));
    }

    #[test]
    fn strings_and_keys() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(key("Asset Tag"), "\"Asset Tag\"");
        assert_eq!(key("ProductCode"), "ProductCode");
    }
}
