use super::*;

fn eval(src: &str) -> Result<Dynamic, String> {
    Expr::compile(&engine(), src)?.eval(vec![])
}

#[test]
fn filters_see_the_row() {
    let e = engine();
    let x = Expr::compile(&e, r#"row["Active"] == "FALSE""#).unwrap();
    let row = row_map([("Active", "FALSE")].into_iter());
    assert!(x.eval_bool(vec![("row", row)]).unwrap());
}

#[test]
fn runaway_expressions_stop() {
    let e = engine();
    assert!(Expr::compile(&e, "1 +").is_err());
    let x = Expr::compile(&e, r#""a".pad(100000000, "b")"#);
    assert!(x.is_err(), "pad is refused: it gives ()");
    let x = Expr::compile(&e, r#""a".to_chars().len() + "b".len()"#).unwrap();
    assert_eq!(x.eval(vec![]).unwrap().as_int().unwrap(), 2);
}

#[test]
fn closures_called_from_map_count_against_the_limit() {
    let s = "0".repeat(1000);
    let src = format!(r#""{s}".to_chars().map(|a| "{s}".to_chars().map(|b| "{s}".to_chars().len()).len()).len()"#);
    let err = eval(&src).unwrap_err();
    assert!(err.contains("stopped after 100000 operations"), "{err}");
    // The count starts again for the next evaluation.
    assert_eq!(
        eval(r#""ab".to_chars().map(|c| c).len()"#).unwrap().as_int().unwrap(),
        2
    );
}

#[test]
fn in_place_methods_give_unit_and_are_refused() {
    // Each listed method really gives () in Rhai: evaluated here without the compile check.
    let e = engine();
    let receivers = [r#""  ab ""#, "[3, 1, 2]"];
    let args = |name: &str| match name {
        "replace" => r#"("a", "b")"#,
        "pad" => r#"(5, "x")"#,
        "truncate" | "crop" => "(1)",
        "push" | "append" => r#"("x")"#,
        _ => "()",
    };
    for (name, _) in IN_PLACE {
        let mut gave_unit = false;
        for r in receivers {
            let src = format!("{r}.{name}{}", args(name));
            if let Ok(v) = e.eval_expression::<Dynamic>(&src) {
                assert!(v.is_unit(), "{src} gave {v}");
                gave_unit = true;
            }
        }
        assert!(gave_unit, "{name} runs on neither receiver");
        let err = Expr::compile(&e, &format!(r#"row["a"].{name}{} == """#, args(name))).unwrap_err();
        assert!(err.contains(&format!("{name}() changes its value in place")), "{err}");
    }
    let err = Expr::compile(&e, r#"trim(row["a"]) == """#).unwrap_err();
    assert!(err.contains("use trimmed()"), "{err}");
}

#[test]
fn trimmed_gives_the_trimmed_text_and_blank_for_unit() {
    let e = engine();
    let x = Expr::compile(
        &e,
        r#"row["a"].trimmed() == "" && row["b"].trimmed() == "x" && row["c"].trimmed() == """#,
    )
    .unwrap();
    let row = row_map([("a", "   "), ("b", " x ")].into_iter());
    assert!(x.eval_bool(vec![("row", row)]).unwrap());
}

#[test]
fn expressions_see_the_record_place_and_name_the_columns_they_read() {
    let e = engine();
    set_record(&Lineage {
        source: "s.csv".into(),
        locator: None,
        row: 7,
        line: 9,
    });
    let x = Expr::compile(&e, r#"row_number * 100 + line_number"#).unwrap();
    assert_eq!(x.eval(vec![]).unwrap().as_int().unwrap(), 709);
    let x = Expr::compile(
        &e,
        r#"row["A b"].len() + row.c.len() + (row["d"] ?? "").len() + row[value].len()"#,
    )
    .unwrap();
    assert_eq!(x.columns, ["A b", "c", "d"]);
}

#[test]
fn print_and_debug_write_nothing() {
    // Nothing to capture here: stdout belongs to the test harness. What matters is that they
    // run without error and give ().
    assert!(eval(r#"print("x")"#).unwrap().is_unit());
    assert!(eval(r#"debug("x")"#).unwrap().is_unit());
}
