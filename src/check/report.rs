//! Reports of `validate` and `test`: text for people, one JSON document for tools, JUnit XML
//! for CI dashboards (written by quick-junit, which escapes what XML needs escaped). Rendering
//! returns strings; the command layer prints them.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;
use thiserror::Error;

use super::{TestRun, Validation};
use crate::config::Diagnostic;

/// Why a report could not be rendered.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The JSON writer failed.
    #[error("cannot write the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// The JUnit writer failed.
    #[error("cannot write the JUnit report: {0}")]
    Junit(#[from] quick_junit::SerializeError),
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `FILE:LINE:COL: error: MESSAGE`, then `  hint: ...` when there is one. A message of several
/// lines (a regex parser's caret diagram) keeps its later lines indented under the first.
fn problem_text(d: &Diagnostic) -> String {
    let message = d.message.replace('\n', "\n    ");
    let mut s = format!("{}:{}:{}: error: {message}", d.file.display(), d.line, d.column);
    if let Some(hint) = &d.hint {
        let _ = write!(s, "\n  hint: {hint}");
    }
    s
}

/// One line per problem (and its hint), then `validate: N files, M problems`.
pub fn validate_text(v: &Validation) -> String {
    let mut out = String::new();
    for d in v.files.iter().flat_map(|f| &f.problems) {
        let _ = writeln!(out, "{}", problem_text(d));
    }
    let _ = writeln!(
        out,
        "validate: {}, {}",
        plural(v.files.len(), "file"),
        plural(v.problem_count(), "problem")
    );
    out
}

fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "file": d.file.display().to_string(),
        "line": d.line,
        "column": d.column,
        "message": d.message,
        "hint": d.hint,
    })
}

/// `{"files": [{path, kind, problems: [...]}], "summary": {files, problems, ok}}`.
pub fn validate_json(v: &Validation) -> Result<String, ReportError> {
    let files: Vec<serde_json::Value> = v
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "kind": f.kind,
                "problems": f.problems.iter().map(diagnostic_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "files": files,
        "summary": { "files": v.files.len(), "problems": v.problem_count(), "ok": v.is_ok() },
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

fn failure(message: impl Into<String>, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message.into()).set_description(description);
    status
}

/// One `<testsuite>` per file holding one `<testcase>` for the file; problems as its failure.
pub fn validate_junit(v: &Validation) -> Result<String, ReportError> {
    let mut report = Report::new("opsync validate");
    for f in &v.files {
        let name = f.path.display().to_string();
        let status = if f.problems.is_empty() {
            TestCaseStatus::success()
        } else {
            let lines: Vec<String> = f.problems.iter().map(problem_text).collect();
            failure(plural(f.problems.len(), "problem"), lines.join("\n"))
        };
        let mut case = TestCase::new(name.clone(), status);
        case.set_classname(format!("validate.{}", f.kind));
        let mut suite = TestSuite::new(name);
        suite.add_test_case(case);
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

fn indented(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// `PASS file :: case` / `FAIL file :: case` with the differences indented, then
/// `N passed, M failed`. Passing cases are left out when `show_passed` is false.
pub fn test_text(r: &TestRun, show_passed: bool) -> String {
    let mut out = String::new();
    for f in &r.files {
        for c in &f.cases {
            if c.passed() {
                if show_passed {
                    let _ = writeln!(out, "PASS {} :: {}", f.path.display(), c.name);
                }
                continue;
            }
            let _ = writeln!(out, "FAIL {} :: {}", f.path.display(), c.name);
            for failure in &c.failures {
                out.push_str(&indented(failure));
            }
        }
    }
    let _ = writeln!(out, "{} passed, {} failed", r.passed(), r.failed());
    out
}

/// `{"files": [{path, cases: [{name, passed, failures}]}], "summary": {passed, failed, ok}}`.
pub fn test_json(r: &TestRun) -> Result<String, ReportError> {
    let files: Vec<serde_json::Value> = r
        .files
        .iter()
        .map(|f| {
            let cases: Vec<serde_json::Value> = f
                .cases
                .iter()
                .map(|c| json!({ "name": c.name, "passed": c.passed(), "failures": c.failures }))
                .collect();
            json!({ "path": f.path.display().to_string(), "cases": cases })
        })
        .collect();
    let doc = json!({
        "files": files,
        "summary": { "passed": r.passed(), "failed": r.failed(), "ok": r.failed() == 0 },
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// One `<testsuite>` per file, one `<testcase>` per fixture case.
pub fn test_junit(r: &TestRun) -> Result<String, ReportError> {
    let mut report = Report::new("opsync test");
    for f in &r.files {
        let file = f.path.display().to_string();
        let mut suite = TestSuite::new(file.clone());
        for c in &f.cases {
            let status = match c.failures.first() {
                None => TestCaseStatus::success(),
                Some(first) => {
                    let message = first.lines().next().unwrap_or_default().to_string();
                    failure(message, c.failures.join("\n"))
                }
            };
            let mut case = TestCase::new(c.name.clone(), status);
            case.set_classname(file.clone());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::check::{CaseResult, CheckedFile, FileCases};

    fn validation() -> Validation {
        let d = Diagnostic {
            file: PathBuf::from("m & <n>.toml"),
            line: 3,
            column: 7,
            message: "unknown field `dlimiter` \"x\"".into(),
            hint: Some("did you mean `delimiter`?".into()),
        };
        Validation {
            files: vec![
                CheckedFile {
                    path: PathBuf::from("m & <n>.toml"),
                    kind: "mapping",
                    problems: vec![d],
                },
                CheckedFile {
                    path: PathBuf::from("ok.toml"),
                    kind: "job",
                    problems: vec![],
                },
            ],
        }
    }

    #[test]
    fn text_lists_problems_with_hints_and_counts() {
        assert_eq!(
            validate_text(&validation()),
            "m & <n>.toml:3:7: error: unknown field `dlimiter` \"x\"\n  hint: did you mean `delimiter`?\n\
             validate: 2 files, 1 problem\n"
        );
    }

    #[test]
    fn junit_escapes_and_parses_back() {
        let xml = validate_junit(&validation()).unwrap();
        assert!(xml.contains("m &amp; &lt;n&gt;.toml"), "{xml}");
        let back = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((back.tests, back.failures), (2, 1));
    }

    #[test]
    fn test_text_indents_failures_and_closes_with_counts() {
        let run = TestRun {
            files: vec![FileCases {
                path: PathBuf::from("m.toml"),
                cases: vec![
                    CaseResult {
                        name: "good".into(),
                        failures: vec![],
                    },
                    CaseResult {
                        name: "bad".into(),
                        failures: vec!["one\n  hint: two".into()],
                    },
                ],
            }],
        };
        assert_eq!(
            test_text(&run, true),
            "PASS m.toml :: good\nFAIL m.toml :: bad\n    one\n      hint: two\n1 passed, 1 failed\n"
        );
        assert_eq!(
            test_text(&run, false),
            "FAIL m.toml :: bad\n    one\n      hint: two\n1 passed, 1 failed\n"
        );
        let back = Report::deserialize_from_str(&test_junit(&run).unwrap()).unwrap();
        assert_eq!((back.tests, back.failures), (2, 1));
        let json: serde_json::Value = serde_json::from_str(&test_json(&run).unwrap()).unwrap();
        assert_eq!(json["summary"]["failed"], 1);
    }
}
