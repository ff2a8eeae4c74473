//! Crosswalk tables: CSV files translating one system's codes into the canonical ones.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

/// Why a crosswalk table cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("cannot read lookup file {}: {source}", path.display())]
    Read { path: PathBuf, source: csv::Error },
    #[error("lookup file {} has no column {column:?}; columns are: {columns}", path.display())]
    NoColumn {
        path: PathBuf,
        column: String,
        columns: String,
    },
    /// The same key with two values: which one a row gets would be a guess.
    #[error(
        "lookup file {}: key {key:?} is on line {first_line} with value {first_value:?} and on line {line} with value {value:?}",
        path.display()
    )]
    DuplicateKey {
        path: PathBuf,
        key: String,
        first_line: u64,
        first_value: String,
        line: u64,
        value: String,
    },
}

/// A loaded crosswalk: source code -> canonical value.
#[derive(Debug)]
pub struct Lookup {
    pub name: String,
    map: HashMap<String, String>,
    case_insensitive: bool,
}

impl Lookup {
    /// Read `path` (UTF-8 CSV with a header) taking `key` and `value` columns. Every key given two
    /// different values is an error (with `case_insensitive`, keys are compared trimmed and
    /// lowercased); the same key twice with the same value is fine.
    pub fn load(
        name: &str,
        path: &Path,
        key: &str,
        value: &str,
        case_insensitive: bool,
    ) -> Result<Self, Vec<LookupError>> {
        let read = |source| {
            vec![LookupError::Read {
                path: path.to_path_buf(),
                source,
            }]
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(read)?;
        let headers = reader.headers().map_err(read)?.clone();
        let position = |col: &str| {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == col)
                .ok_or_else(|| LookupError::NoColumn {
                    path: path.to_path_buf(),
                    column: col.to_string(),
                    columns: headers.iter().collect::<Vec<_>>().join(", "),
                })
        };
        let (ki, vi) = match (position(key), position(value)) {
            (Ok(k), Ok(v)) => (k, v),
            (k, v) => return Err([k.err(), v.err()].into_iter().flatten().collect()),
        };
        // Key -> (value, line), the line kept to name both places of a conflict.
        let mut map: HashMap<String, (String, u64)> = HashMap::new();
        let mut problems = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(read)?;
            let line = rec.position().map_or(0, |p| p.line());
            let k = rec.get(ki).unwrap_or_default();
            let k = if case_insensitive {
                k.trim().to_lowercase()
            } else {
                k.to_string()
            };
            let v = rec.get(vi).unwrap_or_default();
            match map.entry(k) {
                Entry::Vacant(e) => {
                    e.insert((v.to_string(), line));
                }
                Entry::Occupied(e) if e.get().0 != v => problems.push(LookupError::DuplicateKey {
                    path: path.to_path_buf(),
                    key: rec.get(ki).unwrap_or_default().to_string(),
                    first_line: e.get().1,
                    first_value: e.get().0.clone(),
                    line,
                    value: v.to_string(),
                }),
                Entry::Occupied(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Lookup {
            name: name.to_string(),
            map: map.into_iter().map(|(k, (v, _))| (k, v)).collect(),
            case_insensitive,
        })
    }

    /// The canonical value of a code, if the table has it.
    pub fn get(&self, code: &str) -> Option<&str> {
        if self.case_insensitive {
            self.map.get(&code.trim().to_lowercase()).map(String::as_str)
        } else {
            self.map.get(code).map(String::as_str)
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str, case_insensitive: bool) -> Result<Lookup, Vec<LookupError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uom.csv");
        std::fs::write(&path, csv).unwrap();
        Lookup::load("uom", &path, "code", "value", case_insensitive)
    }

    #[test]
    fn a_key_with_two_values_names_both_lines_and_values() {
        let errors = table("code,value\nBX,10\nCS,12\nBX,12\n", false).unwrap_err();
        assert_eq!(errors.len(), 1);
        let msg = errors[0].to_string();
        assert!(
            msg.ends_with("key \"BX\" is on line 2 with value \"10\" and on line 4 with value \"12\""),
            "{msg}"
        );
    }

    #[test]
    fn the_same_key_with_the_same_value_is_fine() {
        let t = table("code,value\nBX,10\nBX,10\n", false).unwrap();
        assert_eq!(t.get("BX"), Some("10"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn keys_equal_ignoring_case_are_duplicates_when_the_table_ignores_case() {
        assert!(table("code,value\nbx,10\n BX ,12\n", false).is_ok());
        let errors = table("code,value\nbx,10\n BX ,12\n", true).unwrap_err();
        assert!(errors[0].to_string().contains("line 2"), "{}", errors[0]);
    }
}
