//! Expressions in mapping files (filters, computed fields, cross-field rules), in Rhai: a
//! well-kept embeddable language, sandboxed here with limits on work, depth and sizes.
//!
//! What an expression can read is listed in [`VARIABLES`]; `opsync`'s reference renders that
//! table, so a variable added here is documented there.

use std::cell::Cell;
use std::sync::Arc;

use rhai::{AST, ASTNode, Dynamic, Engine, ImmutableString, Map, Scope};
use rust_decimal::Decimal;

use crate::model::{Lineage, Value};

/// Operations one evaluation may take, closures and the functions they call included.
pub const MAX_OPERATIONS: u64 = 100_000;

/// A variable expressions can read.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    /// Where in a mapping it is set.
    pub available: &'static str,
    pub meaning: &'static str,
}

/// Every variable an expression can read: the reference documentation is rendered from this.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "value",
        available: "`expr` steps",
        meaning: "The field's value so far (after the steps before this one). An empty value is `()`; \
                  text, decimals, integers and booleans are themselves.",
    },
    Variable {
        name: "row",
        available: "everywhere: field `expr`, `expr` steps, filters, record rules",
        meaning: "The source row as a map from column name to text, exactly as read: a blank cell is \
                  the empty string `\"\"` (in `opsync run` and in `opsync test` alike, where a column \
                  the case does not give reads as blank); a column the source does not have is `()`. \
                  For JSON sources, the record itself (JSON `null` is `()`).",
    },
    Variable {
        name: "record",
        available: "record rules (`[[entity.rules]]`)",
        meaning: "The finished canonical record as a map from field name to value; an empty field is `()`.",
    },
    Variable {
        name: "row_number",
        available: "everywhere",
        meaning: "1-based number of the record in its source, header rows not counted \
                  (the `row` of `opsync rejects`).",
    },
    Variable {
        name: "line_number",
        available: "everywhere",
        meaning: "1-based physical line of a text file, or spreadsheet row, where the record starts \
                  (for a sheet without line numbers of its own, this is the row number Excel shows).",
    },
];

/// String functions opsync adds to Rhai's.
pub const FUNCTIONS: &[Variable] = &[Variable {
    name: "trimmed()",
    available: "everywhere",
    meaning: "The text without leading and trailing white space, as a new string (`()` gives `\"\"`). \
              Rhai's own `trim()` changes a variable in place and gives `()`, so `row[\"a\"].trim() == \"\"` \
              would never be true: opsync refuses expressions that use it. `print` and `debug` do nothing.",
}];

/// Rhai methods that change their receiver in place and give `()`. An expression has no
/// statements, so their result is the only thing it can use, and that result is always `()`.
const IN_PLACE: &[(&str, &str)] = &[
    ("trim", "use trimmed(), which gives the trimmed text"),
    ("make_upper", "use to_upper()"),
    ("make_lower", "use to_lower()"),
    ("replace", "use the replace step, or split() and join"),
    ("pad", "it gives ()"),
    ("truncate", "use sub_string()"),
    ("crop", "use sub_string()"),
    ("clear", "it gives ()"),
    ("push", "it gives ()"),
    ("append", "it gives ()"),
    ("sort", "it gives ()"),
    ("reverse", "it gives ()"),
];

thread_local! {
    /// Operations taken by the evaluation running on this thread. Rhai counts operations per
    /// call context, and a closure called from a native function (`map`, `filter`, ...) runs in a
    /// fresh one whose count is dropped when it returns, so `max_operations` alone never stops
    /// `a.map(|x| b.map(...))`; this count spans the whole evaluation.
    static OPERATIONS: Cell<u64> = const { Cell::new(0) };
    /// (row_number, line_number) of the record being mapped on this thread. Set once per record
    /// by the mapping, so that every expression of that record sees them without each step
    /// having to carry them.
    static RECORD: Cell<(i64, i64)> = const { Cell::new((0, 0)) };
}

/// Make `row_number` and `line_number` those of this record for the expressions that follow.
pub fn set_record(lineage: &Lineage) {
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    RECORD.with(|r| r.set((n(lineage.row), n(lineage.line))));
}

/// A sandboxed engine shared by every expression of a mapping.
pub fn engine() -> Arc<Engine> {
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS);
    e.on_progress(|_| {
        OPERATIONS.with(|ops| {
            let n = ops.get().saturating_add(1);
            ops.set(n);
            (n > MAX_OPERATIONS).then(|| Dynamic::from("operation limit"))
        })
    });
    // Rhai prints to stdout, where `opsync transform` writes its JSON Lines; and what an
    // expression prints may be a sensitive value. Expressions are tried with `opsync preview`
    // and `opsync test` instead.
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    e.set_max_expr_depths(64, 32);
    e.set_max_string_size(1 << 20);
    e.set_max_array_size(10_000);
    e.set_max_map_size(10_000);
    e.set_max_call_levels(16);
    e.set_strict_variables(false);
    e.disable_symbol("eval");
    e.register_fn("trimmed", |s: &str| -> ImmutableString { s.trim().into() });
    e.register_fn("trimmed", |_: ()| ImmutableString::new());
    Arc::new(e)
}

/// One compiled expression.
#[derive(Clone)]
pub struct Expr {
    engine: Arc<Engine>,
    ast: AST,
    pub source: String,
    /// Columns read as `row["name"]` or `row.name` (by a literal name).
    pub columns: Vec<String>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compile once per job; the error names the position inside the expression.
    pub fn compile(engine: &Arc<Engine>, source: &str) -> Result<Self, String> {
        let ast = engine.compile_expression(source).map_err(|e| e.to_string())?;
        let mut columns = Vec::new();
        let mut misuse = None;
        ast.walk(&mut |path: &[ASTNode]| {
            let Some(ASTNode::Expr(node)) = path.last() else {
                return true;
            };
            if let Some(c) = row_column(node)
                && !columns.contains(&c)
            {
                columns.push(c);
            }
            if let rhai::Expr::FnCall(call, pos) | rhai::Expr::MethodCall(call, pos) = node
                && let Some((name, hint)) = IN_PLACE.iter().find(|(n, _)| *n == call.name.as_str())
            {
                misuse = Some(format!(
                    "{name}() changes its value in place and gives (), so this expression never sees \
                     its result ({pos}): {hint}"
                ));
                return false;
            }
            true
        });
        if let Some(m) = misuse {
            return Err(m);
        }
        Ok(Expr {
            engine: engine.clone(),
            ast,
            source: source.to_string(),
            columns,
        })
    }

    /// Evaluate with named variables in scope, besides `row_number` and `line_number`.
    pub fn eval(&self, vars: Vec<(&'static str, Dynamic)>) -> Result<Dynamic, String> {
        let mut scope = Scope::new();
        let (row, line) = RECORD.with(Cell::get);
        scope.push_constant("row_number", row);
        scope.push_constant("line_number", line);
        for (name, v) in vars {
            scope.push_dynamic(name, v);
        }
        OPERATIONS.with(|ops| ops.set(0));
        let result = self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast);
        result.map_err(|e| {
            if OPERATIONS.with(Cell::get) > MAX_OPERATIONS
                || matches!(*e, rhai::EvalAltResult::ErrorTooManyOperations(_))
            {
                format!("stopped after {MAX_OPERATIONS} operations: too much work for one record (a runaway loop?)")
            } else {
                e.to_string()
            }
        })
    }

    /// Evaluate to a boolean (filters and rules).
    pub fn eval_bool(&self, vars: Vec<(&'static str, Dynamic)>) -> Result<bool, String> {
        let v = self.eval(vars)?;
        v.as_bool()
            .map_err(|t| format!("expression gave a {t}, not true or false"))
    }
}

/// The column named by `row["name"]` or `row.name`, when this node reads one.
pub(super) fn row_column(node: &rhai::Expr) -> Option<String> {
    let (rhai::Expr::Index(x, ..) | rhai::Expr::Dot(x, ..)) = node else {
        return None;
    };
    let rhai::Expr::Variable(v, ..) = &x.lhs else {
        return None;
    };
    if v.1.as_str() != "row" {
        return None;
    }
    // A chain `row["a"].len()` keeps its first link on the left of the right-hand side.
    let mut first = &x.rhs;
    while let rhai::Expr::Index(y, ..) | rhai::Expr::Dot(y, ..) = first {
        first = &y.lhs;
    }
    match (node, first) {
        (rhai::Expr::Index(..), rhai::Expr::StringConstant(s, _)) => Some(s.to_string()),
        (rhai::Expr::Dot(..), rhai::Expr::Property(p, _)) => Some(p.2.to_string()),
        _ => None,
    }
}

/// A canonical value as a Rhai value.
pub fn to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Text(s) => s.clone().into(),
        Value::Decimal(d) => Dynamic::from_decimal(*d),
        Value::Integer(i) => Dynamic::from_int(*i),
        Value::Boolean(b) => Dynamic::from_bool(*b),
        other => other.to_text().unwrap_or_default().into(),
    }
}

/// A Rhai result as a canonical value (typed later by the field's type).
pub fn from_dynamic(d: Dynamic) -> Result<Value, String> {
    if d.is_unit() {
        Ok(Value::Null)
    } else if let Ok(b) = d.as_bool() {
        Ok(Value::Boolean(b))
    } else if let Ok(i) = d.as_int() {
        Ok(Value::Integer(i))
    } else if let Ok(x) = d.as_decimal() {
        Ok(Value::Decimal(x))
    } else if let Ok(f) = d.as_float() {
        // A float that no decimal holds (infinite, not a number, past 28 digits) is no value to
        // load as empty: the field is refused.
        Decimal::try_from(f)
            .map(Value::Decimal)
            .map_err(|_| format!("the expression gave {f}, which is not a number a decimal holds"))
    } else if d.is_string() || d.is_char() {
        Ok(Value::Text(d.to_string()))
    } else {
        Err(format!(
            "the expression gave {} {}, not a single value",
            if d.is_array() || d.is_map() { "a whole" } else { "a" },
            d.type_name()
        ))
    }
}

/// The source row as a Rhai map: column name -> text.
pub fn row_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Dynamic {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.into(), v.to_string().into());
    }
    Dynamic::from_map(m)
}

/// A JSON record as a Rhai value. Numbers keep the text they were written with (serde_json's
/// `arbitrary_precision`): a whole number that fits is an integer, one a decimal holds exactly is
/// a decimal, and any other (`1e999`, 40 digits) stays text for a step to refuse, never a float.
pub fn json_to_dynamic(v: &serde_json::Value) -> Dynamic {
    use serde_json::Value as J;
    match v {
        J::Null => Dynamic::UNIT,
        J::Bool(b) => Dynamic::from_bool(*b),
        J::String(s) => s.clone().into(),
        J::Number(n) => {
            let text = n.to_string();
            if let Ok(i) = text.parse::<i64>() {
                Dynamic::from_int(i)
            } else if let Ok(d) = Decimal::from_str_exact(&text) {
                Dynamic::from_decimal(d)
            } else {
                text.into()
            }
        }
        J::Array(items) => Dynamic::from_array(items.iter().map(json_to_dynamic).collect()),
        J::Object(map) => {
            let mut m = Map::new();
            for (k, v) in map {
                m.insert(k.as_str().into(), json_to_dynamic(v));
            }
            Dynamic::from_map(m)
        }
    }
}

#[cfg(test)]
mod tests;
