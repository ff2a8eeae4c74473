//! The engine's results on small sides, one per kind and per way a key can repeat.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::side::{Opened, Record};
use super::*;
use crate::model::schema::entity;

fn item() -> &'static Entity {
    entity("item").unwrap()
}

/// An item record: key, description, unit cost (the other fields empty).
fn rec(key: &str, description: &str, cost: &str) -> Record {
    let e = item();
    let mut values = vec![Value::Null; e.fields.len()];
    values[e.field_index("item_id").unwrap()] = Value::Text(key.into());
    values[e.field_index("description").unwrap()] = Value::Text(description.into());
    if !cost.is_empty() {
        values[e.field_index("unit_cost").unwrap()] = Value::Decimal(Decimal::from_str(cost).unwrap());
    }
    Record {
        key: key.into(),
        values,
        at: None,
    }
}

fn run(spec: &Spec, left: Vec<Record>, right: Vec<Record>) -> Report {
    reconcile(
        spec,
        Opened::from_records("left", left),
        Opened::from_records("right", right),
    )
    .unwrap()
}

fn kinds(r: &Report) -> Vec<(String, Kind)> {
    r.exceptions.iter().map(|e| (e.key.clone(), e.kind)).collect()
}

#[test]
fn each_key_ends_as_one_kind_and_mismatches_name_each_field_with_both_values() {
    let spec = Spec::new(item(), &[("unit_cost".into(), Rule::parse("abs=0.01").unwrap())], false).unwrap();
    let r = run(
        &spec,
        vec![
            rec("A", "Gauze", "1.00"),
            rec("B", "Tape", "2.00"),
            rec("C", "Mask", "3.00"),
            rec("L", "x", ""),
        ],
        vec![
            rec("A", "Gauze", "1.01"),
            rec("B", "TAPE", "2.50"),
            rec("C", "Mask", "3.00"),
            rec("R", "y", ""),
        ],
    );
    assert_eq!((r.count(Kind::Matched), r.count(Kind::Mismatched)), (2, 1));
    assert_eq!((r.count(Kind::OnlyLeft), r.count(Kind::OnlyRight)), (1, 1));
    assert_eq!(
        kinds(&r),
        vec![
            ("B".into(), Kind::Mismatched),
            ("L".into(), Kind::OnlyLeft),
            ("R".into(), Kind::OnlyRight)
        ]
    );
    let fields: Vec<_> = r.exceptions[0]
        .fields
        .iter()
        .map(|f| (f.field, f.left.clone().unwrap(), f.right.clone().unwrap()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("description", "Tape".into(), "TAPE".into()),
            ("unit_cost", "2".into(), "2.5".into())
        ]
    );
    assert_eq!((r.left_records, r.right_records), (4, 4));
}

#[test]
fn a_key_twice_on_either_side_is_a_duplicate_and_never_compared() {
    let spec = Spec::new(item(), &[], false).unwrap();
    // A: twice on the left after it matched; B: twice on the right; C: on both sides twice; D:
    // twice on the right and absent on the left.
    let r = run(
        &spec,
        vec![
            rec("A", "a", ""),
            rec("B", "b", ""),
            rec("A", "a", ""),
            rec("C", "c", ""),
            rec("C", "c", ""),
        ],
        vec![
            rec("A", "a", ""),
            rec("B", "b", ""),
            rec("B", "b", ""),
            rec("C", "c", ""),
            rec("C", "c", ""),
            rec("D", "d", ""),
            rec("D", "d", ""),
        ],
    );
    assert_eq!(r.count(Kind::Matched), 0, "{:?}", r.counts);
    assert_eq!(r.count(Kind::DuplicateKey), 4);
    let rows: Vec<_> = r.exceptions.iter().map(|e| (e.key.as_str(), e.rows)).collect();
    assert_eq!(
        rows,
        vec![
            ("A", Some((2, 1))),
            ("B", Some((1, 2))),
            ("C", Some((2, 2))),
            ("D", Some((0, 2)))
        ]
    );
    assert_eq!(r.exception_count(), 4);
}

#[test]
fn only_the_named_fields_compare_when_asked() {
    let named = [("unit_cost".to_string(), Rule::Exact)];
    let spec = Spec::new(item(), &named, true).unwrap();
    let r = run(&spec, vec![rec("A", "Gauze", "1")], vec![rec("A", "GAUZE", "1.00")]);
    assert_eq!(r.count(Kind::Matched), 1);
}

#[test]
fn a_spec_naming_a_missing_field_a_key_or_a_rule_of_the_wrong_type_is_refused() {
    let bad =
        |name: &str, rule: &str| Spec::new(item(), &[(name.into(), Rule::parse(rule).unwrap())], false).unwrap_err();
    assert!(bad("cost", "exact").to_string().contains("no field \"cost\""));
    assert!(bad("item_id", "trim").to_string().contains("part of item's key"));
    assert!(bad("description", "abs=1").to_string().contains("decimal and integer"));
}
