//! `opsync test`: fixture cases that pass, cases that fail in each way, every format.

use insta::assert_snapshot;

use crate::{FIXTURES, junit_counts, opsync};

#[test]
fn passing_cases_exit_zero() {
    let out = opsync(&["test", &format!("{FIXTURES}/good")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_snapshot!(out.stdout);
}

#[test]
fn failing_cases_show_expected_and_actual() {
    let out = opsync(&["test", &format!("{FIXTURES}/failing")]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.ends_with("\n1 passed, 4 failed\n"), "{}", out.stdout);
    assert_snapshot!(out.stdout);
}

#[test]
fn quiet_shows_only_failures() {
    let out = opsync(&["-q", "test", &format!("{FIXTURES}/failing/items.toml")]);
    assert_eq!(out.code, 2);
    assert!(!out.stdout.contains("PASS"), "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("FAIL tests/fixtures/checks/failing/items.toml :: a value differs\n")
    );
}

#[test]
fn a_file_that_does_not_parse_is_a_failure() {
    let out = opsync(&["test", &format!("{FIXTURES}/bad/unknown_key.toml")]);
    assert_eq!(out.code, 2);
    assert_snapshot!(out.stdout);
}

#[test]
fn json_report() {
    let out = opsync(&["test", "--format", "json", &format!("{FIXTURES}/failing/items.toml")]);
    assert_eq!(out.code, 2);
    assert_snapshot!(out.stdout);
}

#[test]
fn junit_report_is_well_formed() {
    let out = opsync(&[
        "test",
        "--format",
        "junit",
        &format!("{FIXTURES}/good"),
        &format!("{FIXTURES}/failing"),
    ]);
    assert_eq!(out.code, 2);
    assert_eq!(junit_counts(&out.stdout), (12, 4));
    assert_snapshot!(out.stdout);
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = opsync(&["test", "nowhere.toml"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "opsync: error: nowhere.toml: no such file or folder\n")
    );
}
