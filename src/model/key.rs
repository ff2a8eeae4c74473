//! Natural keys as one string: how a record's key is written in the ledger, in rejects, in
//! `opsync explain ENTITY KEY`, and read back.
//!
//! A single-field key is its value, unchanged. A composite key joins its parts with `|`, each part
//! escaped (`\` as `\\`, `|` as `\|`), so that `("A|B", "C")` and `("A", "B|C")` stay two keys
//! (`A\|B|C` and `A|B\|C`) and every key string splits back into exactly its parts.

use super::schema::Entity;

/// Separator of the parts of a composite key.
pub const SEPARATOR: char = '|';

/// Append one part of a composite key, escaped.
fn push_escaped(out: &mut String, part: &str) {
    for c in part.chars() {
        if c == '\\' || c == SEPARATOR {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Join key parts (in the entity's key-field order) into the key string; a missing part is empty.
pub fn join<'a>(entity: &Entity, parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let composite = entity.key_fields().nth(1).is_some();
    let mut key = String::new();
    for (i, part) in parts.into_iter().enumerate() {
        let part = part.unwrap_or_default();
        if !composite {
            key.push_str(part);
            continue;
        }
        if i > 0 {
            key.push(SEPARATOR);
        }
        push_escaped(&mut key, part);
    }
    key
}

/// Split a key string back into its parts; an error says how the string is malformed.
pub fn split(entity: &Entity, key: &str) -> Result<Vec<String>, String> {
    let n = entity.key_fields().count();
    if n == 1 {
        return Ok(vec![key.to_string()]);
    }
    let mut parts = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | SEPARATOR)) => parts.last_mut().map_or((), |p| p.push(e)),
                _ => return Err(format!("key {key:?}: '\\' must be followed by '\\' or '|'")),
            },
            SEPARATOR => parts.push(String::new()),
            c => parts.last_mut().map_or((), |p| p.push(c)),
        }
    }
    if parts.len() != n {
        return Err(format!(
            "key {key:?} has {} part(s), {} has {n} ({}); join them with '|' and write a '|' inside a part as '\\|'",
            parts.len(),
            entity.name,
            entity.key_label()
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema;

    #[test]
    fn composite_keys_with_separators_stay_distinct_and_split_back() {
        let e = schema::entity("purchase_order_line").expect("entity");
        let a = join(e, [Some("A|B"), Some("C")]);
        let b = join(e, [Some("A"), Some("B|C")]);
        assert_ne!(a, b);
        assert_eq!(a, "A\\|B|C");
        assert_eq!(split(e, &a).unwrap(), ["A|B", "C"]);
        assert_eq!(split(e, &b).unwrap(), ["A", "B|C"]);
        let slash = join(e, [Some("x\\"), Some("|")]);
        assert_eq!(split(e, &slash).unwrap(), ["x\\", "|"]);
        assert!(split(e, "only-one").is_err());
        assert!(split(e, "a|b|c").is_err());
        assert!(split(e, "a\\x|b").is_err());
    }

    #[test]
    fn single_keys_are_their_value() {
        let e = schema::entity("item").expect("entity");
        assert_eq!(join(e, [Some("A|B\\")]), "A|B\\");
        assert_eq!(split(e, "A|B\\").unwrap(), ["A|B\\"]);
    }
}
