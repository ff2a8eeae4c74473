//! Mappings: a mapping file compiled into a plan (stage two), bound to a source's columns, and
//! applied row by row to make canonical records or rejects.
//!
//! Everything that can be checked without data is checked in [`compile`], which collects every
//! problem rather than stopping at the first: `opsync validate` shows them all at once.

pub mod convert;
pub mod expr;
pub mod lookup;
pub mod reads;
pub mod rules;
pub mod steps;

mod apply;
mod compile;
pub(crate) mod mask;
mod parents;
mod paths;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

pub use apply::{MissCounter, Outcome};
pub use compile::compile;
use expr::Expr;
pub use mask::MASK;
use rules::Rule;
use steps::CStep;

use crate::config::{ConfigError, Diagnostic, closest};
use crate::model::Entity;
use crate::source::{SharedName, Source};

/// `from = "Category"` when the header holds `Category` twice: which columns, and how to name one.
fn shared_name_problem(
    file: &std::path::Path,
    slot: &Slot,
    shared: &SharedName,
    header: &[String],
    source: &str,
) -> Diagnostic {
    let columns: Vec<String> = shared.positions.iter().map(|p| (p + 1).to_string()).collect();
    let names: Vec<String> = shared.positions.iter().map(|&p| format!("{:?}", header[p])).collect();
    let second = shared.positions.get(1).map_or_else(String::new, |&p| header[p].clone());
    Diagnostic {
        file: file.to_path_buf(),
        line: slot.line,
        column: slot.col,
        message: format!(
            "column {:?} is in the header of {source} {} times (columns {}), so from = {:?} could mean any of them",
            shared.name,
            shared.positions.len(),
            columns.join(", "),
            shared.name
        ),
        hint: None,
    }
    .with_hint(format!(
        "the columns are read as {}: use from = {second:?} for the second, or from_index = {} (0-based) for the first",
        names.join(", "),
        shared.positions[0]
    ))
}

/// Where a referenced column's value comes from.
#[derive(Debug, Clone)]
pub enum ColumnRef {
    /// By header name.
    Name(String),
    /// By 0-based position.
    Index(usize),
    /// By JSONPath, for JSON sources.
    Path(String, serde_json_path::JsonPath),
}

impl ColumnRef {
    pub fn label(&self) -> String {
        match self {
            ColumnRef::Name(n) => n.clone(),
            ColumnRef::Index(i) => format!("#{i}"),
            ColumnRef::Path(p, _) => p.clone(),
        }
    }
}

/// What a JSONPath column does when it matches several values (`multiple` in mapping files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Many {
    /// Reject the record: which value was meant cannot be known.
    Reject,
    First,
    /// Join the values with this separator.
    Join(String),
}

/// A column the mapping reads, and where in the mapping file it is named.
#[derive(Debug, Clone)]
pub struct Slot {
    pub column: ColumnRef,
    pub line: usize,
    pub col: usize,
    pub many: Many,
}

/// Where a field's value starts.
#[derive(Debug, Clone)]
pub enum Input {
    Slot(usize),
    Const(String),
    Expr(Expr),
    Nothing,
}

/// One canonical field's recipe.
#[derive(Debug, Clone)]
pub struct FieldPlan {
    /// Position of the field in the entity.
    pub index: usize,
    pub input: Input,
    pub steps: Vec<CStep>,
    pub rules: Vec<Rule>,
    /// Its values are masked wherever they are shown or kept: marked `sensitive = true`, or
    /// made from a column of `sensitive_columns`.
    pub sensitive: bool,
    /// Line of the field's definition in the mapping file.
    pub line: usize,
    /// Slots the field reads (its `from` and its steps' columns).
    pub reads: Vec<usize>,
    /// Every column it reads, its expressions' included (what masking goes by).
    pub columns: reads::Reads,
}

/// A row filter.
#[derive(Debug, Clone)]
pub struct FilterPlan {
    pub skip_if: Option<Expr>,
    pub keep_if: Option<Expr>,
}

/// A cross-field rule over the finished record.
#[derive(Debug, Clone)]
pub struct RecordRulePlan {
    pub name: String,
    pub expr: Expr,
    pub message: Option<String>,
}

/// How one entity is made.
#[derive(Debug, Clone)]
pub struct EntityPlan {
    pub entity: &'static Entity,
    pub fields: Vec<FieldPlan>,
    pub filters: Vec<FilterPlan>,
    pub rules: Vec<RecordRulePlan>,
    /// The entity this one's records belong to, when the mapping makes it from the same row:
    /// a record whose parent is rejected is rejected too.
    pub parent: Option<ParentPlan>,
}

/// A dependent entity's parent in the same mapping.
#[derive(Debug, Clone)]
pub struct ParentPlan {
    /// Position of the parent in [`Mapping::entities`].
    pub entity: usize,
    /// (field of the dependent, key field of the parent) pairs that must agree.
    pub fields: Vec<(usize, usize)>,
}

/// A compiled mapping: the same for every row of a run.
#[derive(Debug)]
pub struct Mapping {
    pub path: PathBuf,
    pub hash: String,
    pub version: String,
    pub json: bool,
    pub slots: Vec<Slot>,
    pub entities: Vec<EntityPlan>,
    pub filters: Vec<FilterPlan>,
    /// Columns whose values are masked, and those that fields read them by.
    pub sensitive: reads::Sensitive,
    /// JSON sources: the values masked in a record (sensitive fields' paths and
    /// `sensitive_columns`).
    pub sensitive_paths: Vec<serde_json_path::JsonPath>,
    /// Whether any expression reads `row` (then the row is handed to expressions as a map).
    pub uses_row: bool,
    /// Columns that expressions read by name (`row["name"]`): `opsync test` gives them to a
    /// case as blank when the case does not.
    pub expr_columns: Vec<String>,
    /// Value vectors of records the loader is done with, refilled for new records.
    pub pool: std::sync::Arc<crate::model::RecordPool>,
}

/// A mapping bound to one source header: slot -> column position.
#[derive(Debug, Clone)]
pub struct Binding {
    pub header: Vec<String>,
    /// Column position of each slot; `None` reads as empty (fixture tests only).
    pub positions: Vec<Option<usize>>,
    /// Whether each header column is sensitive (masked in rejects).
    pub masked: Vec<bool>,
    /// Names the source's header holds more than once (reported as `Name (2)`, ...).
    pub shared: Vec<SharedName>,
}

impl Binding {
    /// Which header columns the mapping reads: its slots' columns, or every column when an
    /// expression or filter reads `row` (it may read any column by a name computed at run time).
    pub fn columns_read(&self, mapping: &Mapping) -> Vec<bool> {
        if mapping.uses_row {
            return vec![true; self.header.len()];
        }
        let mut read = vec![false; self.header.len()];
        for p in self.positions.iter().flatten() {
            if let Some(r) = read.get_mut(*p) {
                *r = true;
            }
        }
        read
    }

    /// The warning for a header that holds a name more than once, for the run summary and ledger.
    pub fn shared_names_warning(&self, source: &str) -> Option<String> {
        if self.shared.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .shared
            .iter()
            .map(|s| {
                let names: Vec<String> = s.positions.iter().map(|&p| format!("{:?}", self.header[p])).collect();
                format!(
                    "{:?} {} times (read as {})",
                    s.name,
                    s.positions.len(),
                    names.join(", ")
                )
            })
            .collect();
        Some(format!(
            "the header of {source} holds a name more than once: {}; `from` reads each by the name shown, and the \
             first by from_index",
            list.join("; ")
        ))
    }
}

impl Binding {
    /// The values of a row that could not be split into the header's columns (a ragged row),
    /// sensitive ones masked. A value's position is uncertain by as many places as the row has
    /// too many or too few fields, so every position a sensitive column could have moved to is
    /// masked.
    pub fn mask_values(&self, values: &[String]) -> serde_json::Value {
        let shift = values.len().abs_diff(self.header.len());
        let (left, right) = if values.len() > self.header.len() {
            (0, shift)
        } else {
            (shift, 0)
        };
        let masked = |i: usize| {
            self.masked
                .iter()
                .enumerate()
                .any(|(p, m)| *m && i + left >= p && i <= p + right)
        };
        values
            .iter()
            .enumerate()
            .map(|(i, v)| serde_json::Value::from(if masked(i) { MASK } else { v.as_str() }))
            .collect()
    }
}

impl Mapping {
    /// Resolve the mapping's columns in an open source's header (see [`Mapping::bind`]). A name
    /// the header holds twice is refused: `from = "Category"` could mean either column.
    pub fn bind_source(&mut self, source: &dyn Source, label: &str) -> Result<Binding, ConfigError> {
        let binding = self.bind_shared(source.columns(), source.shared_names(), label, false)?;
        self.mask_by_position(&binding, label)?;
        Ok(binding)
    }

    /// Positions are known once bound: a field reading a masked column by another route than
    /// the sensitive field's (`from_index` against `from`) is masked too.
    fn mask_by_position(&mut self, b: &Binding, source: &str) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let header = reads::Header::Known(&b.header, &b.masked);
        for plan in &mut self.entities {
            for f in plan.fields.iter_mut().filter(|f| !f.sensitive) {
                if !self.sensitive.masks(&f.columns, header) {
                    continue;
                }
                let field = &plan.entity.fields[f.index];
                if field.key {
                    problems.push(Diagnostic {
                        file: self.path.clone(),
                        line: f.line,
                        column: 1,
                        message: format!(
                            "{}.{} is part of the key and reads a sensitive column of {source}: keys are kept in \
                             the ledger and shown in every report",
                            plan.entity.name, field.name
                        ),
                        hint: Some("key the record on a column that is not secret".into()),
                    });
                }
                f.sensitive = true;
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Resolve the mapping's columns in a source header. A missing column is a configuration
    /// error naming the closest header present; `lenient` (fixture tests) reads it as empty.
    /// Fixture rows are the mapping's own, so fields are not re-masked by position here.
    pub fn bind(&self, header: &[String], source: &str, lenient: bool) -> Result<Binding, ConfigError> {
        self.bind_shared(header, &[], source, lenient)
    }

    fn bind_shared(
        &self,
        header: &[String],
        shared: &[SharedName],
        source: &str,
        lenient: bool,
    ) -> Result<Binding, ConfigError> {
        let mut problems = Vec::new();
        let mut positions = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let pos = match &slot.column {
                ColumnRef::Path(..) => None,
                ColumnRef::Name(name) => {
                    if let Some(s) = shared.iter().find(|s| s.name == *name) {
                        problems.push(shared_name_problem(&self.path, slot, s, header, source));
                        positions.push(None);
                        continue;
                    }
                    let found = header.iter().position(|h| h == name);
                    if found.is_none() && !lenient {
                        // A file without its header row shows a data row here: with sensitive
                        // columns in the mapping, its values are not quoted.
                        let hint = if !self.sensitive.is_empty() {
                            format!(
                                "the header has {} columns, not quoted here as the mapping has sensitive columns; \
                                 `opsync inspect` shows them",
                                header.len()
                            )
                        } else {
                            match closest(name, header.iter().map(String::as_str)) {
                                Some(c) => format!("the closest header is {c:?}"),
                                None => format!("the header is: {}", header.join(", ")),
                            }
                        };
                        problems.push(
                            Diagnostic {
                                file: self.path.clone(),
                                line: slot.line,
                                column: slot.col,
                                message: format!("column {name:?} is not in the header of {source}"),
                                hint: None,
                            }
                            .with_hint(hint),
                        );
                    }
                    found
                }
                ColumnRef::Index(i) => {
                    if *i >= header.len() && !lenient {
                        problems.push(Diagnostic {
                            file: self.path.clone(),
                            line: slot.line,
                            column: slot.col,
                            message: format!("column #{i} does not exist: {source} has {} columns", header.len()),
                            hint: None,
                        });
                    }
                    (*i < header.len()).then_some(*i)
                }
            };
            positions.push(pos);
        }
        if !problems.is_empty() {
            problems.sort_by_key(|d| (d.line, d.column));
            return Err(ConfigError(problems));
        }
        let mut masked = self.sensitive.masked_columns(header);
        // A sensitive name held twice is masked in every column that carries it.
        for s in shared.iter().filter(|s| self.sensitive.names_one(&s.name)) {
            for &p in &s.positions {
                masked[p] = true;
            }
        }
        Ok(Binding {
            header: header.to_vec(),
            positions,
            masked,
            shared: shared.to_vec(),
        })
    }

    /// Header columns the mapping does not read.
    pub fn unmapped_columns(&self, binding: &Binding) -> Vec<String> {
        let used: HashSet<usize> = binding.positions.iter().flatten().copied().collect();
        binding
            .header
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// The entities this mapping produces, in order.
    pub fn entity_names(&self) -> Vec<&'static str> {
        self.entities.iter().map(|e| e.entity.name).collect()
    }

    /// Canonical fields marked `sensitive = true`, as (entity, field).
    pub fn sensitive_fields(&self) -> Vec<(&'static str, &'static str)> {
        self.entities
            .iter()
            .flat_map(|e| {
                e.fields
                    .iter()
                    .filter(|f| f.sensitive)
                    .map(move |f| (e.entity.name, e.entity.fields[f.index].name))
            })
            .collect()
    }

    /// Line of each field definition, by entity and field name (for `opsync explain`).
    pub fn field_lines(&self) -> BTreeMap<(&'static str, &'static str), usize> {
        self.entities
            .iter()
            .flat_map(|e| {
                e.fields
                    .iter()
                    .map(move |f| ((e.entity.name, e.entity.fields[f.index].name), f.line))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(header: &[&str], masked: &[bool]) -> Binding {
        Binding {
            header: header.iter().map(|h| h.to_string()).collect(),
            positions: Vec::new(),
            masked: masked.to_vec(),
            shared: Vec::new(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_ragged_row_is_masked_wherever_a_sensitive_column_could_have_moved() {
        let b = binding(&["id", "name", "ssn", "note"], &[false, false, true, false]);
        // One field too many (a comma in the name): the ssn is at 2 or 3.
        let v = b.mask_values(&values(&["1", "Doe", " Jane", "123-45-6789", "n"]));
        assert_eq!(v, serde_json::json!(["1", "Doe", MASK, MASK, "n"]));
        // One too few: the ssn is at 1 or 2.
        let v = b.mask_values(&values(&["1", "123-45-6789", "n"]));
        assert_eq!(v, serde_json::json!(["1", MASK, MASK]));
        let none = binding(&["a", "b"], &[false, false]);
        assert_eq!(none.mask_values(&values(&["x"])), serde_json::json!(["x"]));
    }
}
