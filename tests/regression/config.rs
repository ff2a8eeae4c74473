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
