//! Crosswalk tables: CSV files translating one system's codes into the canonical ones.

use std::collections::HashMap;
use std::path::Path;

/// A loaded crosswalk: source code -> canonical value.
#[derive(Debug)]
pub struct Lookup {
    pub name: String,
    map: HashMap<String, String>,
    case_insensitive: bool,
}

impl Lookup {
    /// Read `path` (UTF-8 CSV with a header) taking `key` and `value` columns.
    pub fn load(name: &str, path: &Path, key: &str, value: &str, case_insensitive: bool) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| format!("cannot read lookup file {}: {e}", path.display()))?;
        let headers = reader
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .clone();
        let position = |col: &str| {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == col)
                .ok_or_else(|| {
                    format!(
                        "lookup file {} has no column {col:?}; columns are: {}",
                        path.display(),
                        headers.iter().collect::<Vec<_>>().join(", ")
                    )
                })
        };
        let (ki, vi) = (position(key)?, position(value)?);
        let mut map = HashMap::new();
        for (n, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("{}: row {}: {e}", path.display(), n + 2))?;
            let k = rec.get(ki).unwrap_or_default();
            let k = if case_insensitive {
                k.trim().to_lowercase()
            } else {
                k.to_string()
            };
            map.insert(k, rec.get(vi).unwrap_or_default().to_string());
        }
        Ok(Lookup {
            name: name.to_string(),
            map,
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
