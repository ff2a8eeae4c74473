//! Column names as every source reports them: unique, never blank.
//!
//! A header may hold one name twice (`Category`, `Category`: a supplier's category and an item's)
//! or leave a name blank. Every flat source reports the same names, so that `from`, `extract`,
//! `inspect`, `preview` and rejects all agree: the first column keeps the name, the second is
//! `Category (2)`, the third `Category (3)` (skipping a suffix the header already uses), and a
//! blank name is `column_N` (N counted from 1). A mapping that reads `from = "Category"` when the
//! header holds it twice is refused (see `Mapping::bind`): the first is read with `from_index`.

use std::collections::{HashMap, HashSet};

/// A name the header holds more than once, and the columns that share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedName {
    /// The name as the header writes it.
    pub name: String,
    /// 0-based positions of the columns that carry it, in order.
    pub positions: Vec<usize>,
}

/// Unique names for a header as the file writes it (names already trimmed), and the names it
/// holds more than once.
pub fn unique_names(raw: Vec<String>) -> (Vec<String>, Vec<SharedName>) {
    let raw: Vec<String> = raw
        .into_iter()
        .enumerate()
        .map(|(i, n)| if n.is_empty() { format!("column_{}", i + 1) } else { n })
        .collect();
    // Counted and indexed by hash: a damaged file's first line can hold a hundred thousand
    // fields, and comparing each name with every other would take minutes.
    let mut count: HashMap<&str, usize> = HashMap::with_capacity(raw.len());
    for name in &raw {
        *count.entry(name.as_str()).or_default() += 1;
    }
    let mut shared: Vec<SharedName> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    for (i, name) in raw.iter().enumerate() {
        if count.get(name.as_str()).copied().unwrap_or(0) < 2 {
            continue;
        }
        match slot.get(name.as_str()) {
            Some(&k) => shared[k].positions.push(i),
            None => {
                slot.insert(name.as_str(), shared.len());
                shared.push(SharedName {
                    name: name.clone(),
                    positions: vec![i],
                });
            }
        }
    }
    if shared.is_empty() {
        return (raw, shared);
    }
    // A suffix the header already uses for a column of its own is skipped, not taken twice.
    let mut taken: HashSet<String> = raw.iter().cloned().collect();
    let mut names = raw.clone();
    for s in &shared {
        let mut n = 1;
        for &pos in &s.positions[1..] {
            let name = loop {
                n += 1;
                let candidate = format!("{} ({n})", s.name);
                if !taken.contains(&candidate) {
                    break candidate;
                }
            };
            taken.insert(name.clone());
            names[pos] = name;
        }
    }
    (names, shared)
}

/// The shared names behind a header that was already made unique (the `values` of raw-record
/// JSON Lines written by `opsync extract`): `Category` and `Category (2)` both present are taken
/// to be one name held twice. A file whose own header had both names is read the same way, which
/// errs on the side of refusing `from = "Category"` rather than reading the wrong column.
pub fn shared_by_suffix(columns: &[String]) -> Vec<SharedName> {
    let mut shared: Vec<SharedName> = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let Some(base) = suffix_base(column) else {
            continue;
        };
        let Some(first) = columns.iter().position(|c| c == base) else {
            continue;
        };
        match shared.iter_mut().find(|s| s.name == base) {
            Some(s) => s.positions.push(i),
            None => shared.push(SharedName {
                name: base.to_string(),
                positions: vec![first, i],
            }),
        }
    }
    for s in &mut shared {
        s.positions.sort_unstable();
    }
    shared
}

/// `Category` for `Category (2)` (any number from 2 up).
fn suffix_base(name: &str) -> Option<&str> {
    let open = name.strip_suffix(')')?;
    let (base, digits) = open.rsplit_once(" (")?;
    let n: u64 = digits.parse().ok()?;
    (n >= 2 && !digits.starts_with('0') && !base.is_empty()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &[&str]) -> (Vec<String>, Vec<SharedName>) {
        unique_names(raw.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn duplicates_are_numbered_and_blanks_named_by_position() {
        let (n, s) = names(&["Category", "Name", "Category", "", "Category"]);
        assert_eq!(n, ["Category", "Name", "Category (2)", "column_4", "Category (3)"]);
        assert_eq!(
            s,
            [SharedName {
                name: "Category".into(),
                positions: vec![0, 2, 4]
            }]
        );
    }

    #[test]
    fn a_suffix_the_header_uses_is_skipped() {
        let (n, _) = names(&["Qty", "Qty (2)", "Qty"]);
        assert_eq!(n, ["Qty", "Qty (2)", "Qty (3)"]);
        let (n, s) = names(&["", "column_1"]);
        assert_eq!(n, ["column_1", "column_1 (2)"]);
        assert_eq!(s[0].positions, [0, 1]);
    }

    #[test]
    fn unique_headers_are_untouched() {
        assert_eq!(names(&["a", "b"]), (vec!["a".into(), "b".into()], vec![]));
    }

    #[test]
    fn suffixes_reveal_shared_names() {
        let cols: Vec<String> = ["Qty", "Name", "Qty (2)", "Qty (3)", "Other (2)", "Name (01)"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            shared_by_suffix(&cols),
            [SharedName {
                name: "Qty".into(),
                positions: vec![0, 2, 3]
            }]
        );
    }
}
