//! Text to typed values: decimals, integers, dates, rounding, unit conversions.

#[allow(unused_imports)]
use crate::common::*;

/// The rejects of the ledger, as `opsync rejects --format json` prints them.
fn rejects(d: &Dir) -> Vec<serde_json::Value> {
    let o = d.run(&["rejects", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("rejects as JSON");
    v["rejects"].as_array().cloned().unwrap_or_default()
}

/// The message of the reject of the record with this key.
fn reject_message(d: &Dir, key: &str) -> String {
    rejects(d)
        .iter()
        .find(|r| r["key"] == key)
        .and_then(|r| r["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no reject for key {key}"))
}

/// Run an item job over `code,cost` rows with the given `unit_cost` mapping.
fn run_costs(d: &Dir, rows: &str, unit_cost: &str) -> std::process::Output {
    d.write("items.csv", format!("code,name,cost,uom\n{rows}"));
    let fields = format!(
        "item_id = {{ from = \"code\" }}\ndescription = {{ from = \"name\" }}\nuom = {{ from = \"uom\" }}\nunit_cost = {unit_cost}\n"
    );
    d.write("job.toml", item_job("items", "items.csv", "", &fields));
    d.run(&["run", "job.toml"])
}

fn loaded_costs(d: &Dir) -> Vec<Vec<String>> {
    d.query("target.db", "SELECT item_id, unit_cost FROM item ORDER BY item_id")
}

#[test]
fn a_comma_not_between_groups_of_three_is_a_reject_not_a_bigger_number() {
    let d = Dir::new();
    let rows = "A1,Gauze,\"12,50\",EA\nA2,Tape,\"1,2,3\",EA\nA3,Pad,\"1.234,50\",EA\nA4,Swab,\"$1,234.50\",EA\n";
    let o = run_costs(&d, rows, r#"{ from = "cost", steps = [{ step = "to_decimal" }] }"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: 1250, 123 and 1.2345 were loaded.
    assert_eq!(loaded_costs(&d), vec![vec!["A4".to_string(), "1234.5".to_string()]]);
    assert_eq!(
        reject_message(&d, "A1"),
        "\"12,50\": a ',' must separate groups of three digits; if ',' is the decimal separator set decimal_comma = true"
    );
    assert!(reject_message(&d, "A2").starts_with("\"1,2,3\": a ',' must separate groups of three digits"));
    assert!(reject_message(&d, "A3").starts_with("\"1.234,50\": a ',' after the decimal separator '.'"));
}

#[test]
fn a_text_cost_without_a_step_is_held_to_the_same_grouping_rule() {
    let d = Dir::new();
    let o = run_costs(
        &d,
        "A1,Gauze,\"12,50\",EA\nA2,Tape,\"1,250\",EA\n",
        r#"{ from = "cost" }"#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(loaded_costs(&d), vec![vec!["A2".to_string(), "1250".to_string()]]);
    assert!(reject_message(&d, "A1").contains("\"12,50\": a ',' must separate groups of three digits"));
}

#[test]
fn a_single_point_with_decimal_comma_is_a_reject_not_fifteen() {
    let d = Dir::new();
    let rows = "A1,Gauze,1.5,EA\nA2,Tape,\"1.234,5\",EA\nA3,Pad,\"6.37702E+15\",EA\n";
    let o = run_costs(
        &d,
        rows,
        r#"{ from = "cost", steps = [{ step = "to_decimal", decimal_comma = true }] }"#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(loaded_costs(&d), vec![vec!["A2".to_string(), "1234.5".to_string()]]);
    let m = reject_message(&d, "A1");
    assert!(
        m.starts_with("\"1.5\": a '.' must separate groups of three digits"),
        "{m}"
    );
    assert!(m.contains("remove decimal_comma"), "{m}");
    assert!(reject_message(&d, "A3").starts_with("\"6.37702E+15\": a '.' must separate"));
}

#[test]
fn a_number_beyond_a_decimal_is_a_reject_never_rounded() {
    let d = Dir::new();
    let rows = "A1,Gauze,1e999,EA\nA2,Tape,0.1234567890123456789012345678901,EA\n";
    let o = run_costs(&d, rows, r#"{ from = "cost", steps = [{ step = "to_decimal" }] }"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(loaded_costs(&d).is_empty());
    assert!(reject_message(&d, "A1").starts_with("\"1e999\": too large for a decimal"));
    assert!(reject_message(&d, "A2").contains("refused rather than rounded"));
}

/// Run an asset job over `tag,<column>` rows with the given extra fields.
fn run_assets(d: &Dir, header: &str, rows: &str, fields: &str) -> std::process::Output {
    d.write("assets.csv", format!("tag,{header}\n{rows}"));
    d.write(
        "job.toml",
        format!(
            r#"[job]
name = "assets"

[source]
kind = "csv"
path = "assets.csv"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "asset"

[entity.fields]
asset_id = {{ from = "tag" }}
description = {{ const = "Infusion pump" }}
{fields}
"#
        ),
    );
    d.run(&["run", "job.toml"])
}

#[test]
fn a_whole_number_with_a_comma_not_between_groups_of_three_is_a_reject() {
    let d = Dir::new();
    let o = run_assets(
        &d,
        "life",
        "P1,\"1,2,0\"\nP2,\"1,200\"\nP3,12.5\n",
        r#"useful_life_months = { from = "life", steps = [{ step = "to_integer" }] }"#,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = d.query("target.db", "SELECT asset_id, useful_life_months FROM asset");
    assert_eq!(rows, vec![vec!["P2".to_string(), "1200".to_string()]]);
    assert!(reject_message(&d, "P1").starts_with("\"1,2,0\": a ',' must separate groups of three digits"));
    assert_eq!(reject_message(&d, "P3"), "\"12.5\" is not a whole number");
}

#[test]
fn a_date_with_a_utc_offset_keeps_its_calendar_day() {
    for offset in ["+01:00", "+05:30", "+14:00", "-05:00", "-12:00"] {
        let d = Dir::new();
        let fields = format!(
            r#"acquisition_date = {{ from = "bought", steps = [{{ step = "parse_date", formats = ["%Y-%m-%d", "%Y-%m-%d %H:%M"], excel_serial = true, utc_offset = "{offset}" }}] }}
in_service_date = {{ from = "used", steps = [{{ step = "parse_date", formats = ["%Y-%m-%d", "%Y-%m-%d %H:%M"], excel_serial = true, utc_offset = "{offset}" }}] }}"#
        );
        // 45352 is 2024-03-01 for Excel; .999 is 23:58:33.6 on that day.
        let rows = "P1,2024-03-01,2024-03-01 23:59\nP2,2024-03-01 00:01,45352.999\n";
        let o = run_assets(&d, "bought,used", rows, &fields);
        assert_eq!(code(&o), 0, "{offset}: {}", stderr(&o));
        let got = d.query(
            "target.db",
            "SELECT asset_id, acquisition_date, in_service_date FROM asset ORDER BY asset_id",
        );
        let day = "2024-03-01".to_string();
        let want = vec![
            vec!["P1".to_string(), day.clone(), day.clone()],
            vec!["P2".to_string(), day.clone(), day.clone()],
        ];
        // Before: +01:00 and east gave 2024-02-29.
        assert_eq!(got, want, "utc_offset = {offset}");
    }
}

#[test]
fn a_timestamp_given_a_date_alone_is_its_local_midnight() {
    let d = Dir::new();
    d.write("wo.csv", "wo,opened,closed\nW1,2024-03-01,45352.5\n");
    d.write(
        "job.toml",
        r#"[job]
name = "work_orders"

[source]
kind = "csv"
path = "wo.csv"

[target]
kind = "sqlite"
path = "target.db"

[[entity]]
name = "work_order"

[entity.fields]
work_order_id = { from = "wo" }
type = { const = "corrective" }
opened_at = { from = "opened", steps = [{ step = "parse_date", formats = ["%Y-%m-%d"], utc_offset = "+05:30" }] }
completed_at = { from = "closed", steps = [{ step = "parse_date", formats = ["%Y-%m-%d"], excel_serial = true, utc_offset = "-12:00" }] }
"#,
    );
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = d.query("target.db", "SELECT opened_at, completed_at FROM work_order");
    assert_eq!(
        got,
        vec![vec![
            "2024-02-29T18:30:00Z".to_string(),
            "2024-03-02T00:00:00Z".to_string()
        ]]
    );
}

#[test]
fn excel_serial_60_is_a_reject_and_serials_before_it_are_excels_days() {
    let d = Dir::new();
    let fields = r#"acquisition_date = { from = "bought", steps = [{ step = "parse_date", formats = ["%Y-%m-%d"], excel_serial = true }] }"#;
    let o = run_assets(&d, "bought", "S1,1\nS59,59\nS60,60\nS61,61\nS0,0\n", fields);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = d.query(
        "target.db",
        "SELECT asset_id, acquisition_date FROM asset ORDER BY asset_id",
    );
    let row = |k: &str, v: &str| vec![k.to_string(), v.to_string()];
    // Before: 1 was 1899-12-31, 59 was 1900-02-27 and 60 was loaded as 1900-02-28.
    assert_eq!(
        got,
        vec![
            row("S1", "1900-01-01"),
            row("S59", "1900-02-28"),
            row("S61", "1900-03-01")
        ]
    );
    assert!(reject_message(&d, "S60").contains("1900-02-29, a day that never existed"));
    assert!(reject_message(&d, "S0").starts_with("\"0\": an Excel serial day must be from 1"));
}

#[test]
fn a_quantity_times_a_large_factor_is_a_reject_not_a_panic() {
    let d = Dir::new();
    d.write("uom.csv", "uom,factor\nBX,10\nCS,1000000000\n");
    d.write(
        "items.csv",
        "code,name,pack,uom\nA1,Gauze,79228162514264337593543950,CS\nA2,Tape,2,BX\n",
    );
    let fields = r#"item_id = { from = "code" }
description = { from = "name" }
uom = { const = "EA" }
pack_qty = { from = "pack", steps = [{ step = "to_decimal" }, { step = "uom_convert", uom_column = "uom", factors = "uom" }] }

[lookups.uom]
path = "uom.csv"
key = "uom"
value = "factor"
"#;
    d.write("job.toml", item_job("items", "items.csv", "", fields));
    let o = d.run(&["run", "job.toml"]);
    // Before: a Decimal multiplication overflow panicked (exit 101) and left the run `running`.
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = d.query("target.db", "SELECT item_id, pack_qty FROM item");
    assert_eq!(got, vec![vec!["A2".to_string(), "20".to_string()]]);
    let m = reject_message(&d, "A1");
    assert!(
        m.starts_with("79228162514264337593543950 times the factor 1000000000 of unit \"CS\" is beyond"),
        "{m}"
    );
}

#[test]
fn a_price_per_box_divided_by_its_pack_is_rounded_by_a_round_step_and_refused_without_one() {
    let d = Dir::new();
    d.write("uom.csv", "uom,factor\nBX,12\n");
    d.write("items.csv", "code,name,price,uom\nA1,Gauze,$10.00,BX\n");
    let job = |cost_steps: &str| {
        let fields = format!(
            r#"item_id = {{ from = "code" }}
description = {{ from = "name" }}
uom = {{ const = "EA" }}
unit_cost = {{ from = "price", steps = [{{ step = "to_decimal" }}, {{ step = "uom_convert", uom_column = "uom", factors = "uom", apply_to = "price" }}{cost_steps}] }}

[lookups.uom]
path = "uom.csv"
key = "uom"
value = "factor"
"#
        );
        item_job("items", "items.csv", "", &fields)
    };
    d.write("job.toml", job(""));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m = reject_message(&d, "A1");
    assert!(m.contains("has more than 4 decimal places"), "{m}");
    assert!(
        m.contains("step = \"round\""),
        "the message suggests the round step: {m}"
    );
    d.write("job.toml", job(r#", { step = "round", scale = 4, mode = "half_up" }"#));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        d.query("target.db", "SELECT unit_cost FROM item"),
        vec![vec!["0.8333".to_string()]]
    );
}

#[test]
fn to_decimal_rounds_when_asked_and_each_mode_rounds_its_way() {
    let d = Dir::new();
    let rows = "A1,Gauze,2.345,EA\nA2,Tape,-2.345,EA\nA3,Pad,2.355,EA\n";
    let cases = [
        ("half_up", ["2.35", "-2.35", "2.36"]),
        ("half_even", ["2.34", "-2.34", "2.36"]),
        ("half_down", ["2.34", "-2.34", "2.35"]),
        ("up", ["2.35", "-2.35", "2.36"]),
        ("down", ["2.34", "-2.34", "2.35"]),
        ("ceiling", ["2.35", "-2.34", "2.36"]),
        ("floor", ["2.34", "-2.35", "2.35"]),
    ];
    for (mode, want) in cases {
        let cost = format!(
            r#"{{ from = "cost", steps = [{{ step = "to_decimal", round = {{ scale = 2, mode = "{mode}" }} }}] }}"#
        );
        let o = run_costs(&d, rows, &cost);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let got: Vec<String> = loaded_costs(&d).into_iter().map(|r| r[1].clone()).collect();
        assert_eq!(got, want, "mode {mode}");
    }
}

#[test]
fn a_const_integer_fills_an_integer_field() {
    let d = Dir::new();
    let fields = "useful_life_months = { const = 120 }\nacquisition_cost = { const = 1_250.50 }";
    let o = run_assets(&d, "x", "P1,\n", fields);
    // Before: `const = 120` was refused with "expected a string".
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got = d.query("target.db", "SELECT useful_life_months, acquisition_cost FROM asset");
    assert_eq!(got, vec![vec!["120".to_string(), "1250.5".to_string()]]);
}

#[test]
fn a_const_that_does_not_fit_its_field_is_a_validate_error_at_its_place() {
    let d = Dir::new();
    let o = run_assets(&d, "x", "P1,\n", "useful_life_months = { const = 1.5 }");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = d.run(&["validate", "job.toml"]);
    assert_eq!(code(&o), 2);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        out.contains("job.toml:18:32: error: const 1.5 does not fit field useful_life_months (expected an integer)"),
        "{out}"
    );
}

#[test]
fn a_lookup_key_with_two_values_is_a_configuration_error_naming_both_lines() {
    let d = Dir::new();
    d.write("uom.csv", "vendor,canonical\nBX,BOX\nCS,CASE\nBX,EACH\nCS,CASE\n");
    d.write("items.csv", "code,name,uom\nA1,Gauze,BX\n");
    let fields = r#"item_id = { from = "code" }
description = { from = "name" }
uom = { from = "uom", steps = [{ step = "lookup", table = "uom" }] }

[lookups.uom]
path = "uom.csv"
key = "vendor"
value = "canonical"
"#;
    d.write("job.toml", item_job("items", "items.csv", "", fields));
    let o = d.run(&["run", "job.toml"]);
    // Before: the run loaded A1 with uom EACH, the last row silently winning.
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let msg = "key \"BX\" is on line 2 with value \"BOX\" and on line 4 with value \"EACH\"";
    assert!(stderr(&o).contains(msg), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("\"CS\""),
        "the same value twice is fine: {}",
        stderr(&o)
    );
    assert!(!d.join("target.db").exists() || d.query("target.db", "SELECT * FROM item").is_empty());
    let o = d.run(&["validate", "job.toml"]);
    assert_eq!(code(&o), 2);
    assert!(format!("{}{}", stdout(&o), stderr(&o)).contains(msg));
}

#[test]
fn a_first_group_starting_with_zero_is_a_reject_not_a_thousand_times_more() {
    let d = Dir::new();
    // "0,500" is half a unit written with a decimal comma, not five hundred.
    let rows = "A1,Gauze,\"0,500\",EA\nA2,Tape,\"00,250\",EA\nA3,Pad,\"1,500\",EA\n";
    let o = run_costs(&d, rows, r#"{ from = "cost", steps = [{ step = "to_decimal" }] }"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(loaded_costs(&d), vec![vec!["A3".to_string(), "1500".to_string()]]);
    assert!(
        reject_message(&d, "A1").starts_with("\"0,500\""),
        "{}",
        reject_message(&d, "A1")
    );
    assert!(
        reject_message(&d, "A2").starts_with("\"00,250\""),
        "{}",
        reject_message(&d, "A2")
    );
}

#[test]
fn a_year_not_written_with_four_digits_is_a_reject_under_percent_capital_y() {
    let d = Dir::new();
    let fields = r#"acquisition_date = { from = "bought", steps = [{ step = "parse_date", formats = ["%d/%m/%Y"] }] }
in_service_date = { from = "used" }"#;
    // Before: 01/02/24 loaded as the year 24, and 24-03-01 as 0024-03-01.
    let o = run_assets(
        &d,
        "bought,used",
        "P1,01/02/24,2024-03-01\nP2,01/02/2024,24-03-01\nP3,01/02/2024,2024-03-01\n",
        fields,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = d.query("target.db", "SELECT asset_id, acquisition_date FROM asset");
    assert_eq!(rows, vec![vec!["P3".to_string(), "2024-02-01".to_string()]]);
    assert!(
        reject_message(&d, "P1").contains("four digits"),
        "{}",
        reject_message(&d, "P1")
    );
    assert!(
        reject_message(&d, "P2").starts_with("\"24-03-01\""),
        "{}",
        reject_message(&d, "P2")
    );
}

#[test]
fn an_expression_giving_infinity_or_nan_is_a_reject_naming_the_field() {
    let d = Dir::new();
    d.write("items.csv", "code,total,qty\nA,12,0\nB,0,0\nC,1,1e-40\nD,5,2\n");
    let fields = r#"item_id = { from = "code" }
description = { from = "code" }
unit_cost = { expr = "parse_float(row[\"total\"]) / parse_float(row[\"qty\"])" }
"#;
    d.write("job.toml", item_job("items", "items.csv", "", fields));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: A and B loaded with no cost and C with a made-up one.
    assert_eq!(loaded_costs(&d), vec![vec!["D".to_string(), "2.5".to_string()]]);
    for key in ["A", "B", "C"] {
        let r = rejects(&d).into_iter().find(|r| r["key"] == key).expect("a reject");
        assert_eq!(r["field"], "unit_cost", "{key}: {r}");
        assert!(
            r["message"].as_str().unwrap_or("").starts_with("the expression gave"),
            "{key}: {r}"
        );
    }
}

#[test]
fn a_dash_after_the_decimal_separator_is_a_reject_not_a_negative_price() {
    let d = Dir::new();
    // "12,-" and "12.-" are whole prices in German and Swiss notation; "12.00-" is a negative.
    let rows = "A1,Gauze,12.-,EA\nA2,Tape,\"1,234.-\",EA\nA3,Pad,12.00-,EA\n";
    let o = run_costs(&d, rows, r#"{ from = "cost", steps = [{ step = "to_decimal" }] }"#);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: -12 and -1234 were loaded.
    assert_eq!(loaded_costs(&d), vec![vec!["A3".to_string(), "-12".to_string()]]);
    assert!(
        reject_message(&d, "A1").contains("a '-' right after '.' is not a minus sign"),
        "{}",
        reject_message(&d, "A1")
    );
    assert!(reject_message(&d, "A2").contains("is not a minus sign"));
}

#[test]
fn a_negative_unit_factor_is_a_reject_not_a_negative_quantity() {
    let d = Dir::new();
    d.write("uom.csv", "uom,factor\nBX,-10\nEA,1\n");
    d.write("items.csv", "code,name,pack,uom\nA1,Gauze,2,BX\nA2,Tape,3,EA\n");
    let fields = r#"item_id = { from = "code" }
description = { from = "name" }
uom = { const = "EA" }
pack_qty = { from = "pack", steps = [{ step = "to_decimal" }, { step = "uom_convert", uom_column = "uom", factors = "uom" }] }

[lookups.uom]
path = "uom.csv"
key = "uom"
value = "factor"
"#;
    d.write("job.toml", item_job("items", "items.csv", "", fields));
    let o = d.run(&["run", "job.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Before: A1 loaded with a pack of -20.
    let got = d.query("target.db", "SELECT item_id, pack_qty FROM item");
    assert_eq!(got, vec![vec!["A2".to_string(), "3".to_string()]]);
    assert!(
        reject_message(&d, "A1").contains("has the factor -10"),
        "{}",
        reject_message(&d, "A1")
    );
}
