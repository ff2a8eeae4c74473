//! The reference documentation, `docs/reference.md`, rendered from the code it describes: the
//! keys of job, mapping and project files from the JSON Schema schemars derives from their serde
//! structs (doc comments become the descriptions), the canonical model from `model::schema`, the
//! expression variables, the encodings and the exit codes from where the code keeps them.
//!
//! A test compares the committed file with [`render`] and fails when they differ, so the
//! reference cannot drift from the code; the same test parses and runs every example in it.

mod examples;
mod schema_md;

use std::fmt::Write;

use serde_json::Value;

use crate::config::{JobFile, MappingFile, project::ProjectFile};
use crate::mapping::expr;
use crate::model::schema::{self, ENTITIES};
use crate::source::supported_encodings;
use schema_md::{Schema, cell, description};

pub use examples::LOOKUP_FILES;

/// The command that writes the reference anew.
pub const BLESS: &str = "OPSYNC_BLESS=1 cargo test --test regression reference";

/// JSON Schema of the job file, the mapping file and the project file.
pub fn schemas() -> [(&'static str, Value); 3] {
    [
        ("job", schemars::schema_for!(JobFile).to_value()),
        ("mapping", schemars::schema_for!(MappingFile).to_value()),
        ("project", schemars::schema_for!(ProjectFile).to_value()),
    ]
}

/// The whole reference, as Markdown.
pub fn render() -> String {
    let [(_, job), (_, mapping), (_, project)] = schemas();
    let (job, mapping, project) = (Schema::new(&job), Schema::new(&mapping), Schema::new(&project));
    let mut out = String::new();
    let w = &mut out;
    line(w, "# opsync reference");
    line(w, "");
    line(
        w,
        &format!(
            "Every option of job, mapping and project files, every step and rule, the expression variables, the \
             encodings, the canonical model (v{}) and the exit codes. This file is generated from the code \
             (`src/reference/`); do not edit it by hand: change the doc comments and run `{BLESS}`. Every \
             example below is checked by the test suite: mappings are compiled and their `[[test]]` cases run.",
            schema::MODEL_VERSION
        ),
    );
    line(w, "");
    for (title, anchor) in [
        ("Job files", "job-files"),
        ("Sources", "sources"),
        ("Targets", "targets"),
        ("The project file", "the-project-file"),
        ("Mapping files", "mapping-files"),
        ("Steps", "steps"),
        ("Validation rules", "validation-rules"),
        ("Expressions", "expressions"),
        ("Encodings", "encodings"),
        ("The canonical model", "the-canonical-model"),
        ("Exit codes", "exit-codes"),
    ] {
        line(w, &format!("- [{title}](#{anchor})"));
    }
    line(w, "");

    section(w, "## Job files", &description(job.root()));
    line(
        w,
        "A job file is TOML; an unknown key anywhere is an error placed at its file:line:column. Top-level \
         keys come before the first `[table]` (TOML puts a key written after a table inside that table).",
    );
    line(w, "");
    w.push_str(&job.keys_table(job.root(), &[]));
    line(w, "");
    toml_block(w, examples::JOB);
    section(w, "### `[job]`", &description(job.def("JobSection")));
    w.push_str(&job.keys_table(job.def("JobSection"), &[]));
    line(w, "");

    section(w, "## Sources", &description(job.def("SourceConfig")));
    line(w, "`kind` chooses the reader and the keys it takes.");
    line(w, "");
    variants(w, &job, "SourceConfig", "kind", examples::SOURCES);

    section(w, "## Targets", &description(job.def("TargetConfig")));
    line(w, "`kind` chooses the writer and the keys it takes.");
    line(w, "");
    variants(w, &job, "TargetConfig", "kind", examples::TARGETS);

    section(w, "## The project file", &description(project.root()));
    line(
        w,
        "`opsync.toml` is found by walking up from the job file (or, for commands without a job, from the \
         working folder), as Cargo finds `Cargo.toml`. It names the ledger, so one cron line and one \
         analyst's shell in another folder share one ledger and one lock. The ledger is `--ledger`, then \
         `OPSYNC_LEDGER`, then the project file's `ledger`, then `opsync.db` beside the job file.",
    );
    line(w, "");
    section(w, "### `[project]`", &description(project.def("ProjectSection")));
    w.push_str(&project.keys_table(project.def("ProjectSection"), &[]));
    line(w, "");
    toml_block(w, examples::PROJECT);

    section(w, "## Mapping files", &description(mapping.root()));
    line(
        w,
        "A mapping may be its own file, shared by several jobs (`mapping = \"...\"` in the job), or written \
         inline in the job file with the same tables.",
    );
    line(w, "");
    w.push_str(&mapping.keys_table(mapping.root(), &[]));
    line(w, "");
    lookup_files(w);
    toml_block(w, examples::MAPPING);
    for (title, def) in [
        ("### `[lookups.NAME]`", "LookupConfig"),
        ("### `[[filter]]`", "Filter"),
        ("### `[[entity]]`", "EntityMapping"),
        ("### `[entity.fields.NAME]`", "FieldMapping"),
        ("### `[[entity.rules]]`", "RecordRule"),
        ("### `[[test]]`", "TestCase"),
        ("#### `expect_rejects`", "ExpectedReject"),
    ] {
        section(w, title, &description(mapping.def(def)));
        if def == "FieldMapping" {
            line(
                w,
                "A field takes its value from one of `from`, `from_index`, `const` or `expr`; an empty value \
                 is no value (a required field without one is a reject). Then its `steps` run in order, the \
                 value is converted to the field's type (`opsync schema` shows it), and its `validate` rules \
                 are checked.",
            );
            line(w, "");
        }
        w.push_str(&mapping.keys_table(mapping.def(def), &[]));
        line(w, "");
    }

    section(
        w,
        "## Steps",
        "A step changes a field's value; steps run in the order listed. A step that cannot do its work (a \
         number it cannot read one way only, a code missing from a crosswalk) rejects the record with a \
         reason naming the field, the step and the value. Each example is a whole mapping with a case that \
         shows what the step does; the crosswalks they use are the files shown under \
         [Mapping files](#mapping-files).",
    );
    variants(w, &mapping, "Step", "step", examples::STEPS);

    section(
        w,
        "## Validation rules",
        "A rule checks a field's final value; a value that fails it rejects the record, naming the field, \
         the rule and the value. An empty optional field passes every rule but `required`.",
    );
    variants(w, &mapping, "Validation", "rule", examples::RULES);

    section(
        w,
        "## Expressions",
        "Filters, `expr` fields, `expr` steps and record rules are [Rhai](https://rhai.rs) expressions, \
         sandboxed: no file, network or process access, and limits on work, depth and sizes. An expression \
         that fails or exceeds a limit rejects the record, naming the field.",
    );
    line(w, "| variable | where | meaning |\n|---|---|---|");
    for v in expr::VARIABLES {
        line(
            w,
            &format!("| `{}` | {} | {} |", v.name, cell(v.available), cell(v.meaning)),
        );
    }
    line(w, "");
    line(w, "Functions opsync adds to Rhai's own:");
    line(w, "");
    line(w, "| function | where | meaning |\n|---|---|---|");
    for f in expr::FUNCTIONS {
        line(
            w,
            &format!("| `{}` | {} | {} |", f.name, cell(f.available), cell(f.meaning)),
        );
    }
    line(w, "");

    section(
        w,
        "## Encodings",
        "`encoding` of a text source names one of these WHATWG labels (case ignored; other labels of the \
         same encodings work too: `latin1`, `cp1252`, `mac`, `sjis`, ...). As in every browser, \
         `iso-8859-1` reads as windows-1252; the five bytes windows-1252 leaves undefined are refused, not \
         read as control characters. Without `encoding`, a byte-order mark decides, else the file must be \
         UTF-8: one that is not is refused, naming the line and the encodings that could read it. A file \
         declared in a legacy encoding whose characters beyond ASCII are all UTF-8 sequences is refused as \
         UTF-8 (unless none of those characters could be written in the declared encoding: then two legacy \
         bytes formed one by chance); a file declared `utf-16le` or `utf-16be` with no zero byte in its first \
         64 KiB is refused as not UTF-16. A DOS end-of-file mark (^Z, 0x1A) as a file's very last byte is not \
         read; anywhere else it is a control character.",
    );
    line(
        w,
        &supported_encodings()
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    line(w, "");

    model(w);

    section(w, "## Exit codes", "Documented in `opsync --help` as well.");
    line(w, "```text");
    w.push_str(crate::cli::EXIT_CODES.trim_end());
    line(w, "");
    line(w, "```");
    out
}

/// The canonical model: every entity, its key and its fields.
fn model(w: &mut String) {
    section(
        w,
        "## The canonical model",
        &format!(
            "Version {}; stored with every run. `opsync schema` prints it, `opsync schema ENTITY --format \
             json-schema` as JSON Schema. Decimals are exact; a key field is required; an empty value is no \
             value.",
            schema::MODEL_VERSION
        ),
    );
    for e in ENTITIES {
        let mut text = format!("{} Key: {}.", e.doc, e.key_label());
        if let Some(link) = schema::parent_of(e.name) {
            let by: Vec<&str> = link.fields.iter().map(|(child, _)| *child).collect();
            text.push_str(&format!(
                " Belongs to `{}` (by {}): when one row makes both and the parent is rejected, this record \
                 is rejected too, unless its `[[entity]]` says `on_parent_reject = \"load\"`.",
                link.parent,
                by.join(", ")
            ));
        }
        section(w, &format!("### `{}`", e.name), &text);
        line(w, "| field | type | | description |\n|---|---|---|---|");
        for f in e.fields {
            let role = if f.key {
                "key"
            } else if f.required {
                "required"
            } else {
                ""
            };
            line(
                w,
                &format!("| `{}` | {} | {role} | {} |", f.name, cell(&f.ty.name()), cell(f.doc)),
            );
        }
        line(w, "");
    }
}

/// One subsection per variant of a tagged enum: its description, its keys and its example.
fn variants(w: &mut String, s: &Schema<'_>, def: &str, tag: &str, examples: &[(&'static str, &'static str)]) {
    for v in s.variants(def, tag) {
        section(w, &format!("### `{tag} = \"{}\"`", v.tag), &v.description);
        let keys = s.keys_table(v.schema, &[tag]);
        if keys.is_empty() {
            line(w, "No other keys.");
            line(w, "");
        } else {
            w.push_str(&keys);
            line(w, "");
        }
        for (key, def) in s.nested(v.schema, &["FixedWidthColumn", "Rounding"]) {
            line(w, &format!("Keys of `{key}`:"));
            line(w, "");
            w.push_str(&s.keys_table(def, &[]));
            line(w, "");
        }
        match examples::find(examples, &v.tag) {
            Some(example) => toml_block(w, example),
            None => line(w, "(no example yet)\n"),
        }
    }
}

/// The crosswalk files the examples name.
fn lookup_files(w: &mut String) {
    line(
        w,
        "Crosswalk (lookup) files are CSV with a header; the examples use these:",
    );
    line(w, "");
    for (name, text) in LOOKUP_FILES {
        line(w, &format!("`{name}`:"));
        line(w, "");
        line(w, "```csv");
        w.push_str(text);
        line(w, "```");
        line(w, "");
    }
}

fn section(w: &mut String, heading: &str, text: &str) {
    line(w, heading);
    line(w, "");
    if !text.is_empty() {
        line(w, text);
        line(w, "");
    }
}

fn toml_block(w: &mut String, text: &str) {
    line(w, "```toml");
    w.push_str(text);
    if !text.ends_with('\n') {
        line(w, "");
    }
    line(w, "```");
    line(w, "");
}

fn line(w: &mut String, text: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(w, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_rule_source_and_target_has_an_example() {
        let [(_, job), (_, mapping), _] = schemas();
        let (job, mapping) = (Schema::new(&job), Schema::new(&mapping));
        for (s, def, tag, list) in [
            (&job, "SourceConfig", "kind", examples::SOURCES),
            (&job, "TargetConfig", "kind", examples::TARGETS),
            (&mapping, "Step", "step", examples::STEPS),
            (&mapping, "Validation", "rule", examples::RULES),
        ] {
            let variants = s.variants(def, tag);
            assert!(!variants.is_empty(), "{def} has no variants in the schema");
            for v in variants {
                assert!(
                    examples::find(list, &v.tag).is_some(),
                    "{tag} = {:?} has no example",
                    v.tag
                );
            }
        }
    }
}
