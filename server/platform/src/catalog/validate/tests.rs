//! Validation tables: each rule at its boundaries, in the style of Backstage's own validator tests.

use rstest::rstest;
use serde_json::{Value, json};

use super::*;

fn component(metadata: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": metadata,
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
    })
}

fn errors(entity: &Value) -> Vec<String> {
    match validate(entity) {
        Ok(_) => Vec::new(),
        Err(violations) => violations.iter().map(ToString::to_string).collect(),
    }
}

#[rstest]
#[case("a", true)]
#[case("a-b", true)]
#[case("a--b", true)]
#[case("a..b", true)]
#[case("a_b", true)]
#[case("A9", true)]
#[case(&"a".repeat(63), true)]
#[case(&"a".repeat(64), false)]
#[case("", false)]
#[case("-a-b", false)]
#[case("a-", false)]
#[case("a/b", false)]
#[case("a b", false)]
#[case("ä", false)]
fn names(#[case] name: &str, #[case] valid: bool) {
    assert_eq!(is_valid_name(name), valid, "{name:?}");
    let errors = errors(&component(json!({ "name": name })));
    assert_eq!(errors.is_empty(), valid, "{name:?}: {errors:?}");
    if !valid {
        assert!(errors[0].starts_with("metadata.name: "), "{errors:?}");
    }
}

#[rstest]
#[case("default", true)]
#[case("my-ns", true)]
#[case("a1", true)]
#[case(&"a".repeat(63), true)]
#[case(&"a".repeat(64), false)]
#[case("AZ09", false)]
#[case("a_b", false)]
#[case("a.b", false)]
#[case("-a", false)]
#[case("a--b", false)]
fn namespaces(#[case] namespace: &str, #[case] valid: bool) {
    assert_eq!(is_valid_namespace(namespace), valid, "{namespace:?}");
    let errors = errors(&component(json!({ "name": "x", "namespace": namespace })));
    assert_eq!(errors.is_empty(), valid, "{namespace:?}: {errors:?}");
}

#[rstest]
#[case("java", true)]
#[case("c++", true)]
#[case("c#", true)]
#[case("a:b", true)]
#[case("go-1", true)]
#[case(&"a".repeat(63), true)]
#[case(&"a".repeat(64), false)]
#[case("Java", false)]
#[case("go 1.15", false)]
#[case("a_b", false)]
#[case("a--b", false)]
#[case("", false)]
fn tags(#[case] tag: &str, #[case] valid: bool) {
    assert_eq!(is_valid_tag(tag), valid, "{tag:?}");
    let errors = errors(&component(json!({ "name": "x", "tags": [tag] })));
    assert_eq!(errors.is_empty(), valid, "{tag:?}: {errors:?}");
}

#[rstest]
#[case("simple", true)]
#[case("example.com/key", true)]
#[case("backstage.io/orphan", true)]
#[case("a.b.c/Key_1", true)]
#[case(&format!("{}/k", ["a"; 127].join(".")), true)]
#[case(&format!("{}.com/k", "a".repeat(250)), false)]
#[case("a/b/c", false)]
#[case("/key", false)]
#[case("Example.com/key", false)]
#[case("key-", false)]
fn label_and_annotation_keys(#[case] key: &str, #[case] valid: bool) {
    assert_eq!(is_valid_key(key), valid, "{key:?}");
    let errors = errors(&component(
        json!({ "name": "x", "annotations": { key: "v" } }),
    ));
    assert_eq!(errors.is_empty(), valid, "{key:?}: {errors:?}");
}

#[rstest]
#[case(json!(""), true)]
#[case(json!("value_1"), true)]
#[case(json!("bad value"), false)]
#[case(json!(1), false)]
#[case(json!(true), false)]
fn label_values(#[case] value: Value, #[case] valid: bool) {
    let errors = errors(&component(json!({ "name": "x", "labels": { "k": value } })));
    assert_eq!(errors.is_empty(), valid, "{errors:?}");
}

#[rstest]
#[case(json!("any text at all, even with spaces: yes"), true)]
#[case(json!(""), true)]
#[case(json!(123), false)]
#[case(json!(false), false)]
fn annotation_values(#[case] value: Value, #[case] valid: bool) {
    let errors = errors(&component(
        json!({ "name": "x", "annotations": { "k": value } }),
    ));
    assert_eq!(errors.is_empty(), valid, "{errors:?}");
    if !valid {
        assert!(
            errors[0].contains("quote numbers and booleans"),
            "{errors:?}"
        );
    }
}

#[rstest]
#[case(json!([{ "url": "https://example.com", "title": "Docs", "icon": "docs" }]), true)]
#[case(json!([{ "url": "https://example.com" }]), true)]
#[case(json!([{ "title": "no url" }]), false)]
#[case(json!([{ "url": "not a url" }]), false)]
#[case(json!([{ "url": "https://x", "title": " " }]), false)]
#[case(json!([{ "url": "https://x", "icon": "bad icon" }]), false)]
#[case(json!(["https://x"]), false)]
#[case(json!({ "url": "https://x" }), false)]
fn link_rules(#[case] links: Value, #[case] valid: bool) {
    let errors = errors(&component(json!({ "name": "x", "links": links })));
    assert_eq!(errors.is_empty(), valid, "{errors:?}");
}

#[rstest]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "x" }, "spec": { "type": "s", "lifecycle": "l", "owner": "o" }, "extra": 1 }), "extra: is not a known root field")]
#[case(json!({ "kind": "Component", "metadata": { "name": "x" }, "spec": {} }), "apiVersion: is required")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "metadata": { "name": "x" } }), "kind: is required")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Widget", "metadata": { "name": "x" } }), "kind: \"Widget\" is not a supported kind")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "spec": {} }), "metadata: is required")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "x" } }), "spec: is required for kind Component")]
#[case(json!({ "apiVersion": "backstage.io/v2", "kind": "Component", "metadata": { "name": "x" }, "spec": { "type": "s", "lifecycle": "l", "owner": "o" } }), "apiVersion: \"backstage.io/v2\" is not supported for kind Component")]
#[case(json!({ "apiVersion": "a/b/c", "kind": "Component", "metadata": { "name": "x" }, "spec": {} }), "apiVersion: \"a/b/c\" is not valid")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": 5 }, "spec": {} }), "metadata.name: expected a string, found a number")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "x" }, "spec": { "type": "s", "lifecycle": "l", "owner": "o", "providesApis": "a" } }), "spec.providesApis: expected a list of strings, found a string")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "x" }, "spec": { "type": "", "lifecycle": "l", "owner": "o" } }), "spec.type: must not be empty")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": { "name": "x" }, "spec": { "type": "openapi", "lifecycle": "l", "owner": "o" } }), "spec.definition: is required for kind API")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": { "name": "x" }, "spec": { "type": "team" } }), "spec.children: is required for kind Group")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": { "name": "x" }, "spec": { "memberOf": [1] } }), "spec.memberOf.0: expected a non-empty string, found 1")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": { "name": "x" }, "spec": { "presence": "maybe" } }), "spec.presence: \"maybe\" is not valid; expected one of required, optional")]
#[case(json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": { "name": "x" }, "spec": {} }), "spec.owner: is required for kind System")]
#[case(json!({ "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": { "name": "x" }, "spec": { "type": "service", "steps": {} } }), "spec.steps: expected a list, found an object")]
#[case(json!([1, 2]), "(root): expected an object, found a list")]
fn envelope_and_spec_rules(#[case] entity: Value, #[case] expected: &str) {
    let errors = errors(&entity);
    assert!(
        errors.iter().any(|e| e.starts_with(expected)),
        "expected {expected:?} in {errors:?}"
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let entity = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "bad name", "tags": ["Bad"] }, "spec": {} });
    let errors = errors(&entity);
    assert_eq!(errors.len(), 5, "{errors:?}");
}

#[rstest]
#[case("backstage.io/v1alpha1", "Component")]
#[case("backstage.io/v1beta1", "Component")]
#[case("backstage.io/v1beta1", "Group")]
#[case("backstage.io/v1alpha1", "component")]
fn accepted_api_versions_and_kinds(#[case] api_version: &str, #[case] kind: &str) {
    let spec = if kind.eq_ignore_ascii_case("group") {
        json!({ "type": "team", "children": [] })
    } else {
        json!({ "type": "s", "lifecycle": "l", "owner": "o" })
    };
    let entity = json!({ "apiVersion": api_version, "kind": kind, "metadata": { "name": "x" }, "spec": spec });
    assert_eq!(errors(&entity), Vec::<String>::new());
}
