//! Static checks of a job file's `[job]`, `[source]` and `[target]` tables: what can be known
//! wrong without the data. Data files need not exist (CI validates without them).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use rust_decimal::Decimal;

use super::spans::{self, Seg};
use crate::config::job::{CsvSource, FixedWidthSource, JsonSource};
use crate::config::{Diagnostic, JobFile, SourceConfig, TargetConfig};
use crate::source::resolve_encoding;

/// Collects the problems of one job file, each placed at the key it is about.
struct JobChecker<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl JobChecker<'_> {
    /// A problem at the value of `at`, or at `fallback` when the text does not have that key.
    fn problem(&mut self, at: &[Seg<'_>], fallback: Range<usize>, message: String, hint: Option<&str>) {
        let span = spans::find(self.text, at).unwrap_or(fallback);
        let d = Diagnostic::at(self.path, self.text, Some(span), message).with_hint_opt(hint.map(str::to_string));
        self.problems.push(d);
    }
}

/// Every problem of the job's own tables (its mapping is checked by `compile`).
pub fn check(path: &Path, text: &str, file: &JobFile) -> Vec<Diagnostic> {
    let mut c = JobChecker {
        path,
        text,
        problems: Vec::new(),
    };
    if let Some(pct) = file.job.max_reject_percent
        && (pct < Decimal::ZERO || pct > Decimal::ONE_HUNDRED)
    {
        let at = [Seg::Key("job"), Seg::Key("max_reject_percent")];
        c.problem(
            &at,
            file.job.name.span(),
            format!("max_reject_percent {pct} is not between 0 and 100"),
            None,
        );
    }
    let pct = file.job.max_delete_percent;
    if pct < Decimal::ZERO || pct > Decimal::ONE_HUNDRED {
        let at = [Seg::Key("job"), Seg::Key("max_delete_percent")];
        c.problem(
            &at,
            file.job.name.span(),
            format!("max_delete_percent {pct} is not between 0 and 100"),
            None,
        );
    }
    let span = file.source.span();
    let source = file.source.get_ref();
    check_path(&mut c, source.path(), span.clone());
    match source {
        SourceConfig::Csv(csv) => check_csv(&mut c, csv, span),
        SourceConfig::FixedWidth(fw) => check_fixed_width(&mut c, fw, span),
        SourceConfig::Excel(x) => {
            if x.header_row == 0 {
                let at = [Seg::Key("source"), Seg::Key("header_row")];
                c.problem(&at, span, "header_row is 1-based: the first row is 1".into(), None);
            }
        }
        SourceConfig::Json(j) | SourceConfig::Jsonl(j) => check_json(&mut c, j, span),
    }
    check_target(&mut c, file);
    c.problems
}

const SOURCE_PATH_HINT: &str = "paths are relative to the job file; a glob like \"drops/items_*.csv\" reads many files";

fn check_path(c: &mut JobChecker<'_>, path: &str, span: Range<usize>) {
    let at = [Seg::Key("source"), Seg::Key("path")];
    if path.trim().is_empty() {
        c.problem(&at, span, "the source path is empty".into(), Some(SOURCE_PATH_HINT));
    } else if path.contains(['*', '?', '['])
        && let Err(e) = glob::Pattern::new(path)
    {
        c.problem(
            &at,
            span,
            format!("bad glob pattern {path:?}: {e}"),
            Some(SOURCE_PATH_HINT),
        );
    }
}

fn check_encoding(c: &mut JobChecker<'_>, label: Option<&str>, span: Range<usize>) {
    if let Err(e) = resolve_encoding(label) {
        c.problem(&[Seg::Key("source"), Seg::Key("encoding")], span, e, None);
    }
}

fn check_csv(c: &mut JobChecker<'_>, csv: &CsvSource, span: Range<usize>) {
    for (key, ch) in [("delimiter", csv.delimiter), ("quote", csv.quote)] {
        if !ch.is_ascii() {
            let hint =
                "the CSV reader splits on single bytes: use an ASCII character like \",\", \";\", \"|\" or \"\\t\"";
            c.problem(
                &[Seg::Key("source"), Seg::Key(key)],
                span.clone(),
                format!("{key} {ch:?} is not an ASCII character"),
                Some(hint),
            );
        }
    }
    if csv.delimiter == csv.quote {
        let at = [Seg::Key("source"), Seg::Key("quote")];
        c.problem(
            &at,
            span.clone(),
            format!("delimiter and quote are both {:?}", csv.delimiter),
            None,
        );
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, name) in csv.columns.iter().enumerate() {
        if let Some(first) = names.insert(name.as_str(), i) {
            let msg = format!(
                "column {name:?} is named twice in columns (positions {} and {})",
                first + 1,
                i + 1
            );
            c.problem(&[Seg::Key("source"), Seg::Key("columns")], span.clone(), msg, None);
        }
    }
    check_encoding(c, csv.encoding.as_deref(), span);
}

fn check_fixed_width(c: &mut JobChecker<'_>, fw: &FixedWidthSource, span: Range<usize>) {
    check_encoding(c, fw.encoding.as_deref(), span.clone());
    if fw.columns.is_empty() {
        let hint = "add [[source.columns]] tables with name, start (1-based) and length";
        c.problem(
            &[Seg::Key("source")],
            span,
            "a fixed_width source needs columns".into(),
            Some(hint),
        );
        return;
    }
    let column = |i: usize, key: &'static str| [Seg::Key("source"), Seg::Key("columns"), Seg::Index(i), Seg::Key(key)];
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, col) in fw.columns.iter().enumerate() {
        if col.start == 0 {
            let msg = format!("column {:?}: start is 1-based, so it must be at least 1", col.name);
            c.problem(&column(i, "start"), span.clone(), msg, None);
        }
        if col.length == 0 {
            let msg = format!("column {:?}: length must be at least 1", col.name);
            c.problem(&column(i, "length"), span.clone(), msg, None);
        }
        if let Some(first) = names.insert(&col.name, i) {
            let msg = format!(
                "column {:?} is defined twice (columns {} and {})",
                col.name,
                first + 1,
                i + 1
            );
            c.problem(&column(i, "name"), span.clone(), msg, None);
        }
    }
    let mut order: Vec<usize> = (0..fw.columns.len()).filter(|&i| fw.columns[i].start > 0).collect();
    order.sort_by_key(|&i| (fw.columns[i].start, i));
    for pair in order.windows(2) {
        let (a, b) = (&fw.columns[pair[0]], &fw.columns[pair[1]]);
        let end = a.start + a.length.max(1) - 1;
        if b.start <= end {
            let msg = format!(
                "column {:?} (characters {}-{}) overlaps column {:?} (characters {}-{})",
                b.name,
                b.start,
                b.start + b.length.max(1) - 1,
                a.name,
                a.start,
                end
            );
            c.problem(
                &column(pair[1], "start"),
                span.clone(),
                msg,
                Some("start and length count characters from 1"),
            );
        }
    }
}

fn check_json(c: &mut JobChecker<'_>, j: &JsonSource, span: Range<usize>) {
    if let Some(records) = &j.records
        && let Err(e) = serde_json_path::JsonPath::parse(records)
    {
        let hint = "an RFC 9535 JSONPath, like \"$.data[*]\"";
        c.problem(
            &[Seg::Key("source"), Seg::Key("records")],
            span,
            format!("bad JSONPath {records:?}: {e}"),
            Some(hint),
        );
    }
}

fn check_target(c: &mut JobChecker<'_>, file: &JobFile) {
    let span = file.target.span();
    match file.target.get_ref() {
        TargetConfig::Sqlite(t) => {
            if t.path.trim().is_empty() {
                c.problem(
                    &[Seg::Key("target"), Seg::Key("path")],
                    span.clone(),
                    "the target path is empty".into(),
                    None,
                );
            }
            if t.batch_size == 0 {
                let at = [Seg::Key("target"), Seg::Key("batch_size")];
                c.problem(&at, span, "batch_size must be at least 1".into(), None);
            }
        }
        TargetConfig::Csv(t) | TargetConfig::Jsonl(t) => {
            if t.dir.trim().is_empty() {
                c.problem(
                    &[Seg::Key("target"), Seg::Key("dir")],
                    span,
                    "the target folder is empty".into(),
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let file: JobFile = toml::from_str(text).unwrap();
        check(Path::new("j.toml"), text, &file)
            .iter()
            .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
            .collect()
    }

    const HEAD: &str = "mapping = \"m.toml\"\n[job]\nname = \"j\"\n[target]\nkind = \"sqlite\"\npath = \"t.db\"\n";

    #[test]
    fn csv_delimiter_quote_and_encoding() {
        let text =
            format!("{HEAD}[source]\nkind = \"csv\"\npath = \"a.csv\"\ndelimiter = \"§\"\nencoding = \"klingon\"\n");
        let p = problems(&text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0], "10:13: delimiter '§' is not an ASCII character");
        assert!(p[1].starts_with("11:12: unknown encoding \"klingon\""), "{p:?}");
    }

    #[test]
    fn fixed_width_columns_start_length_and_overlap() {
        let text = format!(
            "{HEAD}[source]\nkind = \"fixed_width\"\npath = \"a.txt\"\n\
             [[source.columns]]\nname = \"A\"\nstart = 1\nlength = 5\n\
             [[source.columns]]\nname = \"B\"\nstart = 4\nlength = 2\n\
             [[source.columns]]\nname = \"C\"\nstart = 0\nlength = 0\n"
        );
        let p = problems(&text);
        assert_eq!(
            p,
            [
                "20:9: column \"C\": start is 1-based, so it must be at least 1",
                "21:10: column \"C\": length must be at least 1",
                "16:9: column \"B\" (characters 4-5) overlaps column \"A\" (characters 1-5)",
            ]
        );
    }

    #[test]
    fn glob_target_and_percent() {
        let text = "[job]\nname = \"j\"\nmax_reject_percent = 150\n[source]\nkind = \"csv\"\npath = \"drops/[a.csv\"\n\
                    [target]\nkind = \"sqlite\"\npath = \"t.db\"\nbatch_size = 0\n";
        let p = problems(text);
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0], "3:22: max_reject_percent 150 is not between 0 and 100");
        assert!(p[1].starts_with("6:8: bad glob pattern \"drops/[a.csv\""), "{p:?}");
        assert_eq!(p[2], "10:14: batch_size must be at least 1");
    }

    #[test]
    fn a_sound_job_has_no_problems() {
        let text = format!("{HEAD}[source]\nkind = \"csv\"\npath = \"drops/*.csv\"\nencoding = \"windows-1252\"\n");
        assert!(problems(&text).is_empty());
    }
}
