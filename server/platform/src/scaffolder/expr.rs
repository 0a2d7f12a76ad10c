//! Template expressions: `${{ … }}` with Nunjucks semantics, evaluated by minijinja.
//!
//! Backstage renders step inputs, `if:`, `each:`, outputs and skeleton files with Nunjucks whose
//! variable delimiters are `${{ … }}`. minijinja with a custom syntax follows the same grammar;
//! what differs is bridged here: JavaScript's `===`/`!==` (real templates use them), Nunjucks'
//! `elseif`, lookups on undefined values that yield undefined instead of failing (Nunjucks'
//! `memberLookup`), and a string that is exactly one expression keeping its type. Evaluation is
//! sandboxed: fuel bounds the work of one render and a recursion limit bounds nesting, so a
//! runaway expression ends with an error instead of a stuck worker.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as Jinja};
use serde_json::Value;

use super::filters;

/// Instructions one render may execute; far above what any real template needs.
const FUEL: u64 = 2_000_000;
/// Nesting depth of templates, macros and data structures.
const RECURSION: usize = 64;
/// The largest text one render may produce.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Which delimiters a text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Backstage's: `${{ x }}`, `{% if %}`, `{# … #}`.
    Backstage,
    /// `fetch:template`'s `cookiecutterCompat`: plain `{{ x }}`, with `cookiecutter` standing for
    /// the values.
    Cookiecutter,
}

/// Why a text could not be rendered; `Display` is a sentence for the task log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError(pub String);

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<minijinja::Error> for ExprError {
    fn from(error: minijinja::Error) -> Self {
        let detail = match error.kind() {
            ErrorKind::OutOfFuel => {
                "the expression did more work than a template may (a runaway loop?)".to_owned()
            }
            ErrorKind::UnknownFilter => format!(
                "unknown filter{}; the filters are {}",
                error
                    .detail()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default(),
                filters::NAMES.join(", ")
            ),
            _ => match error.detail() {
                Some(detail) => format!("{}: {detail}", error.kind()),
                None => error.kind().to_string(),
            },
        };
        let line = error
            .line()
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        Self(format!("{detail}{line}"))
    }
}

/// Renders texts and values against a context; cheap to share.
pub struct Templater {
    backstage: Environment<'static>,
    cookiecutter: Environment<'static>,
}

impl std::fmt::Debug for Templater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templater")
    }
}

impl Default for Templater {
    fn default() -> Self {
        Self::new()
    }
}

impl Templater {
    pub fn new() -> Self {
        Self {
            backstage: environment(Syntax::Backstage),
            cookiecutter: environment(Syntax::Cookiecutter),
        }
    }

    fn env(&self, syntax: Syntax) -> &Environment<'static> {
        match syntax {
            Syntax::Backstage => &self.backstage,
            Syntax::Cookiecutter => &self.cookiecutter,
        }
    }

    /// Renders `text` as a template to a string.
    pub fn render_text(
        &self,
        syntax: Syntax,
        text: &str,
        context: &Value,
    ) -> Result<String, ExprError> {
        if !has_markup(text, syntax) {
            return Ok(text.to_owned());
        }
        let source = js_compat(text, syntax);
        let env = self.env(syntax);
        let rendered = env.render_str(&source, Jinja::from(minijinja::value::Serde(context)))?;
        if rendered.len() > MAX_OUTPUT {
            return Err(ExprError(format!(
                "the rendered text is larger than {} MiB",
                MAX_OUTPUT >> 20
            )));
        }
        Ok(rendered)
    }

    /// Checks that `text` parses (as one expression or as a template), without rendering it.
    pub fn parse(&self, text: &str) -> Result<(), ExprError> {
        if let Some(expression) = single_expression(text) {
            self.backstage
                .compile_expression_owned(compat_expression(expression))?;
        } else if has_markup(text, Syntax::Backstage) {
            let mut env = self.backstage.clone();
            env.add_template_owned("check", js_compat(text, Syntax::Backstage))?;
        }
        Ok(())
    }

    /// [`Templater::render_text`] with Jinja's `trim_blocks` and `lstrip_blocks` as given
    /// (`fetch:template`'s `trimBlocks` and `lstripBlocks`).
    pub fn render_text_with(
        &self,
        syntax: Syntax,
        text: &str,
        context: &Value,
        (trim_blocks, lstrip_blocks): (bool, bool),
    ) -> Result<String, ExprError> {
        if !(trim_blocks || lstrip_blocks) || !has_markup(text, syntax) {
            return self.render_text(syntax, text, context);
        }
        let mut env = self.env(syntax).clone();
        let config = env
            .syntax()
            .to_builder()
            .trim_blocks(trim_blocks)
            .lstrip_blocks(lstrip_blocks)
            .build()?;
        env.set_syntax(config);
        let rendered = env.render_str(
            &js_compat(text, syntax),
            Jinja::from(minijinja::value::Serde(context)),
        )?;
        Ok(rendered)
    }

    /// Evaluates one expression (the inside of `${{ … }}`) to a JSON value; `None` when it is
    /// undefined.
    pub fn evaluate(&self, expression: &str, context: &Value) -> Result<Option<Value>, ExprError> {
        let source = compat_expression(expression);
        let env = self.env(Syntax::Backstage);
        let compiled = env.compile_expression(&source)?;
        let value = compiled.eval(Jinja::from(minijinja::value::Serde(context)))?;
        to_json(&value)
    }

    /// Renders a step input, `if:`, `each:` or output value the way Backstage does: objects and
    /// arrays member by member; a string that is exactly one `${{ … }}` keeps the type of what it
    /// evaluates to; any other string is rendered as text. `None` means "drop this key": the
    /// expression was undefined or the text rendered empty.
    pub fn render_value(&self, value: &Value, context: &Value) -> Result<Option<Value>, ExprError> {
        Ok(match value {
            Value::String(text) => {
                if let Some(expression) = single_expression(text) {
                    self.evaluate(expression, context)?
                } else {
                    let rendered = self.render_text(Syntax::Backstage, text, context)?;
                    if rendered.is_empty() {
                        None
                    } else if single_block(text) {
                        // One `{% … %}` block keeps the type of what it renders, as in Backstage
                        // (`{% if x %}true{% else %}false{% endif %}` is a boolean).
                        Some(serde_json::from_str(&rendered).unwrap_or(Value::String(rendered)))
                    } else {
                        Some(Value::String(rendered))
                    }
                }
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    // An element that renders to nothing keeps its place, as in Backstage.
                    out.push(self.render_value(item, context)?.unwrap_or(Value::Null));
                }
                Some(Value::Array(out))
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (key, member) in map {
                    if let Some(rendered) = self.render_value(member, context)? {
                        out.insert(key.clone(), rendered);
                    }
                }
                Some(Value::Object(out))
            }
            other => Some(other.clone()),
        })
    }
}

/// Backstage's truthiness for `if:` and page `when:`: a non-empty array, or any JavaScript-truthy
/// value (so the string `"false"` is true, as it is in Backstage).
pub fn is_truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(_)) => true,
    }
}

/// The expression inside `text` when `text` is exactly one `${{ … }}`.
pub fn single_expression(text: &str) -> Option<&str> {
    // Surrounding whitespace makes several nodes, and so a string, in Backstage.
    let inner = text.strip_prefix("${{")?.strip_suffix("}}")?;
    (!inner.contains("${{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

/// Whether `text` is one statement block from its first character to its last.
fn single_block(text: &str) -> bool {
    text.starts_with("{%") && text.ends_with("%}")
}

/// Whether `text` contains anything the syntax would interpret.
fn has_markup(text: &str, syntax: Syntax) -> bool {
    let variable = match syntax {
        Syntax::Backstage => "${{",
        Syntax::Cookiecutter => "{{",
    };
    text.contains(variable) || text.contains("{%") || text.contains("{#")
}

fn environment(syntax: Syntax) -> Environment<'static> {
    let mut env = Environment::new();
    let variable = match syntax {
        Syntax::Backstage => "${{",
        Syntax::Cookiecutter => "{{",
    };
    let config = SyntaxConfig::builder()
        .block_delimiters("{%", "%}")
        .variable_delimiters(variable, "}}")
        .comment_delimiters("{#", "#}")
        .keep_trailing_newline(true)
        .build()
        .expect("the delimiters are distinct");
    env.set_syntax(config);
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_formatter(javascript_format);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION);
    filters::register(&mut env);
    env
}

/// Prints a value into text the way JavaScript's `String()` does, as Nunjucks does: `none` and
/// undefined as nothing, lists joined with commas, objects as `[object Object]`.
fn javascript_format(
    out: &mut minijinja::Output,
    _: &mut minijinja::State,
    value: &Jinja,
) -> Result<(), minijinja::Error> {
    out.write_str(&javascript_string(value))
        .map_err(minijinja::Error::from)
}

fn javascript_string(value: &Jinja) -> String {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.to_owned(),
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()
            .map(|items| {
                items
                    .map(|item| javascript_string(&item))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        ValueKind::Map if !value.is_safe() => "[object Object]".to_owned(),
        _ => value.to_string(),
    }
}

/// A minijinja value as JSON; `None` for undefined. Values JSON cannot hold (functions, macros)
/// are refused rather than silently dropped.
fn to_json(value: &Jinja) -> Result<Option<Value>, ExprError> {
    if value.is_undefined() {
        return Ok(None);
    }
    serde_json::to_value(value).map(Some).map_err(|e| {
        ExprError(format!(
            "the expression's value cannot be used as data: {e}"
        ))
    })
}

/// Rewrites JavaScript operators inside the template's tags (never in the surrounding text).
fn js_compat(text: &str, syntax: Syntax) -> String {
    let open_variable = match syntax {
        Syntax::Backstage => "${{",
        Syntax::Cookiecutter => "{{",
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = [(open_variable, "}}"), ("{%", "%}")]
            .into_iter()
            .filter_map(|(open, close)| rest.find(open).map(|at| (at, open, close)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + open.len()]);
        rest = &rest[at + open.len()..];
        let end = tag_end(rest, close).unwrap_or(rest.len());
        let inner = &rest[..end];
        if open == "{%" {
            out.push_str(&compat_statement(inner));
        } else {
            out.push_str(&compat_expression(inner));
        }
        rest = &rest[end..];
    }
}

/// Where the tag closes, skipping string literals.
fn tag_end(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if text[i..].starts_with(close) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// Nunjucks' `elseif` is minijinja's `elif`.
fn compat_statement(inner: &str) -> String {
    let trimmed = inner.trim_start_matches(['-', '+', ' ', '\t', '\n', '\r']);
    let expression = compat_expression(inner);
    if let Some(rest) = trimmed.strip_prefix("elseif")
        && rest.starts_with(char::is_whitespace)
    {
        return expression.replacen("elseif", "elif", 1);
    }
    expression
}

/// JavaScript and Nunjucks spellings minijinja does not share, outside string literals: `===`
/// and `!==` become `==` and `!=`, and bare object keys (`{ defaultKind: 'group' }`, which
/// Nunjucks reads as strings) are quoted.
pub(super) fn compat_expression(expression: &str) -> String {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::with_capacity(expression.len() + 8);
    let mut brackets: Vec<char> = Vec::new();
    // The last character written that was not whitespace.
    let mut last = ' ';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            out.push(c);
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                out.push(d);
                i += 1;
                if d == '\\' && i < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                } else if d == c {
                    break;
                }
            }
            last = c;
            continue;
        }
        if (c == '=' || c == '!')
            && chars.get(i + 1) == Some(&'=')
            && chars.get(i + 2) == Some(&'=')
        {
            out.push(c);
            out.push('=');
            i += 3;
            last = '=';
            continue;
        }
        let starts_word = c.is_alphabetic() || c == '_' || c == '$';
        if starts_word && brackets.last() == Some(&'{') && (last == '{' || last == ',') {
            let end = (i..chars.len())
                .find(|&j| !(chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$'))
                .unwrap_or(chars.len());
            let after = (end..chars.len()).find(|&k| !chars[k].is_whitespace());
            let word: String = chars[i..end].iter().collect();
            if after.is_some_and(|k| chars[k] == ':') {
                out.push('"');
                out.push_str(&word);
                out.push('"');
            } else {
                out.push_str(&word);
            }
            i = end;
            last = 'a';
            continue;
        }
        match c {
            '{' | '[' | '(' => brackets.push(c),
            '}' | ']' | ')' => {
                brackets.pop();
            }
            _ => {}
        }
        out.push(c);
        if !c.is_whitespace() {
            last = c;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
