//! Markdown from the JSON Schema that schemars derives from the configuration structs: tables of
//! keys with their types, defaults and doc comments, and the variants of tagged enums.

use serde_json::Value;

/// A schema with its root, so `$ref`s can be followed.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    root: &'a Value,
}

/// One variant of a tagged enum (`kind = "csv"`, `step = "trim"`, `rule = "range"`).
pub struct Variant<'a> {
    /// The tag's value.
    pub tag: String,
    /// The variant's doc comment (or its struct's).
    pub description: String,
    /// The variant's own object schema.
    pub schema: &'a Value,
}

impl<'a> Schema<'a> {
    pub fn new(root: &'a Value) -> Self {
        Schema { root }
    }

    /// The root object.
    pub fn root(&self) -> &'a Value {
        self.root
    }

    /// A definition by its Rust type name; `Value::Null` when absent.
    pub fn def(&self, name: &str) -> &'a Value {
        self.root.pointer(&format!("/$defs/{name}")).unwrap_or(&Value::Null)
    }

    /// Follow a `$ref`, if `v` is one.
    fn resolve(&self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p))
                .unwrap_or(&Value::Null),
            None => v,
        }
    }

    /// The definitions of structs that the keys of `object` hold (directly, in a list or as an
    /// option) among `names`, in key order: tables described in a table of their own.
    pub fn nested(&self, object: &'a Value, names: &[&str]) -> Vec<(String, &'a Value)> {
        let Some(props) = object.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        props
            .iter()
            .filter_map(|(key, prop)| {
                let mut holders = [Some(prop), prop.get("items")]
                    .into_iter()
                    .flatten()
                    .chain(prop.get("anyOf").and_then(Value::as_array).into_iter().flatten());
                let name = holders.find_map(|v| v.get("$ref")?.as_str())?.rsplit('/').next()?;
                names.contains(&name).then(|| (key.clone(), self.def(name)))
            })
            .collect()
    }

    /// The variants of an internally tagged enum (`#[serde(tag = "...")]`), in declaration order.
    pub fn variants(&self, def: &str, tag: &str) -> Vec<Variant<'a>> {
        let one_of = self.def(def).get("oneOf").and_then(Value::as_array);
        one_of
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let value = v.pointer(&format!("/properties/{tag}/const"))?.as_str()?;
                Some(Variant {
                    tag: value.to_string(),
                    description: description(v),
                    schema: v,
                })
            })
            .collect()
    }

    /// A Markdown table of an object's keys: name, type, required or default, description.
    /// `skip` leaves out keys described elsewhere (a variant's tag).
    pub fn keys_table(&self, object: &'a Value, skip: &[&str]) -> String {
        let Some(props) = object.get("properties").and_then(Value::as_object) else {
            return String::new();
        };
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out = String::from("| key | type | | description |\n|---|---|---|---|\n");
        let mut rows = 0;
        for (key, prop) in props {
            if skip.contains(&key.as_str()) {
                continue;
            }
            let presence = if required.contains(&key.as_str()) {
                "required".to_string()
            } else {
                prop.get("default")
                    .and_then(|d| toml_literal(d, prop))
                    .map(|d| format!("default `{d}`"))
                    .unwrap_or_else(|| "optional".into())
            };
            let mut parts = vec![description(prop)];
            if let Some(values) = self.enum_values(prop) {
                parts.extend(
                    values
                        .into_iter()
                        .filter(|(_, doc)| !doc.is_empty())
                        .map(|(value, doc)| format!("`\"{value}\"`: {doc}")),
                );
            }
            parts.retain(|p| !p.is_empty());
            let text = parts.join("\n\n");
            out.push_str(&format!(
                "| `{key}` | {} | {presence} | {} |\n",
                cell(&self.type_label(prop)),
                cell(&text)
            ));
            rows += 1;
        }
        if rows == 0 { String::new() } else { out }
    }

    /// The values of a string enum (each with its doc), when `v` is one (directly, by `$ref`, or
    /// as the non-null branch of an `Option`).
    fn enum_values(&self, v: &'a Value) -> Option<Vec<(String, String)>> {
        let v = self.non_null(v);
        let list = v.get("oneOf").or_else(|| v.get("enum"))?.as_array()?;
        list.iter()
            .map(|x| match x {
                Value::String(s) => Some((s.clone(), String::new())),
                other => Some((other.get("const")?.as_str()?.to_string(), description(other))),
            })
            .collect()
    }

    /// `v` resolved, and the non-null branch of an `anyOf [T, null]`.
    fn non_null(&self, v: &'a Value) -> &'a Value {
        let v = self.resolve(v);
        if let Some(branches) = v.get("anyOf").and_then(Value::as_array) {
            let rest: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if let [only] = rest.as_slice() {
                return self.resolve(only);
            }
        }
        v
    }

    /// A short name for a value's type as written in TOML.
    pub fn type_label(&self, v: &'a Value) -> String {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            if let Some(values) = self.enum_values(v) {
                return one_of(&values);
            }
            let def = self.resolve(v);
            if def.get("properties").is_none() && def.get("oneOf").is_none() {
                return self.type_label(def);
            }
            return table_label(name);
        }
        if let Some(branches) = v.get("anyOf").and_then(Value::as_array) {
            let rest: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if let [only] = rest.as_slice() {
                return self.type_label(only);
            }
        }
        let v = self.non_null(v);
        if let Some(values) = self.enum_values(v) {
            return one_of(&values);
        }
        if let Some(branches) = v.get("anyOf").and_then(Value::as_array) {
            let labels: Vec<String> = branches.iter().map(|b| self.type_label(b)).collect();
            return labels.join(" or ");
        }
        let types: Vec<&str> = match v.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
            _ => vec![],
        };
        match types.as_slice() {
            [] => "any value".into(),
            ["string"] if v.get("maxLength") == Some(&Value::from(1)) => "one character".into(),
            ["string", "number"] | ["number", "string"] | ["number"] => "number".into(),
            ["string"] => "string".into(),
            ["integer"] if v.get("minimum") == Some(&Value::from(0)) => "integer ≥ 0".into(),
            ["integer"] => "integer".into(),
            ["boolean"] => "boolean".into(),
            ["array"] => match v.get("items") {
                Some(items) => format!("list of {}", plural(&self.type_label(items))),
                None => "list".into(),
            },
            ["object"] => match v.get("additionalProperties") {
                Some(Value::Bool(true)) | None => "table".into(),
                Some(Value::Bool(false)) => "table".into(),
                Some(values) => format!("table of {} by name", plural(&self.type_label(values))),
            },
            other => other.join(" or "),
        }
    }
}

fn is_null(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

/// What a struct is called in the reference when a key holds one.
fn table_label(type_name: &str) -> String {
    match type_name {
        "FieldMapping" => "field table",
        "Step" => "step",
        "Validation" => "rule",
        "Filter" => "filter",
        "LookupConfig" => "lookup",
        "EntityMapping" => "entity table",
        "TestCase" => "test case",
        "RecordRule" => "record rule",
        "ExpectedReject" => "expected reject",
        "FixedWidthColumn" => "`{ name, start, length }`",
        "Rounding" => "`{ scale, mode }`",
        _ => "table",
    }
    .to_string()
}

fn plural(label: &str) -> String {
    match label {
        "string" | "step" | "rule" | "filter" | "lookup" | "test case" | "record rule" | "expected reject"
        | "field table" | "entity table" => format!("{label}s"),
        "table" => "tables".into(),
        other => other.to_string(),
    }
}

fn one_of(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(v, _)| format!("`\"{v}\"`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A default value as it would be written in TOML; `None` for no default worth showing.
fn toml_literal(d: &Value, prop: &Value) -> Option<String> {
    let numeric = match prop.get("type") {
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "number"),
        Some(t) => t == "number",
        None => false,
    };
    match d {
        Value::Null => None,
        Value::String(s) if numeric => Some(s.clone()),
        // TOML has no `\"` in a literal string: a quote is written between single quotes.
        Value::String(s) if s.contains('"') => Some(format!("'{s}'")),
        Value::String(s) => Some(format!("{s:?}")),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        other => Some(other.to_string()),
    }
}

/// A doc comment as Markdown: lines of one paragraph joined, paragraphs kept.
pub fn description(v: &Value) -> String {
    let text = v.get("description").and_then(Value::as_str).unwrap_or_default();
    text.split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Text made safe for one Markdown table cell.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace("\n\n", "<br><br>").replace('\n', " ")
}
