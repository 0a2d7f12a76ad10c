//! CEL as policies use it: one shared standard environment, programs compiled once when a
//! configuration revision loads, and a context built once per request and shared by every policy.

use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program, Value};

/// The standard library with the string, list and math extensions kube-apiserver also enables,
/// so that an expression reads the same in a policy and in an admission rule.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    for extension in [
        cel::extensions::strings as fn(&mut Env) -> Result<(), cel::DeclarationError>,
        cel::extensions::lists,
        cel::extensions::math,
    ] {
        // The extensions declare names the standard library does not, so adding them cannot
        // conflict; a failure would only leave their functions undeclared.
        let _ = env.add_extension(extension);
    }
    Arc::new(env)
});

/// A compiled expression with its source, for messages and export.
#[derive(Clone)]
pub struct Expression {
    pub source: String,
    program: Arc<Program>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Compiles `source`; the error says where (line and column within the expression) and why.
pub fn compile(source: &str) -> Result<Expression, String> {
    if source.trim().is_empty() {
        return Err("is empty; expected a CEL expression".to_owned());
    }
    match ENV.compile(source) {
        Ok(program) => Ok(Expression {
            source: source.to_owned(),
            program: Arc::new(program),
        }),
        Err(errors) => {
            let first = errors.errors.first();
            let reason = first.map_or_else(
                || "cannot be parsed".to_owned(),
                |e| {
                    format!(
                        "is not valid CEL at line {}, column {}: {}",
                        e.pos.0, e.pos.1, e.msg
                    )
                },
            );
            Err(reason)
        }
    }
}

/// The variables every policy of one request sees.
pub struct Scope {
    context: Context<'static, 'static>,
}

impl Scope {
    /// A scope whose variables are the top-level keys of `input` (an object).
    pub fn new(input: &serde_json::Value) -> Self {
        let mut context = Context::with_env(ENV.clone());
        if let Some(object) = input.as_object() {
            for (key, value) in object {
                context.add_variable_from_value(key.clone(), json_to_cel(value));
            }
        }
        Self { context }
    }

    /// Evaluates `expression` with `params` bound as `params`.
    pub fn evaluate(
        &self,
        expression: &Expression,
        params: &serde_json::Value,
    ) -> Result<Value, String> {
        let mut inner = self.context.new_inner_scope();
        inner.add_variable_from_value("params", json_to_cel(params));
        expression
            .program
            .execute(&inner)
            .map_err(|e| e.to_string())
    }

    /// [`Scope::evaluate`] expecting a boolean.
    pub fn test(
        &self,
        expression: &Expression,
        params: &serde_json::Value,
    ) -> Result<bool, String> {
        match self.evaluate(expression, params)? {
            Value::Bool(allowed) => Ok(allowed),
            other => Err(format!(
                "returned {}; a policy's expression must return true or false",
                describe(&other)
            )),
        }
    }

    /// [`Scope::evaluate`] expecting a string (a message).
    pub fn text(
        &self,
        expression: &Expression,
        params: &serde_json::Value,
    ) -> Result<String, String> {
        match self.evaluate(expression, params)? {
            Value::String(text) => Ok(text.to_string()),
            other => Err(format!(
                "returned {}; a message expression must return a string",
                describe(&other)
            )),
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => format!("the number {i}"),
        Value::UInt(u) => format!("the number {u}"),
        Value::Float(f) => format!("the number {f}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::List(_) => "a list".to_owned(),
        Value::Map(_) => "a map".to_owned(),
        _ => format!("{:?}", value.type_of()),
    }
}

/// JSON as CEL sees it: whole numbers are `int` (so that `params.pods < 10` compares ints), other
/// numbers `double`.
pub fn json_to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_cel).collect()))
        }
        serde_json::Value::Object(map) => {
            let entries: std::collections::HashMap<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_cel(v)))
                .collect();
            Value::from(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn evaluates_over_json_input_and_params() {
        let scope = Scope::new(&json!({
            "service": {"metadata": {"annotations": {"causeway.dev/on-call": "pager"}}},
            "request": {"cpuMillis": 3000}
        }));
        let rule = compile("request.cpuMillis <= params.maxCpuMillis").expect("valid");
        assert_eq!(scope.test(&rule, &json!({"maxCpuMillis": 4000})), Ok(true));
        assert_eq!(scope.test(&rule, &json!({"maxCpuMillis": 2000})), Ok(false));
        let has = compile("'causeway.dev/on-call' in service.metadata.annotations").expect("valid");
        assert_eq!(scope.test(&has, &json!({})), Ok(true));
        let message = compile("'asked ' + string(request.cpuMillis) + 'm'").expect("valid");
        assert_eq!(
            scope.text(&message, &json!({})).as_deref(),
            Ok("asked 3000m")
        );
    }

    #[test]
    fn reports_where_an_expression_is_wrong() {
        let error = compile("request.cpu <=").expect_err("invalid");
        assert!(error.contains("line 1, column"), "{error}");
        let scope = Scope::new(&json!({}));
        let rule = compile("missing.field == 1").expect("parses");
        assert!(scope.test(&rule, &json!({})).is_err());
        let not_bool = compile("1 + 1").expect("parses");
        assert!(
            scope
                .test(&not_bool, &json!({}))
                .expect_err("int")
                .contains("true or false")
        );
    }
}
