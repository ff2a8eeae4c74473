use std::io::Write;

use serde_json::json;

use super::*;

fn config(records: Option<&str>) -> JsonSource {
    JsonSource {
        path: String::new(),
        records: records.map(String::from),
    }
}

fn file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    f
}

fn document(content: &[u8], records: Option<&str>) -> Result<JsonDocument, SourceError> {
    let f = file(content);
    JsonDocument::open(&config(records), f.path(), Arc::from("doc.json"))
}

fn lines(content: &[u8], records: Option<&str>) -> JsonLines {
    let f = file(content);
    JsonLines::open(&config(records), f.path(), Arc::from("doc.jsonl")).unwrap()
}

fn all(source: &mut dyn Source) -> Result<Vec<RawRecord>, SourceError> {
    let mut out = Vec::new();
    while let Some(r) = source.next_record()? {
        out.push(r);
    }
    Ok(out)
}

fn json_of(r: &RawRecord) -> &Value {
    match &r.values {
        RawValues::Json(v) => v,
        RawValues::Row(_) => panic!("not JSON"),
    }
}

const OPENBOXES: &[u8] = br#"{
  "data": [
    {"id": "1", "name": "Boston Headquarters", "locationType": {"locationTypeCode": "DEPOT"}},
    {"id": "2", "name": "Miami Warehouse", "locationType": {"locationTypeCode": "WAREHOUSE"}}
  ]
}"#;

#[test]
fn records_under_data_by_jsonpath() {
    let mut source = document(OPENBOXES, Some("$.data[*]")).unwrap();
    assert!(source.columns().is_empty());
    let records = all(&mut source).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(json_of(&records[1])["name"], "Miami Warehouse");
    let lineage = &records[1].lineage;
    assert_eq!(
        (&*lineage.source, lineage.locator.as_deref(), lineage.row, lineage.line),
        ("doc.json", Some("$.data[*]"), 2, 2)
    );
}

#[test]
fn top_level_array_by_default_and_bom_stripped() {
    let mut content = b"\xEF\xBB\xBF".to_vec();
    content.extend_from_slice(br#"[{"id": 1}, {"id": 2}, {"id": 3}]"#);
    let records = all(&mut document(&content, None).unwrap()).unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| json_of(r)["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(records[0].lineage.locator.as_deref(), Some("$[*]"));
}

#[test]
fn filter_and_descendant_selectors() {
    let records =
        all(&mut document(OPENBOXES, Some("$.data[?@.locationType.locationTypeCode == 'DEPOT']")).unwrap()).unwrap();
    assert_eq!(records.len(), 1);
    let codes = all(&mut document(OPENBOXES, Some("$..locationTypeCode")).unwrap()).unwrap();
    assert_eq!(
        codes.iter().map(json_of).collect::<Vec<_>>(),
        [&json!("DEPOT"), &json!("WAREHOUSE")]
    );
}

#[test]
fn an_object_without_records_says_which_path_to_set() {
    let e = document(OPENBOXES, None).err().unwrap().to_string();
    assert!(
        e.contains(r#"under "data"; set records = "$.data[*]" in [source]"#),
        "{e}"
    );
    let e = document(br#"{"id": "1", "name": "New product"}"#, None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(r#"set records = "$""#), "{e}");
    let one = all(&mut document(br#"{"id": "1"}"#, Some("$")).unwrap()).unwrap();
    assert_eq!(json_of(&one[0]), &json!({"id": "1"}));
    let e = document(br#"{"product.id": [1]}"#, None).err().unwrap().to_string();
    assert!(e.contains(r#"records = "$['product.id'][*]""#), "{e}");
}

#[test]
fn invalid_json_names_line_and_column() {
    let e = document(b"[\n  {\"id\": 1},\n  {\"id\": 2,}\n]", None).err().unwrap();
    assert!(matches!(e, SourceError::Json { .. }));
    assert!(
        e.to_string().starts_with("doc.json: line 3, column 12: invalid JSON:"),
        "{e}"
    );
}

#[test]
fn html_and_empty_files_are_explained() {
    let e = document(b"<html><head><title>Login</title></head></html>", None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expected JSON, found text starting with `<html`"), "{e}");
    let e = document(b"  \n", None).err().unwrap().to_string();
    assert!(e.ends_with("the file is empty: expected a JSON document"), "{e}");
}

#[test]
fn bad_jsonpath_is_a_config_error() {
    let e = document(OPENBOXES, Some("$.data[")).err().unwrap();
    assert!(matches!(e, SourceError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("not a valid JSONPath"));
    let f = file(b"");
    assert!(matches!(
        JsonLines::open(&config(Some("data")), f.path(), Arc::from("x")),
        Err(SourceError::Config(_))
    ));
}

#[test]
fn jsonl_whole_lines_with_line_numbers() {
    let mut source = lines(b"\xEF\xBB\xBF{\"id\": 1}\n\n{\"id\": 2}\r\n{\"id\": 3}", None);
    let records = all(&mut source).unwrap();
    let seen: Vec<(i64, u64, u64)> = records
        .iter()
        .map(|r| (json_of(r)["id"].as_i64().unwrap(), r.lineage.row, r.lineage.line))
        .collect();
    assert_eq!(seen, [(1, 1, 1), (2, 2, 3), (3, 3, 4)]);
    assert_eq!(records[0].lineage.locator.as_deref(), Some("$"));
}

#[test]
fn jsonl_records_path_applies_to_each_line() {
    let mut source = lines(
        b"{\"data\": [{\"id\": 1}, {\"id\": 2}]}\n{\"data\": []}\n{\"data\": [{\"id\": 3}]}\n",
        Some("$.data[*]"),
    );
    let records = all(&mut source).unwrap();
    let seen: Vec<(u64, u64)> = records.iter().map(|r| (r.lineage.row, r.lineage.line)).collect();
    assert_eq!(seen, [(1, 1), (2, 1), (3, 3)]);
    assert_eq!(json_of(&records[2]), &json!({"id": 3}));
}

#[test]
fn jsonl_bad_line_reports_its_number() {
    let mut source = lines(b"{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3\n{\"id\": 4}\n", None);
    assert!(source.next_record().unwrap().is_some());
    assert!(source.next_record().unwrap().is_some());
    let e = source.next_record().unwrap_err();
    assert!(matches!(e, SourceError::Json { .. }));
    assert!(e.to_string().starts_with("doc.jsonl: line 3, column"), "{e}");
    let e = all(&mut lines(b"{\"id\": 1}\n<!DOCTYPE html>\n", None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2, column") && e.contains("found text starting with `<!DOCTYPE`"),
        "{e}"
    );
}

#[test]
fn jsonl_counts_bytes() {
    let content = b"{\"id\": 1}\n{\"id\": 2}\n";
    let mut source = lines(content, None);
    all(&mut source).unwrap();
    assert_eq!(source.bytes_read(), content.len() as u64);
}

/// The OpenBoxes API examples, when the shared sample folder is present: every file either reads or
/// fails with a `Json` error that says why (some are error bodies or a single object).
#[test]
fn real_openboxes_api_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata/openboxes/api-json");
    if !dir.is_dir() {
        return;
    }
    let read = |file: &str, records: Option<&str>| {
        let path = dir.join(file);
        all(&mut JsonDocument::open(&config(records), &path, Arc::from(file)).unwrap()).unwrap()
    };
    let locations = read("core_location_1.json", Some("$.data[*]"));
    assert!(locations.len() > 1);
    assert_eq!(json_of(&locations[0])["name"], "Boston Headquarters");
    assert_eq!(read("pagination_1.json", None).len(), 1);
    assert_eq!(read("products_product_4.json", Some("$")).len(), 1);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        for records in [None, Some("$.data[*]")] {
            match JsonDocument::open(&config(records), &path, Arc::from("x")) {
                Ok(mut source) => {
                    all(&mut source).unwrap();
                }
                Err(e) => assert!(matches!(e, SourceError::Json { .. }), "{}: {e}", path.display()),
            }
        }
    }
}
