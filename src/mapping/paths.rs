//! The value a JSONPath gives a field: one scalar, or what the field's `multiple` says to do
//! with several. Anything else cannot be read one way only, and is a reject.

use std::borrow::Cow;

use super::Many;

/// The text a JSONPath gives a field: one scalar value, or what `multiple` says to do with
/// several. `Err((rule, message))` when it cannot be read one way only.
pub(super) fn json_slot<'d>(
    label: &str,
    nodes: &[&'d serde_json::Value],
    many: &Many,
) -> Result<Cow<'d, str>, (&'static str, String)> {
    let one = |v: &'d serde_json::Value| -> Result<Cow<'d, str>, (&'static str, String)> {
        match v {
            serde_json::Value::String(s) => Ok(Cow::Borrowed(s.as_str())),
            serde_json::Value::Null => Ok(Cow::Borrowed("")),
            serde_json::Value::Object(_) => Err((
                "type",
                format!("{label} matched an object where one value is expected: point the path at one of its members"),
            )),
            serde_json::Value::Array(_) => Err((
                "type",
                format!(
                    "{label} matched an array where one value is expected: select its items with [*] \
                     and say what to do with several (multiple = \"first\" or \"join\")"
                ),
            )),
            other => Ok(Cow::Owned(other.to_string())),
        }
    };
    match (nodes, many) {
        ([], _) => Ok(Cow::Borrowed("")),
        ([v], _) | ([v, ..], Many::First) => one(v),
        (several, Many::Reject) => Err((
            "multiple_values",
            format!(
                "{label} matched {} values where one is expected: say which with multiple = \"first\" \
                 or multiple = \"join\" (and a separator) on the field; for one record per value, \
                 select them with the source's records path (records = \"$.items[*]\")",
                several.len()
            ),
        )),
        (several, Many::Join(sep)) => {
            let mut parts = Vec::with_capacity(several.len());
            for v in several {
                let t = one(v)?;
                if !t.is_empty() {
                    parts.push(t);
                }
            }
            Ok(Cow::Owned(parts.join(sep)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: &serde_json::Value, many: Many) -> Result<String, (&'static str, String)> {
        let nodes: Vec<&serde_json::Value> = match v {
            serde_json::Value::Array(a) if a.len() != 1 => a.iter().collect(),
            other => vec![other],
        };
        json_slot("$.x", &nodes, &many).map(|c| c.into_owned())
    }

    #[test]
    fn one_value_is_itself_several_are_what_multiple_says() {
        assert_eq!(read(&json!("a"), Many::Reject).unwrap(), "a");
        assert_eq!(read(&json!(12.50), Many::Reject).unwrap(), "12.5");
        assert_eq!(read(&json!(null), Many::Reject).unwrap(), "");
        assert_eq!(read(&json!([]), Many::Reject).unwrap(), "");
        let several = json!(["a", null, "", 2, true]);
        let (rule, msg) = read(&several, Many::Reject).unwrap_err();
        assert_eq!(rule, "multiple_values");
        assert!(msg.starts_with("$.x matched 5 values"), "{msg}");
        assert_eq!(read(&several, Many::First).unwrap(), "a");
        assert_eq!(read(&several, Many::Join("|".into())).unwrap(), "a|2|true");
    }

    #[test]
    fn an_object_or_array_where_one_value_is_expected_is_refused() {
        assert_eq!(read(&json!({"a": 1}), Many::Reject).unwrap_err().0, "type");
        assert_eq!(read(&json!([[1, 2]]), Many::First).unwrap_err().0, "type");
        let nested = json!(["a", {"b": 1}]);
        assert_eq!(read(&nested, Many::Join(",".into())).unwrap_err().0, "type");
    }
}
