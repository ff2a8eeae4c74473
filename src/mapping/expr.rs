//! Expressions in mapping files (filters, computed fields, cross-field rules), in Rhai: a
//! well-kept embeddable language, sandboxed here with limits on work, depth and sizes.

use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, Map, Scope};
use rust_decimal::Decimal;

use crate::model::Value;

/// A sandboxed engine shared by every expression of a mapping.
pub fn engine() -> Arc<Engine> {
    let mut e = Engine::new();
    e.set_max_operations(100_000);
    e.set_max_expr_depths(64, 32);
    e.set_max_string_size(1 << 20);
    e.set_max_array_size(10_000);
    e.set_max_map_size(10_000);
    e.set_max_call_levels(16);
    e.set_strict_variables(false);
    e.disable_symbol("eval");
    Arc::new(e)
}

/// One compiled expression.
#[derive(Clone)]
pub struct Expr {
    engine: Arc<Engine>,
    ast: AST,
    pub source: String,
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
        Ok(Expr {
            engine: engine.clone(),
            ast,
            source: source.to_string(),
        })
    }

    /// Evaluate with named variables in scope.
    pub fn eval(&self, vars: Vec<(&'static str, Dynamic)>) -> Result<Dynamic, String> {
        let mut scope = Scope::new();
        for (name, v) in vars {
            scope.push_dynamic(name, v);
        }
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast)
            .map_err(|e| e.to_string())
    }

    /// Evaluate to a boolean (filters and rules).
    pub fn eval_bool(&self, vars: Vec<(&'static str, Dynamic)>) -> Result<bool, String> {
        let v = self.eval(vars)?;
        v.as_bool()
            .map_err(|t| format!("expression gave a {t}, not true or false"))
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
pub fn from_dynamic(d: Dynamic) -> Value {
    if d.is_unit() {
        Value::Null
    } else if let Ok(b) = d.as_bool() {
        Value::Boolean(b)
    } else if let Ok(i) = d.as_int() {
        Value::Integer(i)
    } else if let Ok(x) = d.as_decimal() {
        Value::Decimal(x)
    } else if let Ok(f) = d.as_float() {
        Decimal::try_from(f).map(Value::Decimal).unwrap_or(Value::Null)
    } else {
        Value::Text(d.to_string())
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
mod tests {
    use super::*;

    #[test]
    fn filters_see_the_row() {
        let e = engine();
        let x = Expr::compile(&e, r#"row["Active"] == "FALSE""#).unwrap();
        let row = row_map([("Active", "FALSE")].into_iter());
        assert!(x.eval_bool(vec![("row", row)]).unwrap());
    }

    #[test]
    fn runaway_expressions_stop() {
        let e = engine();
        assert!(Expr::compile(&e, "1 +").is_err());
        let x = Expr::compile(&e, r#""a".pad(100000000, "b")"#).unwrap();
        assert!(x.eval(vec![]).is_err());
    }
}
