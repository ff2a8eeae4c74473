//! Mapping file (raw TOML) -> [`Mapping`]: names checked against the canonical model, regexes,
//! formats and expressions compiled, lookup tables loaded, step types checked. Every problem is
//! collected with its place.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use chrono::FixedOffset;
use regex::Regex;

use super::convert::{format_is_valid, parse_offset};
use super::expr::{self, Expr};
use super::lookup::{Lookup, LookupError};
use super::reads::{Header, Sensitive, field_reads};
use super::steps::{CStep, Kind};
use super::{ColumnRef, EntityPlan, FieldPlan, FilterPlan, Input, Many, Mapping, RecordRulePlan, Slot};
use crate::config::diagnostic::line_col;
use crate::config::mapping::{Filter, Rounding, Step};
use crate::config::{ConfigError, Diagnostic, LoadedMapping, closest, resolve};
use crate::model::schema;

mod options;
mod values;
use options::link_parents;

struct Compiler<'a> {
    m: &'a LoadedMapping,
    problems: Vec<Diagnostic>,
    slots: Vec<Slot>,
    slot_index: HashMap<String, usize>,
    lookups: HashMap<String, Arc<Lookup>>,
    engine: Arc<rhai::Engine>,
    json: bool,
    uses_row: bool,
    /// Slots read by the field being compiled (its `from` and its steps' columns).
    reads: Vec<usize>,
    /// Columns named by every expression of the mapping.
    expr_columns: Vec<String>,
    /// Columns whose values are masked: `sensitive_columns`, and those read by every field
    /// marked `sensitive = true` (another field reading one of them is masked too).
    sensitive: Sensitive,
}

impl Compiler<'_> {
    fn problem(&mut self, span: Option<Range<usize>>, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::at(&self.m.path, &self.m.text, span, message);
        self.problems.push(d);
        self.problems.last_mut().expect("just pushed")
    }

    fn slot(&mut self, column: &str, span: &Range<usize>) -> usize {
        self.slot_with(column, span, Many::Reject)
    }

    /// A slot for a column, shared by every reference to it with the same `many`.
    fn slot_with(&mut self, column: &str, span: &Range<usize>, many: Many) -> usize {
        let key = match &many {
            Many::Reject => column.to_string(),
            other => format!("{column}\u{0}{other:?}"),
        };
        if let Some(i) = self.slot_index.get(&key) {
            self.reads.push(*i);
            return *i;
        }
        let (line, col) = line_col(&self.m.text, span.start);
        let column_ref = if self.json {
            let path = if column.starts_with('$') {
                column.to_string()
            } else {
                format!("$['{}']", column.replace('\'', "\\'"))
            };
            match serde_json_path::JsonPath::parse(&path) {
                Ok(p) => ColumnRef::Path(column.to_string(), p),
                Err(e) => {
                    self.problem(Some(span.clone()), format!("bad JSONPath {column:?}: {e}"));
                    ColumnRef::Name(column.to_string())
                }
            }
        } else {
            ColumnRef::Name(column.to_string())
        };
        self.slots.push(Slot {
            column: column_ref,
            line,
            col,
            many,
        });
        self.slot_index.insert(key, self.slots.len() - 1);
        self.reads.push(self.slots.len() - 1);
        self.slots.len() - 1
    }

    fn expr(&mut self, source: &str, span: &Range<usize>) -> Option<Expr> {
        if source.contains("row") {
            self.uses_row = true;
        }
        match Expr::compile(&self.engine, source) {
            Ok(x) => {
                for c in &x.columns {
                    if !self.expr_columns.contains(c) {
                        self.expr_columns.push(c.clone());
                    }
                }
                Some(x)
            }
            Err(e) => {
                self.problem(Some(span.clone()), format!("bad expression {source:?}: {e}"));
                None
            }
        }
    }

    fn lookup(&mut self, name: &str, span: &Range<usize>) -> Option<Arc<Lookup>> {
        match self.lookups.get(name) {
            Some(l) => Some(l.clone()),
            // Declared, but its file could not be loaded: that problem is already reported.
            None if self.m.file.lookups.contains_key(name) => None,
            None => {
                let known: Vec<String> = self.lookups.keys().cloned().collect();
                let hint = closest(name, known.iter().map(String::as_str)).map(|c| format!("did you mean {c:?}?"));
                let hint = hint.unwrap_or_else(|| "declare it under [lookups.NAME] with path, key and value".into());
                self.problem(Some(span.clone()), format!("unknown lookup table {name:?}"))
                    .hint = Some(hint);
                None
            }
        }
    }

    fn filters(&mut self, filters: &[toml::Spanned<Filter>]) -> Vec<FilterPlan> {
        let mut out = Vec::new();
        for f in filters {
            let span = f.span();
            let f = f.get_ref();
            if f.skip_if.is_none() && f.keep_if.is_none() {
                self.problem(Some(span.clone()), "a filter needs skip_if or keep_if");
            }
            let skip_if = f.skip_if.as_ref().and_then(|s| self.expr(s, &span));
            let keep_if = f.keep_if.as_ref().and_then(|s| self.expr(s, &span));
            out.push(FilterPlan { skip_if, keep_if });
        }
        out
    }

    fn step(&mut self, step: &Step, span: &Range<usize>) -> Option<CStep> {
        let regex = |c: &mut Self, pattern: &str| match Regex::new(pattern) {
            Ok(r) => Some(r),
            Err(e) => {
                c.problem(Some(span.clone()), format!("bad regular expression {pattern:?}: {e}"));
                None
            }
        };
        Some(match step {
            Step::Trim => CStep::Trim,
            Step::Case { to } => CStep::Case(*to),
            Step::Default { value } => CStep::Default(value.clone()),
            Step::Replace { pattern, with } => {
                let re = regex(self, pattern)?;
                if let Some(name) = values::unknown_group(&re, with) {
                    self.problem(
                        Some(span.clone()),
                        format!("with = {with:?} names the group ${name}, which {pattern:?} does not have"),
                    )
                    .hint = Some(
                        "a name after $ runs on over letters, digits and _: write ${1}_ for group 1 followed by _, \
                         and $$ for a dollar sign"
                            .to_string(),
                    );
                    return None;
                }
                CStep::Replace(re, with.clone())
            }
            Step::RegexExtract { pattern, group } => {
                let re = regex(self, pattern)?;
                if *group >= re.captures_len() {
                    self.problem(Some(span.clone()), format!("regex {pattern:?} has no group {group}"));
                    return None;
                }
                CStep::RegexExtract(re, *group)
            }
            Step::Split { separator, index } => {
                if separator.is_empty() {
                    self.problem(Some(span.clone()), "split needs a non-empty separator");
                }
                CStep::Split(separator.clone(), *index)
            }
            Step::Concat { columns, separator } => {
                CStep::Concat(columns.iter().map(|c| self.slot(c, span)).collect(), separator.clone())
            }
            Step::Coalesce { columns } => CStep::Coalesce(columns.iter().map(|c| self.slot(c, span)).collect()),
            Step::Map { values } => CStep::Map(values.clone()),
            Step::ParseDate {
                formats,
                excel_serial,
                utc_offset,
            } => {
                if formats.is_empty() && !excel_serial {
                    self.problem(
                        Some(span.clone()),
                        "parse_date needs at least one format (or excel_serial = true)",
                    );
                }
                for f in formats.iter().filter(|f| !format_is_valid(f)) {
                    self.problem(Some(span.clone()), format!("bad date format {f:?}")).hint =
                        Some("use chrono strftime syntax, like \"%m/%d/%y\" or \"%Y-%m-%d %H:%M:%S\"".into());
                }
                let offset = match utc_offset {
                    None => FixedOffset::east_opt(0)?,
                    Some(o) => match parse_offset(o) {
                        Some(x) => x,
                        None => {
                            self.problem(Some(span.clone()), format!("bad utc_offset {o:?}")).hint =
                                Some("write it like \"+01:00\", \"-05:00\" or \"UTC\"".into());
                            return None;
                        }
                    },
                };
                CStep::ParseDate {
                    formats: formats.clone(),
                    excel: *excel_serial,
                    offset,
                }
            }
            Step::ToDecimal { decimal_comma, round } => {
                if let Some(r) = round {
                    self.check_scale(r.scale, span);
                }
                CStep::ToDecimal {
                    decimal_comma: *decimal_comma,
                    round: *round,
                }
            }
            Step::ToInteger { decimal_comma } => CStep::ToInteger {
                decimal_comma: *decimal_comma,
            },
            Step::Round { scale, mode } => {
                self.check_scale(*scale, span);
                CStep::Round(Rounding {
                    scale: *scale,
                    mode: *mode,
                })
            }
            Step::ToBoolean {
                true_values,
                false_values,
            } => {
                // A spelling that is both yes and no reads as neither: every value a reject.
                let yes = true_values
                    .iter()
                    .map(String::as_str)
                    .chain(super::convert::TRUE_WORDS.iter().copied());
                let no: Vec<&str> = false_values
                    .iter()
                    .map(String::as_str)
                    .chain(super::convert::FALSE_WORDS.iter().copied())
                    .collect();
                if let Some(both) = yes
                    .into_iter()
                    .find(|y| no.iter().any(|n| n.trim().eq_ignore_ascii_case(y.trim())))
                {
                    self.problem(
                        Some(span.clone()),
                        format!(
                            "to_boolean reads {both:?} as both yes and no (true: true, t, yes, y, 1, on, x and \
                             true_values; false: false, f, no, n, 0, off and false_values), so it would reject it"
                        ),
                    );
                }
                CStep::ToBoolean {
                    yes: true_values.clone(),
                    no: false_values.clone(),
                }
            }
            Step::Lookup {
                table,
                on_miss,
                default,
            } => {
                if *on_miss == crate::config::mapping::OnMiss::Default && default.is_none() {
                    self.problem(Some(span.clone()), "on_miss = \"default\" needs a default value");
                }
                CStep::Lookup {
                    table: self.lookup(table, span)?,
                    on_miss: *on_miss,
                    default: default.clone(),
                }
            }
            Step::UomConvert {
                uom_column,
                factors,
                apply_to,
            } => CStep::UomConvert {
                uom_slot: self.slot(uom_column, span),
                factors: self.lookup(factors, span)?,
                apply: *apply_to,
            },
            Step::Expr { expr } => CStep::Expr(self.expr(expr, span)?),
        })
    }
}

/// Compile a loaded mapping for a source of the given shape (`json`: fields are JSONPaths).
pub fn compile(m: &LoadedMapping, json: bool) -> Result<Mapping, ConfigError> {
    let engine = expr::engine();
    let mut c = Compiler {
        m,
        problems: Vec::new(),
        slots: Vec::new(),
        slot_index: HashMap::new(),
        lookups: HashMap::new(),
        sensitive: Sensitive::of(&m.file, &engine),
        engine,
        json,
        uses_row: false,
        reads: Vec::new(),
        expr_columns: Vec::new(),
    };
    for (name, cfg) in &m.file.lookups {
        let span = cfg.span();
        let cfg = cfg.get_ref();
        let path = resolve(m.dir(), &cfg.path);
        if !path.is_file() {
            c.problem(Some(span), format!("lookup file {} not found", path.display()))
                .hint = Some("lookup paths are relative to the mapping file".into());
            continue;
        }
        match Lookup::load(name, &path, &cfg.key, &cfg.value, cfg.case_insensitive) {
            Ok(l) => {
                c.lookups.insert(name.clone(), Arc::new(l));
            }
            Err(errors) => {
                // A table with many conflicts is named once per conflict, up to a screenful.
                const SHOWN: usize = 10;
                for e in errors.iter().take(SHOWN) {
                    c.problem(Some(span.clone()), e.to_string()).hint = match e {
                        LookupError::DuplicateKey { .. } => {
                            Some("keep one row per key, or give both rows the same value".into())
                        }
                        _ => None,
                    };
                }
                if errors.len() > SHOWN {
                    c.problem(
                        Some(span),
                        format!(
                            "lookup {name:?}: {} more problems in the same file",
                            errors.len() - SHOWN
                        ),
                    );
                }
            }
        }
    }
    let filters = c.filters(&m.file.filter);
    if m.file.entities.is_empty() {
        c.problem(None, "the mapping has no [[entity]]").hint =
            Some("add [[entity]] with name = \"item\" (see `opsync schema`) and its fields".into());
    }
    let mut entities = Vec::new();
    let mut seen_entities = HashSet::new();
    for em in &m.file.entities {
        let name = em.name.get_ref();
        let Some(entity) = schema::entity(name) else {
            let hint = closest(name, schema::entity_names()).map(|c| format!("did you mean {c:?}?"));
            c.problem(Some(em.name.span()), format!("unknown canonical entity {name:?}"))
                .hint = Some(hint.unwrap_or_else(|| "`opsync schema` lists the entities".into()));
            continue;
        };
        if !seen_entities.insert(entity.name) {
            c.problem(Some(em.name.span()), format!("entity {name:?} is mapped twice"));
        }
        let entity_filters = c.filters(&em.filter);
        let mut fields = Vec::new();
        for (fname, fm) in &em.fields {
            let Some(index) = entity.field_index(fname.get_ref()) else {
                let hint = closest(fname.get_ref(), entity.fields.iter().map(|f| f.name))
                    .map(|x| format!("did you mean {x:?}?"))
                    .unwrap_or_else(|| format!("`opsync schema {}` lists its fields", entity.name));
                c.problem(
                    Some(fname.span()),
                    format!("{} has no field {:?}", entity.name, fname.get_ref()),
                )
                .hint = Some(hint);
                continue;
            };
            let field = &entity.fields[index];
            let span = fm.span();
            let line = line_col(&m.text, fname.span().start).0;
            let f = fm.get_ref();
            c.reads.clear();
            let given = [
                f.from.is_some(),
                f.from_index.is_some(),
                f.constant.is_some(),
                f.expr.is_some(),
            ];
            if given.iter().filter(|g| **g).count() > 1 {
                c.problem(
                    Some(span.clone()),
                    format!("field {}: use only one of from, from_index, const, expr", field.name),
                );
            }
            let many = c.many(f, &span);
            let (input, mut kind) = if let Some(from) = &f.from {
                (Input::Slot(c.slot_with(from.get_ref(), &from.span(), many)), Kind::Text)
            } else if let Some(i) = f.from_index {
                let key = format!("#{i}");
                let (line, col) = line_col(&m.text, span.start);
                let slot = *c.slot_index.entry(key).or_insert_with(|| {
                    c.slots.push(super::Slot {
                        column: ColumnRef::Index(i),
                        line,
                        col,
                        many: Many::Reject,
                    });
                    c.slots.len() - 1
                });
                c.reads.push(slot);
                (Input::Slot(slot), Kind::Text)
            } else if let Some(k) = &f.constant {
                match c.constant(k, field) {
                    Some(text) => (Input::Const(text), Kind::Text),
                    None => (Input::Nothing, Kind::Text),
                }
            } else if let Some(x) = &f.expr {
                match c.expr(x.get_ref(), &x.span()) {
                    Some(e) => (Input::Expr(e), Kind::Any),
                    None => (Input::Nothing, Kind::Any),
                }
            } else {
                let fills = f.steps.iter().any(|s| {
                    matches!(
                        s.get_ref(),
                        Step::Concat { .. } | Step::Coalesce { .. } | Step::Default { .. } | Step::Expr { .. }
                    )
                });
                if !fills {
                    c.problem(
                        Some(span.clone()),
                        format!("field {} has no from, const or expr", field.name),
                    );
                }
                (Input::Nothing, Kind::Text)
            };
            let mut steps = Vec::new();
            for s in &f.steps {
                let sspan = s.span();
                if let Some(step) = c.step(s.get_ref(), &sspan) {
                    let (needs, gives) = step.kinds();
                    if let Some(need) = needs
                        && kind != Kind::Any
                        && kind != need
                        && !(need == Kind::Decimal && kind == Kind::Integer)
                    {
                        c.problem(
                            Some(sspan),
                            format!("step {} needs {} but gets {}", step.name(), need.name(), kind.name()),
                        )
                        .hint = Some(if need == Kind::Decimal && kind == Kind::Text {
                            "convert the text first with { step = \"to_decimal\" }".into()
                        } else {
                            "order the steps so text steps come before conversions".into()
                        });
                    }
                    kind = gives;
                    steps.push(step);
                }
            }
            if !kind.fits(field.ty) {
                // The last step decides what the field receives: point at it.
                let at = f.steps.last().map_or(span.clone(), |s| s.span());
                c.problem(
                    Some(at),
                    format!(
                        "field {} is {} but its steps produce {}",
                        field.name,
                        field.ty,
                        kind.name()
                    ),
                );
            }
            let mut rules = Vec::new();
            for v in &f.validate {
                if let Some(r) = c.validation(v.get_ref(), field.ty, &v.span()) {
                    rules.push(r);
                }
            }
            let columns = field_reads(f, &c.engine);
            let sensitive = f.sensitive || c.sensitive.masks(&columns, Header::NotYet);
            if sensitive && field.key {
                c.problem(
                    Some(fname.span()),
                    format!(
                        "{}.{} is part of the key and cannot be sensitive: keys are kept in the ledger and shown in \
                         every report, so that a record can be traced",
                        entity.name, field.name
                    ),
                )
                .hint = Some(
                    "key the record on an identifier that is not secret (a supplier or employee number) and map \
                     the secret value to a field outside the key"
                        .into(),
                );
            }
            fields.push(FieldPlan {
                index,
                input,
                steps,
                rules,
                sensitive,
                line,
                reads: std::mem::take(&mut c.reads),
                columns,
            });
        }
        let mapped: HashSet<usize> = fields.iter().map(|f| f.index).collect();
        let missing: Vec<&str> = entity
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| f.required && !mapped.contains(i))
            .map(|(_, f)| f.name)
            .collect();
        if !missing.is_empty() {
            c.problem(
                Some(em.name.span()),
                format!("{} needs the required field(s) {}", entity.name, missing.join(", ")),
            )
            .hint = Some(format!(
                "map them under [entity.fields]; `opsync schema {}` shows them",
                entity.name
            ));
        }
        let mut rules = Vec::new();
        for r in &em.rules {
            let span = r.span();
            let r = r.get_ref();
            if let Some(expr) = c.expr(&r.expr, &span) {
                rules.push(RecordRulePlan {
                    name: r.name.clone(),
                    expr,
                    message: r.message.clone(),
                });
            }
        }
        fields.sort_by_key(|f| f.index);
        c.check_parent_option(em, entity);
        entities.push(EntityPlan {
            entity,
            fields,
            filters: entity_filters,
            rules,
            parent: None,
        });
    }
    link_parents(&m.file.entities, &mut entities);
    let sensitive_paths = if json { c.sensitive_paths(&entities) } else { Vec::new() };
    if !c.problems.is_empty() {
        c.problems.sort_by_key(|d| (d.line, d.column));
        return Err(ConfigError(c.problems));
    }
    Ok(Mapping {
        path: m.path.clone(),
        hash: m.hash.clone(),
        version: m.version_label(),
        json,
        slots: c.slots,
        entities,
        filters,
        sensitive: c.sensitive,
        sensitive_paths,
        uses_row: c.uses_row,
        expr_columns: c.expr_columns,
        pool: Default::default(),
    })
}
