//! `opsync schema [ENTITY]`: the canonical model as a table or JSON Schema.

use serde_json::json;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::UsageError;
use crate::cli::SchemaFormat;
use crate::config::closest;
use crate::model::{ENTITIES, Entity, FieldType, schema};

/// Characters of the description column before it wraps.
const DESCRIPTION_WIDTH: usize = 60;

pub fn run(entity: Option<&str>, format: SchemaFormat) -> anyhow::Result<u8> {
    let entities: Vec<&Entity> = match entity {
        Some(name) => match schema::entity(name) {
            Some(e) => vec![e],
            None => {
                let hint = closest(name, schema::entity_names())
                    .map(|c| format!("; did you mean {c:?}?"))
                    .unwrap_or_default();
                return Err(UsageError(format!("unknown entity {name:?}{hint} (`opsync schema` lists them)")).into());
            }
        },
        None => ENTITIES.iter().collect(),
    };
    match format {
        SchemaFormat::Table => {
            println!("canonical model v{}", schema::MODEL_VERSION);
            let mut rows = Vec::new();
            for e in &entities {
                for f in e.fields {
                    rows.push(vec![
                        e.name.to_string(),
                        f.name.to_string(),
                        f.ty.name(),
                        if f.key {
                            "key".into()
                        } else if f.required {
                            "required".into()
                        } else {
                            String::new()
                        },
                        wrap(f.doc, DESCRIPTION_WIDTH),
                    ]);
                }
            }
            let mut b = Builder::default();
            b.push_record(["entity", "field", "type", "", "description"]);
            for r in rows {
                b.push_record(r);
            }
            println!("{}", b.build().with(Style::sharp()));
        }
        SchemaFormat::JsonSchema => {
            let docs: Vec<serde_json::Value> = entities.iter().map(|e| json_schema(e)).collect();
            let doc = if docs.len() == 1 {
                docs.into_iter().next().unwrap_or_default()
            } else {
                json!(docs)
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(0)
}

/// Break text into lines of at most `width` characters at spaces. Some fields explain their rules
/// at length (a lot that is part of a key), and the table must still fit a terminal; tabled's own
/// wrapping starts continued lines with the space it broke at.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if line > 0 && line + 1 + n > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out
}

/// JSON Schema (draft 2020-12) of one entity's canonical records as opsync writes them.
pub fn json_schema(e: &Entity) -> serde_json::Value {
    let props: serde_json::Map<String, serde_json::Value> = e
        .fields
        .iter()
        .map(|f| {
            let mut p = match f.ty {
                FieldType::String => json!({"type": "string"}),
                FieldType::Decimal { scale } => json!({
                    "type": "string", "pattern": format!("^-?[0-9]+(\\.[0-9]{{1,{scale}}})?$"),
                    "description": format!("decimal with up to {scale} places, as a string so nothing is rounded")
                }),
                FieldType::Integer => json!({"type": "integer"}),
                FieldType::Date => json!({"type": "string", "format": "date"}),
                FieldType::Timestamp => json!({"type": "string", "format": "date-time"}),
                FieldType::Boolean => json!({"type": "boolean"}),
                FieldType::Code(values) => json!({"type": "string", "enum": values}),
            };
            if let Some(m) = p.as_object_mut() {
                if !m.contains_key("description") {
                    m.insert("description".into(), f.doc.into());
                }
                if !f.required {
                    let t = m.get("type").cloned().unwrap_or_default();
                    m.insert("type".into(), json!([t, "null"]));
                }
            }
            (f.name.to_string(), p)
        })
        .collect();
    let required: Vec<&str> = e.fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("opsync:canonical:{}:{}", schema::MODEL_VERSION, e.name),
        "title": e.name,
        "description": e.doc,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
        "x-natural-key": e.key_fields().map(|(_, f)| f.name).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_breaks_at_spaces_and_never_starts_a_line_with_one() {
        assert_eq!(wrap("a bb ccc dddd", 6), "a bb\nccc\ndddd");
        assert_eq!(wrap("short", 60), "short");
        assert_eq!(wrap("averyveryverylongword x", 4), "averyveryverylongword\nx");
    }
}
