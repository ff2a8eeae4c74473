//! `opsync validate`: one test per kind of problem, each asserting the whole output with the
//! exact file:line:column, then whole reports in every format.

use insta::assert_snapshot;

use crate::{FIXTURES, junit_counts, opsync, opsync_in};

/// Validate one file of `bad/`: it must fail with exit 2; returns the text report.
fn bad(file: &str) -> String {
    let out = opsync(&["validate", &format!("{FIXTURES}/bad/{file}")]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr, "");
    out.stdout
}

#[test]
fn unknown_key_is_placed_with_did_you_mean() {
    assert_eq!(
        bad("unknown_key.toml"),
        "tests/fixtures/checks/bad/unknown_key.toml:8:1: error: unknown field `form`\n  hint: did you mean `from`?\n\
         validate: 1 file, 1 problem\n"
    );
}

#[test]
fn unknown_key_in_the_source_table_is_placed_at_the_key() {
    assert_eq!(
        bad("job_typo.toml"),
        "tests/fixtures/checks/bad/job_typo.toml:9:1: error: unknown field `dlimiter`\n  hint: did you mean \
         `delimiter`?\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn unknown_canonical_entity() {
    assert_eq!(
        bad("unknown_entity.toml"),
        "tests/fixtures/checks/bad/unknown_entity.toml:2:8: error: unknown canonical entity \"itme\"\n  \
         hint: did you mean \"item\"?\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn unknown_canonical_field() {
    assert_eq!(
        bad("unknown_field.toml"),
        "tests/fixtures/checks/bad/unknown_field.toml:10:16: error: supplier has no field \"payment_term\"\n  \
         hint: did you mean \"payment_terms\"?\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn unmapped_required_fields() {
    assert_eq!(
        bad("missing_required.toml"),
        "tests/fixtures/checks/bad/missing_required.toml:2:8: error: purchase_order_line needs the required \
         field(s) line_no, quantity\n  hint: map them under [entity.fields]; `opsync schema purchase_order_line` \
         shows them\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn bad_regexes_in_steps_and_rules() {
    assert_eq!(
        bad("bad_regex.toml"),
        "tests/fixtures/checks/bad/bad_regex.toml:6:10: error: bad regular expression \"^([A-Z]+\": regex parse \
         error:\n        ^([A-Z]+\n         ^\n    error: unclosed group\n\
         tests/fixtures/checks/bad/bad_regex.toml:10:13: error: bad regular expression \"[a-z\": regex parse \
         error:\n        [a-z\n        ^\n    error: unclosed character class\n\
         validate: 1 file, 2 problems\n"
    );
}

#[test]
fn bad_date_format() {
    assert_eq!(
        bad("bad_date_format.toml"),
        "tests/fixtures/checks/bad/bad_date_format.toml:12:10: error: bad date format \"%Y-%m-%Q\"\n  hint: use \
         chrono strftime syntax, like \"%m/%d/%y\" or \"%Y-%m-%d %H:%M:%S\"\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn missing_lookup_file_is_reported_once() {
    assert_eq!(
        bad("missing_lookup.toml"),
        "tests/fixtures/checks/bad/missing_lookup.toml:3:1: error: lookup file \
         tests/fixtures/checks/bad/lookups/no-such-table.csv not found\n  hint: lookup paths are relative to the \
         mapping file\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn to_decimal_feeding_a_date_field() {
    assert_eq!(
        bad("type_to_decimal_date.toml"),
        "tests/fixtures/checks/bad/type_to_decimal_date.toml:12:10: error: field acquisition_date is date but its \
         steps produce a decimal\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn const_text_on_a_decimal_field() {
    assert_eq!(
        bad("type_const_decimal.toml"),
        "tests/fixtures/checks/bad/type_const_decimal.toml:11:9: error: const \"abc\" does not fit field unit_cost \
         (expected a decimal(4))\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn range_on_a_text_field() {
    assert_eq!(
        bad("type_range_text.toml"),
        "tests/fixtures/checks/bad/type_range_text.toml:9:13: error: rule range needs a number, but the field is \
         string\nvalidate: 1 file, 1 problem\n"
    );
}

#[test]
fn job_naming_a_missing_mapping_file() {
    assert_eq!(
        bad("job_missing_mapping.toml"),
        "tests/fixtures/checks/bad/job_missing_mapping.toml:1:11: error: mapping file \
         tests/fixtures/checks/bad/no-such-mapping.toml not found\n  hint: paths are relative to the job file\n\
         validate: 1 file, 1 problem\n"
    );
}

#[test]
fn csv_source_glob_delimiter_and_encoding() {
    assert_snapshot!(bad("job_source.toml"));
}

#[test]
fn fixed_width_layout() {
    assert_snapshot!(bad("job_fixed_width.toml"));
}

#[test]
fn good_files_pass_without_their_data() {
    let out = opsync(&["validate", &format!("{FIXTURES}/good")]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "validate: 4 files, 0 problems\n"));
}

#[test]
fn every_problem_of_every_file_in_one_run() {
    let out = opsync(&["validate", FIXTURES]);
    assert_eq!(out.code, 2);
    // bad_regex.toml is also reached through job_shares_bad_regex.toml: its problems appear once.
    assert_eq!(out.stdout.matches("bad_regex.toml:6:10").count(), 1);
    assert_snapshot!(out.stdout);
}

#[test]
fn json_report() {
    let out = opsync(&[
        "validate",
        "--format",
        "json",
        &format!("{FIXTURES}/bad/bad_date_format.toml"),
        &format!("{FIXTURES}/good"),
    ]);
    assert_eq!(out.code, 2);
    assert_snapshot!(out.stdout);
}

#[test]
fn junit_report_is_well_formed() {
    let out = opsync(&["validate", "--format", "junit", FIXTURES]);
    assert_eq!(out.code, 2);
    assert_eq!(junit_counts(&out.stdout), (21, 15));
    let one = opsync(&[
        "validate",
        "--format",
        "junit",
        &format!("{FIXTURES}/bad/job_source.toml"),
    ]);
    assert_snapshot!(one.stdout);
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = opsync(&["validate", "no/such/folder"]);
    assert_eq!((out.code, out.stdout.as_str()), (2, ""));
    assert_eq!(out.stderr, "opsync: error: no/such/folder: no such file or folder\n");
}

#[test]
fn mappings_is_the_default_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = opsync_in(dir.path(), &["validate"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "opsync: error: mappings: no such file or folder\n")
    );
    std::fs::create_dir(dir.path().join("mappings")).expect("mkdir");
    let text = std::fs::read_to_string(format!(
        "{}/{FIXTURES}/bad/unknown_entity.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    std::fs::write(dir.path().join("mappings/items.toml"), text).expect("write");
    let out = opsync_in(dir.path(), &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout
            .starts_with("mappings/items.toml:2:8: error: unknown canonical entity"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_shared_mapping_reached_by_an_absolute_path_is_reported_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir(root.join("jobs")).expect("mkdir");
    std::fs::write(
        root.join("items.toml"),
        "[[entity]]\nname = \"item\"\n[entity.fields.item_id]\nfrom = \"ID\"\n",
    )
    .expect("write");
    let job = "mapping = \"../items.toml\"\n[job]\nname = \"j\"\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\
               [target]\nkind = \"sqlite\"\npath = \"t.db\"\n";
    std::fs::write(root.join("jobs/j.toml"), job).expect("write");
    let out = opsync(&[
        "validate",
        &root.join("jobs").display().to_string(),
        &root.display().to_string(),
    ]);
    assert_eq!(out.code, 2);
    insta::with_settings!({ filters => vec![(regex_escape(&root.display().to_string()).as_str(), "[TEMP]")] }, {
        assert_snapshot!(out.stdout);
    });
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}
