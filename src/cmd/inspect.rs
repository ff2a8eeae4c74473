//! `opsync inspect FILE`: the file's layout in one line, a table of its columns, then a starter
//! mapping (printed, or written to `--mapping-out`). The work is in [`crate::inspect`].

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::UsageError;
use crate::cli::TableFormat;
use crate::config::SourceConfig;
use crate::config::job::SheetRef;
use crate::inspect::sniff::delimiter_label;
use crate::inspect::starter::{job_name, starter_mapping};
use crate::inspect::{InspectOptions, Inspection, inspect};
use crate::output::{Output, print_rows};

/// Longest sample shown in the table, in characters.
const SAMPLE_WIDTH: usize = 20;

/// Inspect `file` and print what was found.
pub fn run(
    _out: &Output,
    file: &Path,
    sheet: Option<&str>,
    encoding: Option<&str>,
    rows: usize,
    mapping_out: Option<&Path>,
) -> anyhow::Result<u8> {
    if let Some(m) = mapping_out
        && m.exists()
    {
        return Err(UsageError(format!(
            "--mapping-out {}: the file already exists; remove it or name another file",
            m.display()
        ))
        .into());
    }
    let options = InspectOptions {
        sheet: sheet.map(str::to_string),
        encoding: encoding.map(str::to_string),
        rows,
    };
    let inspection = inspect(file, &options).map_err(|e| {
        if e.is_usage() {
            anyhow::Error::new(UsageError(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let mut head = header_line(&inspection) + "\n";
    for note in &inspection.notes {
        head.push_str(&format!("note: {note}\n"));
    }
    emit(&head)?;
    print_rows(
        TableFormat::Table,
        &[
            "#", "column", "type", "empty", "distinct", "max len", "samples", "maps to",
        ],
        &table(&inspection),
    )?;
    let mapping_name = match mapping_out {
        Some(m) => m
            .file_name()
            .map_or_else(|| m.display().to_string(), |f| f.to_string_lossy().to_string()),
        None => format!("{}.mapping.toml", job_name(&inspection)),
    };
    let mapping = starter_mapping(&inspection, &mapping_name);
    match mapping_out {
        None => emit(&format!("\n{mapping}"))?,
        Some(m) => {
            // A path the user named that cannot be created is a usage error, like a missing input.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(m)
                .map_err(|e| UsageError(format!("--mapping-out {}: cannot create it: {e}", m.display())))?;
            f.write_all(mapping.as_bytes())
                .with_context(|| format!("cannot write {}", m.display()))?;
            let entity = inspection.guess.as_ref().map_or("no entity", |g| g.entity.name);
            emit(&format!("\nstarter mapping ({entity}) written to {}\n", m.display()))?;
        }
    }
    Ok(0)
}

/// Write to standard output; a closed pipe (`| head`) is an error, not a panic.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn header_line(i: &Inspection) -> String {
    let unit = if i.source.is_json() { "record" } else { "row" };
    let rows = format!("{} {unit}{} scanned", i.rows, if i.rows == 1 { "" } else { "s" });
    let detail = match (&i.source, &i.layout) {
        (SourceConfig::Csv(_), Some(l)) => format!(
            "encoding {}, delimiter {}, line endings {}, header row: {}",
            l.encoding,
            delimiter_label(l.delimiter),
            l.line_ending,
            if l.header { "yes" } else { "no" }
        ),
        (SourceConfig::Excel(x), _) => match &x.sheet {
            Some(SheetRef::Name(s)) => format!("sheet {s:?}, header row {}", x.header_row),
            Some(SheetRef::Index(n)) => format!("sheet #{n}, header row {}", x.header_row),
            None => format!("first sheet, header row {}", x.header_row),
        },
        (SourceConfig::Json(j) | SourceConfig::Jsonl(j), _) => {
            format!(
                "records {}",
                j.records
                    .as_deref()
                    .unwrap_or(if i.source.kind() == "json" { "$[*]" } else { "$" })
            )
        }
        _ => String::new(),
    };
    format!("{}: {}, {detail}, {rows}", i.path.display(), i.source.kind())
}

fn table(i: &Inspection) -> Vec<Vec<String>> {
    i.columns
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let field = i
                .guess
                .as_ref()
                .and_then(|g| g.fields.iter().find(|m| m.column == n))
                .map(|m| m.field.to_string())
                .unwrap_or_default();
            vec![
                (n + 1).to_string(),
                c.name.clone(),
                c.ty.to_string(),
                c.empty.to_string(),
                c.distinct_label(),
                c.max_len.to_string(),
                c.samples.iter().map(|s| shorten(s)).collect::<Vec<_>>().join(" | "),
                field,
            ]
        })
        .collect()
}

/// A sample cut to [`SAMPLE_WIDTH`] characters, on one line.
fn shorten(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= SAMPLE_WIDTH {
        return one_line;
    }
    let cut: String = one_line.chars().take(SAMPLE_WIDTH - 1).collect();
    format!("{}…", cut.trim_end())
}
