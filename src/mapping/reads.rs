//! Which source columns a field reads, and whether any of them is sensitive. One answer for
//! every route that masks: compiling a mapping, binding it to a header, `preview` and `explain`
//! (which reads a stored mapping text, without compiling it).
//!
//! A field reads its `from` or `from_index`, the columns its steps name (`concat`, `coalesce`,
//! `uom_convert`) and those its expressions read as `row["name"]` or `row.name`. An expression
//! that uses `row` any other way (`row[name]`, `row.keys()`, handing `row` to a function) may
//! read any column: such a field is taken to read every column. JSONPaths are compared by what
//! they select, not by their spelling: `$.p['ssn']` is `$.p.ssn`, and `$..ssn` or `$.p[*]` may
//! reach it.

use rhai::{ASTNode, Engine};

use crate::config::mapping::{FieldMapping, MappingFile, Step};

/// A source column as a mapping names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A header name, or a JSONPath for JSON sources.
    Name(String),
    /// A 0-based position (`from_index`).
    Index(usize),
}

/// The columns one field reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub columns: Vec<Column>,
    /// An expression may read any column (its names are computed when it runs).
    pub every: bool,
}

/// What a field reads, read from its mapping (see the module doc).
pub fn field_reads(f: &FieldMapping, engine: &Engine) -> Reads {
    let mut r = Reads::default();
    if let Some(from) = &f.from {
        r.columns.push(Column::Name(from.get_ref().clone()));
    }
    if let Some(i) = f.from_index {
        r.columns.push(Column::Index(i));
    }
    if let Some(x) = &f.expr {
        expr_reads(x.get_ref(), engine, &mut r);
    }
    for s in &f.steps {
        match s.get_ref() {
            Step::Concat { columns, .. } | Step::Coalesce { columns } => {
                r.columns.extend(columns.iter().cloned().map(Column::Name));
            }
            Step::UomConvert { uom_column, .. } => r.columns.push(Column::Name(uom_column.clone())),
            Step::Expr { expr } => expr_reads(expr, engine, &mut r),
            _ => {}
        }
    }
    r
}

/// The columns an expression reads by a literal name; `every` when it uses `row` otherwise (or
/// does not compile: the compiler reports that, and nothing is known of what it reads).
fn expr_reads(source: &str, engine: &Engine, into: &mut Reads) {
    let Ok(ast) = engine.compile_expression(source) else {
        into.every = true;
        return;
    };
    let (mut uses, mut named) = (0usize, 0usize);
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(node)) = path.last() {
            if let rhai::Expr::Variable(v, ..) = node
                && v.1.as_str() == "row"
            {
                uses += 1;
            }
            if let Some(c) = super::expr::row_column(node) {
                named += 1;
                let c = Column::Name(c);
                if !into.columns.contains(&c) {
                    into.columns.push(c);
                }
            }
        }
        true
    });
    if uses > named {
        into.every = true;
    }
}

/// How the positions of columns read by index are known when deciding what is masked.
#[derive(Debug, Clone, Copy)]
pub enum Header<'a> {
    /// The source header, and which of its columns are masked.
    Known(&'a [String], &'a [bool]),
    /// Not yet (compiling): names are compared with names and positions with positions; binding
    /// to the header decides the rest.
    NotYet,
    /// Never (a stored mapping without its header): a position could be any named column.
    Unknown,
}

/// The columns whose values are sensitive: those of `sensitive_columns` and every column a field
/// marked `sensitive = true` reads.
#[derive(Debug, Clone, Default)]
pub struct Sensitive {
    pub names: Vec<String>,
    pub indexes: Vec<usize>,
}

impl Sensitive {
    pub fn of(file: &MappingFile, engine: &Engine) -> Self {
        let mut s = Sensitive {
            names: file.sensitive_columns.clone(),
            indexes: Vec::new(),
        };
        let fields = file
            .entities
            .iter()
            .flat_map(|e| e.fields.values())
            .map(|f| f.get_ref());
        for f in fields.filter(|f| f.sensitive) {
            for c in field_reads(f, engine).columns {
                match c {
                    Column::Name(n) if !s.names.contains(&n) => s.names.push(n),
                    Column::Index(i) if !s.indexes.contains(&i) => s.indexes.push(i),
                    _ => {}
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.indexes.is_empty()
    }

    /// Whether a column named `name` holds (part of) a sensitive value.
    pub fn names_one(&self, name: &str) -> bool {
        self.names.iter().any(|s| may_overlap(name, s))
    }

    /// Which columns of a header are masked.
    pub fn masked_columns(&self, header: &[String]) -> Vec<bool> {
        (0..header.len())
            .map(|i| self.indexes.contains(&i) || self.names_one(&header[i]))
            .collect()
    }

    /// Whether a field reading `reads` shows a sensitive value, and so is masked wherever a
    /// field marked `sensitive = true` is.
    pub fn masks(&self, reads: &Reads, header: Header<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        if reads.every {
            return true;
        }
        reads.columns.iter().any(|c| match (c, header) {
            (Column::Name(n), Header::Known(h, masked)) => {
                self.names_one(n) || h.iter().zip(masked).any(|(h, m)| *m && h == n)
            }
            (Column::Index(i), Header::Known(_, masked)) => {
                self.indexes.contains(i) || masked.get(*i).copied().unwrap_or(false)
            }
            (Column::Name(n), Header::NotYet) => self.names_one(n),
            (Column::Index(i), Header::NotYet) => self.indexes.contains(i),
            (Column::Name(n), Header::Unknown) => self.names_one(n) || !self.indexes.is_empty(),
            (Column::Index(i), Header::Unknown) => self.indexes.contains(i) || !self.names.is_empty(),
        })
    }
}

/// One step of a JSONPath: a child (or, `deep`, any descendant) selected by name, by index, or
/// by anything else (wildcard, union, slice, filter: taken as "any").
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seg {
    deep: bool,
    sel: Sel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sel {
    Name(String),
    Index(u64),
    Any,
}

/// Whether two columns may hold the same data: equal names, or JSONPaths one of whose selected
/// members may be, contain or lie inside one of the other's.
pub fn may_overlap(a: &str, b: &str) -> bool {
    a == b || overlap(&segments(a), &segments(b))
}

fn overlap(a: &[Seg], b: &[Seg]) -> bool {
    let (Some(x), Some(y)) = (a.first(), b.first()) else {
        // One path ends where the other goes on: it selects an ancestor of the other's members.
        return true;
    };
    let fits = match (&x.sel, &y.sel) {
        (Sel::Any, _) | (_, Sel::Any) => true,
        (p, q) => p == q,
    };
    // Both take this key; or a descendant segment passes over a key the other one takes.
    (fits && overlap(&a[1..], &b[1..])) || (x.deep && overlap(a, &b[1..])) || (y.deep && overlap(&a[1..], b))
}

/// The steps of a JSONPath (already checked by serde_json_path, which does not expose its
/// parsed form); a bare column name is one step. Anything not read here is "any".
fn segments(path: &str) -> Vec<Seg> {
    let Some(mut rest) = path.strip_prefix('$') else {
        return vec![Seg {
            deep: false,
            sel: Sel::Name(path.to_string()),
        }];
    };
    let mut out = Vec::new();
    while !rest.is_empty() {
        let deep = rest.starts_with("..");
        if deep {
            rest = &rest[2..];
        } else if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let (inside, after) = bracket(r);
            out.push(Seg {
                deep,
                sel: selector(inside.trim()),
            });
            rest = after;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let name = &rest[..end];
            let sel = if name == "*" {
                Sel::Any
            } else {
                Sel::Name(name.to_string())
            };
            out.push(Seg { deep, sel });
            rest = &rest[end..];
        }
    }
    out
}

/// The text inside a bracket (after its `[`) up to its closing `]`, quotes respected, and what
/// follows.
fn bracket(s: &str) -> (&str, &str) {
    let mut quote = None;
    let mut escaped = false;
    let mut depth = 0usize;
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '[' | '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ']') if depth == 0 => return (&s[..i], &s[i + 1..]),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    (s, "")
}

/// One bracketed selector: a quoted name, a non-negative index, or "any".
fn selector(s: &str) -> Sel {
    if let Ok(i) = s.parse::<u64>() {
        return Sel::Index(i);
    }
    let Some(q) = s.chars().next().filter(|q| matches!(q, '\'' | '"')) else {
        return Sel::Any;
    };
    if s.len() < 2 || !s.ends_with(q) {
        return Sel::Any;
    }
    let body = &s[1..s.len() - 1];
    let mut name = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == q {
            // An unescaped quote inside: a union of names (`'a','b'`).
            return Sel::Any;
        }
        if c != '\\' {
            name.push(c);
            continue;
        }
        let decoded = match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(c) => c,
                    None => return Sel::Any,
                }
            }
            Some(other) => other,
            None => return Sel::Any,
        };
        name.push(decoded);
    }
    Sel::Name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_compared_by_what_they_select() {
        for a in [
            "$.p['ssn']",
            "$.p[\"ssn\"]",
            "$['p'].ssn",
            "$..ssn",
            "$.p[*]",
            "$.*.ssn",
            "$.p",
            "$..*",
        ] {
            assert!(may_overlap(a, "$.p.ssn"), "{a}");
        }
        assert!(may_overlap("$.p.ssn.x", "$.p.ssn"));
        assert!(may_overlap("ssn", "$['ssn']"));
        for a in ["$.p.name", "$.q.ssn", "$.p['ssn2']", "$.p[0]", "$.id"] {
            assert!(!may_overlap(a, "$.p.ssn"), "{a}");
        }
        assert!(!may_overlap("$.p['a\\'b']", "$.p.ab"));
        assert!(may_overlap("$.p['a\\u0062']", "$.p.ab"));
        assert!(!may_overlap("id", "ssn"));
    }

    #[test]
    fn an_expression_naming_row_by_a_computed_name_reads_every_column() {
        let e = crate::mapping::expr::engine();
        let mut r = Reads::default();
        expr_reads(r#"row["sec"] + row.other"#, &e, &mut r);
        assert_eq!(r.columns, [Column::Name("sec".into()), Column::Name("other".into())]);
        assert!(!r.every);
        for x in [r#"row[row["d"]]"#, "row.values()[0]", "row"] {
            let mut r = Reads::default();
            expr_reads(x, &e, &mut r);
            assert!(r.every, "{x}");
        }
    }
}
