//! Job and mapping configuration: one validated plan for run and validate, the reference, the model.

#[allow(unused_imports)]
use crate::common::*;

use std::path::PathBuf;

/// A file of the repository (a shipped mapping or sample), by its path from the repository root.
fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// A job in the scratch folder that runs a shipped mapping on a shipped sample into `target.db`.
fn shipped_job(d: &Dir, name: &str, mapping: &str, sample: &str, mode: &str) {
    d.write(
        &format!("{name}.job.toml"),
        format!(
            "mapping = '{}'\n\n[job]\nname = \"{name}\"\nmode = \"{mode}\"\nmax_reject_percent = 20\n\n\
             [source]\nkind = \"csv\"\npath = '{}'\n\n[target]\nkind = \"sqlite\"\npath = \"target.db\"\n",
            repo(mapping),
            repo(sample)
        ),
    );
}

#[test]
fn model_1_1_lists_inventory_balances_and_the_supplier_catalog() {
    let d = Dir::new();
    for entity in ["inventory_balance", "supplier_item"] {
        let o = d.run(&["schema", entity]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        insta::assert_snapshot!(format!("schema_{entity}"), stdout(&o));
        let o = d.run(&["schema", entity, "--format", "json-schema"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        insta::assert_snapshot!(format!("json_schema_{entity}"), stdout(&o));
    }
}

#[test]
fn stock_by_lot_loads_through_the_shipped_mapping_and_a_rerun_changes_nothing() {
    let d = Dir::new();
    shipped_job(
        &d,
        "inventory",
        "mappings/openboxes/inventory.mapping.toml",
        "samples/openboxes/inventory.csv",
        "snapshot",
    );
    let o = d.run(&["run", "inventory.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // One lot at two locations is two balances: what a recall must find.
    assert_eq!(
        d.query(
            "target.db",
            "SELECT location_id, bin, expiry_date, quantity_on_hand, uom FROM inventory_balance \
             WHERE item_id = 'AC330' AND lot = 'HP2309-44' ORDER BY location_id"
        ),
        vec![
            vec!["CS", "AISLE1-BAY2-SHELF1", "2025-09-30", "300", "EA"],
            vec!["PHS", "SHELF A1", "2025-09-30", "60", "EA"],
        ]
    );
    // Stock without lots carries the marker, never an empty key part.
    assert_eq!(
        d.count(
            "target.db",
            "SELECT count(*) FROM inventory_balance WHERE lot = 'NO-LOT'"
        ),
        3
    );
    assert_eq!(
        d.count("target.db", "SELECT count(*) FROM inventory_balance WHERE lot = ''"),
        0
    );
    // The expiring line without a lot is a reject, not stock without lots.
    let o = d.run(&["rejects", "--format", "json"]);
    let rejects: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rules: Vec<&str> = rejects["rejects"]
        .as_array()
        .expect("rejects")
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert_eq!(rules, ["expiring_stock_has_a_lot"]);

    let o = d.run(&["run", "inventory.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = d.run(&["runs", "--format", "json", "-n", "1"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(runs[0]["inserted"], 0, "{runs}");
    assert_eq!(runs[0]["updated"], 0, "{runs}");
    assert_eq!(runs[0]["unchanged"], 16, "{runs}");
}

#[test]
fn a_balance_with_a_blank_lot_and_no_marker_is_rejected_not_keyed_by_an_empty_lot() {
    let d = Dir::new();
    d.write("stock.csv", "item,loc,lot,qty\nA1,CS,L1,5\nA1,CS,,7\n");
    d.write(
        "job.toml",
        r#"[job]
name = "stock"

[source]
kind = "csv"
path = "stock.csv"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "inventory_balance"

[entity.fields]
item_id = { from = "item" }
location_id = { from = "loc" }
lot = { from = "lot" }
quantity_on_hand = { from = "qty", steps = [{ step = "to_decimal" }] }
"#,
    );
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query(
            "target.db",
            "SELECT item_id, location_id, lot, quantity_on_hand FROM inventory_balance"
        ),
        vec![vec!["A1", "CS", "L1", "5"]]
    );
    assert!(
        stdout(&o).contains("inventory_balance.lot required: 1"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_supplier_catalog_loads_through_the_shipped_mapping_one_entry_per_supplier_part() {
    let d = Dir::new();
    shipped_job(
        &d,
        "supplier-items",
        "mappings/openboxes/supplier_items.mapping.toml",
        "samples/openboxes/product_suppliers.csv",
        "upsert",
    );
    let o = d.run(&["run", "supplier-items.job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query(
            "target.db",
            "SELECT supplier_id, supplier_part_no, uom, pack_qty, price, currency FROM supplier_item \
             WHERE item_id = 'IS010' ORDER BY supplier_id"
        ),
        vec![
            vec!["V10002", "OB 44-1010", "CS", "1000", "104", "USD"],
            vec!["V10008", "NF-SYR10LL", "BX", "100", "11.2", "USD"],
        ]
    );
    // A supplier missing from the crosswalk is counted by name, not loaded under its name.
    assert!(
        stdout(&o).contains("supplier: \"Carewell Surgical\" x1"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        d.count(
            "target.db",
            "SELECT count(*) FROM supplier_item WHERE supplier_id = 'Carewell Surgical'"
        ),
        0
    );
}

/// A fenced code block of a Markdown file.
struct Block {
    /// The info string (`toml`, `csv`).
    lang: String,
    /// The last non-empty line before the fence.
    before: String,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

fn code_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut before = String::new();
    for (i, l) in markdown.lines().enumerate() {
        match (&mut open, l.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_string(),
                    before: before.clone(),
                    line: i + 1,
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(b), _) => {
                b.text.push_str(l);
                b.text.push('\n');
            }
            (None, None) if !l.trim().is_empty() => before = l.to_string(),
            (None, None) => {}
        }
    }
    blocks
}

/// The file a job names with a top-level `mapping = "..."`.
fn named_mapping(job: &str) -> Option<String> {
    let table: toml::Table = job.parse().ok()?;
    table.get("mapping")?.as_str().map(str::to_string)
}

/// Check every ```toml block of a Markdown document through the real binary, in a scratch
/// folder: a whole mapping is validated (compiled) and its `[[test]]` cases run; a job is
/// validated with its mapping (the document's mapping example when the job names a file, parsed
/// only when the document has none to give it); a lone `[source]` or `[target]` table is completed
/// into a job and validated; a project file is parsed. ```csv blocks introduced by "`NAME.csv`:"
/// are written as files first, and so are the `provided` files.
fn check_toml_examples(doc: &str, markdown: &str, provided: &[(&str, &str)]) -> usize {
    let d = Dir::new();
    let blocks = code_blocks(markdown);
    for (name, text) in provided {
        d.write(name, text);
    }
    for b in blocks.iter().filter(|b| b.lang == "csv") {
        let name = b.before.trim().trim_end_matches(':').trim_matches('`');
        assert!(
            name.ends_with(".csv"),
            "{doc}:{}: a csv block needs a \"`NAME.csv`:\" line before it",
            b.line
        );
        d.write(name, &b.text);
    }
    let tomls: Vec<&Block> = blocks.iter().filter(|b| b.lang == "toml").collect();
    let is_job = |t: &str| t.lines().any(|l| l.trim() == "[job]");
    let mappings: Vec<&&Block> = tomls
        .iter()
        .filter(|b| !is_job(&b.text) && !b.text.starts_with("[source]") && !b.text.starts_with("[target]"))
        .filter(|b| !b.text.contains("[project]"))
        .collect();
    let check = |args: &[&str], b: &Block| {
        let o = d.run(args);
        assert_eq!(
            code(&o),
            0,
            "{doc}:{}: `opsync {}` failed on this example:\n{}\n{}{}",
            b.line,
            args.join(" "),
            b.text,
            stdout(&o),
            stderr(&o)
        );
    };
    for (i, b) in tomls.iter().enumerate() {
        let text = &b.text;
        if text.contains("[project]") {
            let parsed: Result<opsync::config::project::ProjectFile, _> = toml::from_str(text);
            assert!(parsed.is_ok(), "{doc}:{}: {:?}", b.line, parsed.err());
        } else if is_job(text) {
            let file = format!("example{i}.job.toml");
            match named_mapping(text) {
                Some(m) if !d.join(&m).exists() => match mappings.as_slice() {
                    [only] => {
                        d.write(&m, &only.text);
                    }
                    _ => {
                        let parsed: Result<opsync::config::JobFile, _> = toml::from_str(text);
                        assert!(parsed.is_ok(), "{doc}:{}: {:?}", b.line, parsed.err());
                        continue;
                    }
                },
                _ => {}
            }
            d.write(&file, text);
            check(&["validate", &file], b);
        } else if text.starts_with("[source]") || text.starts_with("[target]") {
            let json = text.contains("kind = \"json");
            let (id, name) = if json { ("$.code", "$.name") } else { ("code", "name") };
            let source = "[source]\nkind = \"csv\"\npath = \"in.csv\"\n";
            let target = "[target]\nkind = \"sqlite\"\npath = \"t.db\"\n";
            let (source, target) = if text.starts_with("[source]") {
                (text.as_str(), target)
            } else {
                (source, text.as_str())
            };
            let file = format!("example{i}.job.toml");
            d.write(
                &file,
                format!(
                    "[job]\nname = \"example\"\n\n{source}\n{target}\n[[entity]]\nname = \"cost_center\"\n\n\
                     [entity.fields]\ncost_center_id = {{ from = \"{id}\" }}\nname = {{ from = \"{name}\" }}\n"
                ),
            );
            check(&["validate", &file], b);
        } else {
            let file = format!("example{i}.mapping.toml");
            d.write(&file, text);
            check(&["validate", &file], b);
            if text.contains("[[test]]") {
                check(&["test", &file], b);
            }
        }
    }
    tomls.len()
}

#[test]
fn the_readme_job_example_is_a_job_with_its_mapping_line_before_the_first_table() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    // Before: `mapping = ...` came after `[source]`, so TOML put it inside [source] (an unknown key).
    let n = check_toml_examples("README.md", &readme, &[("uom.csv", "source_uom,uom\nEach,EA\n")]);
    assert!(n >= 2, "README.md has {n} TOML examples");
}

#[test]
fn every_toml_example_in_the_reference_parses_compiles_and_passes_its_cases() {
    let reference = std::fs::read_to_string(repo("docs/reference.md")).expect("docs/reference.md");
    let n = check_toml_examples("docs/reference.md", &reference, &[]);
    assert!(n > 30, "docs/reference.md has only {n} TOML examples");
}

#[test]
fn the_reference_is_what_the_code_generates() {
    let path = repo("docs/reference.md");
    let generated = opsync::reference::render();
    if std::env::var_os("OPSYNC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/reference.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(committed.lines().count().min(generated.lines().count()), |i| i)
            + 1;
        panic!(
            "docs/reference.md differs from what the code generates (first at line {first}); \
             regenerate it with `{}` and commit it",
            opsync::reference::BLESS
        );
    }
}

#[test]
fn validate_and_run_refuse_a_column_named_twice_in_csv_columns() {
    let d = crate::common::Dir::new();
    d.write("a.csv", "1,2\n");
    let job = "[job]\nname = \"j\"\n[source]\nkind = \"csv\"\npath = \"a.csv\"\nheader = false\n\
               columns = [\"code\", \"code\"]\n[target]\nkind = \"sqlite\"\npath = \"t.db\"\n\
               [[entity]]\nname = \"cost_center\"\n[entity.fields]\ncost_center_id = { from_index = 0 }\n\
               name = { from_index = 1 }\n";
    d.write("a.job.toml", job);
    let v = d.run(&["validate", "a.job.toml"]);
    assert_eq!(crate::common::code(&v), 2, "{}", crate::common::stdout(&v));
    assert!(
        crate::common::stdout(&v).contains("column \"code\" is named twice"),
        "{}",
        crate::common::stdout(&v)
    );
    let r = d.run(&["run", "a.job.toml"]);
    assert_eq!(crate::common::code(&r), 2, "{}", crate::common::stderr(&r));
}
