//! Entity references inside descriptors, parsed exactly as Backstage parses them, so that every
//! file Backstage accepts is accepted here: `[kind:][namespace/]name`, where a colon after the
//! first slash belongs to the name, the kind defaults per field and the namespace defaults to the
//! referring entity's own.

/// Parses `text` into the lowercase form `kind:namespace/name`, or explains why it cannot.
pub fn parse(text: &str, default_kind: &str, default_namespace: &str) -> Result<String, String> {
    let slash = text.find('/');
    let colon = text.find(':').filter(|c| slash.is_none_or(|s| *c < s));
    let kind = colon.map(|c| &text[..c]);
    let namespace = slash.map(|s| &text[colon.map_or(0, |c| c + 1)..s]);
    let name = &text[slash.map_or(colon.map_or(0, |c| c + 1), |s| s + 1)..];
    if kind == Some("") || namespace == Some("") || name.is_empty() {
        return Err(format!(
            "{text:?} is not a valid entity reference; expected [<kind>:][<namespace>/]<name>"
        ));
    }
    Ok(format!(
        "{}:{}/{}",
        kind.unwrap_or(default_kind).to_lowercase(),
        namespace.unwrap_or(default_namespace).to_lowercase(),
        name.to_lowercase()
    ))
}

/// Splits a normalised reference into kind, namespace and name.
pub fn split(entity_ref: &str) -> (&str, &str, &str) {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    (kind, namespace, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_backstage_parsing() {
        let p = |t: &str| parse(t, "Group", "team-ns");
        assert_eq!(p("payments").as_deref(), Ok("group:team-ns/payments"));
        assert_eq!(p("user:Ada").as_deref(), Ok("user:team-ns/ada"));
        assert_eq!(p("default/ops").as_deref(), Ok("group:default/ops"));
        assert_eq!(p("User:Default/Ada").as_deref(), Ok("user:default/ada"));
        // A colon after the slash belongs to the name.
        assert_eq!(p("ns/a:b").as_deref(), Ok("group:ns/a:b"));
        for bad in ["", ":x", "user:", "user:/x", "/x", "ns/"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn splits_normalised_references() {
        assert_eq!(split("component:default/a"), ("component", "default", "a"));
    }
}
