//! The compile-time side of the options that tie a field or an entity to more than its own
//! column: `multiple` (several JSON values), sensitivity (which values are masked), and parents
//! (`on_parent_reject`).

use std::ops::Range;

use super::Compiler;
use crate::config::mapping::{EntityMapping, FieldMapping, Multiple, OnParentReject};
use crate::mapping::{ColumnRef, EntityPlan, Many, ParentPlan};
use crate::model::{Entity, schema};

impl Compiler<'_> {
    /// What a field's `from` does with several JSON values; problems when the options do not fit.
    pub(super) fn many(&mut self, f: &FieldMapping, span: &Range<usize>) -> Many {
        let Some(multiple) = &f.multiple else {
            if let Some(sep) = &f.separator {
                self.problem(Some(sep.span()), "separator is only used with multiple = \"join\"");
            }
            return Many::Reject;
        };
        if !self.json || f.from.is_none() {
            self.problem(
                Some(multiple.span()),
                "multiple applies to a `from` JSONPath of a json or jsonl source",
            )
            .hint = Some("a column of a flat file has one value per row".into());
        }
        match (multiple.get_ref(), &f.separator) {
            (Multiple::Join, Some(sep)) => Many::Join(sep.get_ref().clone()),
            (Multiple::Join, None) => {
                self.problem(Some(span.clone()), "multiple = \"join\" needs a separator")
                    .hint = Some("add separator = \", \" (or the text to put between the values)".into());
                Many::Reject
            }
            (other, Some(sep)) => {
                self.problem(Some(sep.span()), "separator is only used with multiple = \"join\"");
                if *other == Multiple::First {
                    Many::First
                } else {
                    Many::Reject
                }
            }
            (Multiple::First, None) => Many::First,
            (Multiple::Reject, None) => Many::Reject,
        }
    }

    pub(super) fn check_parent_option(&mut self, em: &EntityMapping, entity: &'static Entity) {
        if let Some(opt) = &em.on_parent_reject
            && schema::parent_of(entity.name).is_none()
        {
            let children: Vec<&str> = schema::PARENTS.iter().map(|p| p.child).collect();
            self.problem(
                Some(opt.span()),
                format!("{} has no parent entity: on_parent_reject does not apply", entity.name),
            )
            .hint = Some(format!("it applies to {}", children.join(", ")));
        }
    }

    /// JSONPaths whose values are masked in a JSON record: those of sensitive fields and those
    /// listed in `sensitive_columns` (a bare name is a top-level key).
    pub(super) fn sensitive_paths(&mut self, entities: &[EntityPlan]) -> Vec<serde_json_path::JsonPath> {
        let mut paths = Vec::new();
        for f in entities.iter().flat_map(|e| &e.fields).filter(|f| f.sensitive) {
            for s in &f.reads {
                if let ColumnRef::Path(_, p) = &self.slots[*s].column {
                    paths.push(p.clone());
                }
            }
        }
        for name in self.m.file.sensitive_columns.clone() {
            let path = if name.starts_with('$') {
                name.clone()
            } else {
                format!("$['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
            };
            match serde_json_path::JsonPath::parse(&path) {
                Ok(p) => paths.push(p),
                Err(e) => {
                    self.problem(None, format!("sensitive_columns: bad JSONPath {name:?}: {e}"));
                }
            }
        }
        paths
    }
}

/// Tie each dependent entity to its parent when the mapping makes both, unless it says
/// `on_parent_reject = "load"`.
pub(super) fn link_parents(mappings: &[EntityMapping], entities: &mut [EntityPlan]) {
    let names: Vec<&'static str> = entities.iter().map(|e| e.entity.name).collect();
    for plan in entities.iter_mut() {
        let Some(link) = schema::parent_of(plan.entity.name) else {
            continue;
        };
        let load = mappings
            .iter()
            .find(|m| m.name.get_ref() == plan.entity.name)
            .and_then(|m| m.on_parent_reject.as_ref())
            .is_some_and(|o| *o.get_ref() == OnParentReject::Load);
        let Some(parent_at) = names.iter().position(|n| *n == link.parent) else {
            continue;
        };
        let Some(parent) = schema::entity(link.parent) else {
            continue;
        };
        let fields = link
            .fields
            .iter()
            .filter_map(|(c, p)| Some((plan.entity.field_index(c)?, parent.field_index(p)?)))
            .collect();
        if !load {
            plan.parent = Some(ParentPlan {
                entity: parent_at,
                fields,
            });
        }
    }
}
