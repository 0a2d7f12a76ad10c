//! Reading descriptor files: multi-document YAML (or JSON), with limits so that a hostile upload
//! cannot exhaust memory, and errors that name the document, line and column.

mod strict;

use serde_json::Value;

use self::strict::Strict;
use super::Problem;

/// Largest descriptor text accepted in one piece (file, upload or fetched URL).
pub const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;
/// Most documents accepted from one text.
pub const MAX_DOCUMENTS: usize = 200_000;

/// Parses every document of `text`; `source` names it in problems. Empty documents are skipped.
pub fn parse(source: &str, text: &str) -> Result<Vec<Value>, Vec<Problem>> {
    let mut documents = Vec::new();
    parse_each(source, text, |_, document| documents.push(document))?;
    Ok(documents)
}

/// Parses the documents of `text` one at a time, handing each to `each` with its position (from
/// 0), so that a caller can reduce it before the next is parsed. Stops at the first document that
/// is not valid YAML.
pub fn parse_each(
    source: &str,
    text: &str,
    mut each: impl FnMut(usize, Value),
) -> Result<(), Vec<Problem>> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(vec![Problem::new(
            source,
            None,
            "(document)",
            format!(
                "is {} bytes; at most {MAX_TEXT_BYTES} bytes are accepted",
                text.len()
            ),
        )]);
    }
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        if index >= MAX_DOCUMENTS {
            return Err(vec![Problem::new(
                source,
                None,
                "(document)",
                format!("has more than {MAX_DOCUMENTS} documents"),
            )]);
        }
        // serde_yaml_ng refuses alias expansion beyond a fixed budget ("repetition limit
        // exceeded"), which is what stops billion-laughs documents.
        match <Strict as serde::Deserialize>::deserialize(document) {
            Ok(Strict(Value::Null)) => {}
            Ok(Strict(value)) => each(index, value),
            Err(error) => {
                let at = error
                    .location()
                    .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                    .unwrap_or_default();
                let message = error.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                return Err(vec![Problem::new(
                    source,
                    Some(index),
                    "(yaml)",
                    format!("is not valid YAML{at}: {message}"),
                )]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_and_column() {
        let text = "kind: Component\nmetadata:\n  name: a: b\n";
        let problems = parse("upload", text).expect_err("invalid");
        assert_eq!(problems.len(), 1);
        let message = problems[0].to_string();
        assert!(
            message
                .starts_with("upload: document 1: (yaml): is not valid YAML at line 3, column 10"),
            "{message}"
        );
    }

    #[test]
    fn refuses_alias_bombs_quickly() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut previous = 'a';
        for name in 'b'..='j' {
            text.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
            previous = name;
        }
        let started = std::time::Instant::now();
        let problems = parse("bomb.yaml", &text).expect_err("refused");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(
            problems[0].to_string().contains("not valid YAML"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn refuses_duplicate_keys() {
        let problems = parse(
            "dup.yaml",
            "kind: Component\nmetadata:\n  name: a\n  name: b\n",
        )
        .expect_err("duplicate");
        let message = problems[0].to_string();
        assert!(
            message.contains("\"name\" appears more than once"),
            "{message}"
        );
        assert!(message.contains("line"), "{message}");
    }

    #[test]
    fn reads_non_string_keys_as_strings() {
        let docs = parse("x", "kind: A\nspec:\n  1: one\n  true: yes\n").expect("valid");
        assert_eq!(docs[0]["spec"]["1"], "one");
        assert_eq!(docs[0]["spec"]["true"], "yes");
    }

    #[test]
    fn skips_empty_documents() {
        let docs = parse("x", "---\n---\nkind: A\n---\n").expect("valid");
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn refuses_oversized_text() {
        let text = "#".repeat(MAX_TEXT_BYTES + 1);
        assert!(
            parse("big", &text).expect_err("too big")[0]
                .to_string()
                .contains("at most")
        );
    }
}
