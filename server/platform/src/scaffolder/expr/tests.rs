//! The expression table: type preservation, dropped keys, truthiness, JavaScript-isms, the
//! filters, escaping and the sandbox.

use serde_json::{Value, json};

use super::*;

fn context() -> Value {
    json!({
        "parameters": {
            "name": "billing",
            "count": 3,
            "enabled": true,
            "off": false,
            "tags": ["a", "b"],
            "repoUrl": "github.com?owner=acme&repo=billing",
            "owner": "group:default/payments",
            "catalog-info-url": "https://x/blob/main/c.yaml",
            "nested": { "deep": { "x": 1 } },
            "empty": ""
        },
        "steps": { "publish": { "output": { "remoteUrl": "https://git/acme/billing" } } },
        "user": { "ref": "user:default/ada", "entity": { "metadata": { "name": "ada" } } },
        "secrets": { "token": "s3cret" },
        "context": { "task": { "id": "t-1" } }
    })
}

fn render(value: Value) -> Option<Value> {
    Templater::new().render_value(&value, &context()).unwrap()
}

#[test]
fn one_expression_keeps_its_type() {
    let cases = [
        ("${{ parameters.count }}", json!(3)),
        ("${{ parameters.enabled }}", json!(true)),
        ("${{ parameters.tags }}", json!(["a", "b"])),
        ("${{ parameters.nested.deep }}", json!({ "x": 1 })),
        ("${{ parameters.count + 1 }}", json!(4)),
        (" ${{ parameters.count }} ", json!(" 3 ")),
        (
            "{% if not parameters.off %}true{% else %}false{% endif %}",
            json!(true),
        ),
        ("${{ parameters.name }}", json!("billing")),
        ("${{ parameters.count === 3 }}", json!(true)),
        ("${{ parameters.name !== 'billing' }}", json!(false)),
        (
            "${{ parameters['catalog-info-url'] | replace('/blob/', '/tree/') }}",
            json!("https://x/tree/main/c.yaml"),
        ),
        ("${{ parameters.tags is string }}", json!(false)),
        ("${{ parameters.name is string }}", json!(true)),
        ("${{ user.ref }}", json!("user:default/ada")),
        ("${{ context.task.id }}", json!("t-1")),
        (
            "${{ steps.publish.output.remoteUrl }}",
            json!("https://git/acme/billing"),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(render(json!(text)), Some(expected), "{text}");
    }
}

#[test]
fn text_renders_and_empty_drops_the_key() {
    assert_eq!(
        render(json!("svc-${{ parameters.name }}-${{ parameters.count }}")),
        Some(json!("svc-billing-3"))
    );
    // Undefined, and chained lookups through undefined, render as nothing: the key is dropped.
    assert_eq!(render(json!("${{ parameters.missing }}")), None);
    assert_eq!(
        render(json!("${{ parameters.missing.deeper.still }}")),
        None
    );
    assert_eq!(render(json!("${{ parameters.empty }}")), Some(json!("")));
    assert_eq!(render(json!("x${{ parameters.empty }}")), Some(json!("x")));
    assert_eq!(
        render(json!("${{ parameters.empty }}${{ parameters.empty }}")),
        None
    );
    assert_eq!(
        render(
            json!({ "a": "${{ parameters.missing }}", "b": 1, "c": ["${{ parameters.missing }}"] })
        ),
        Some(json!({ "b": 1, "c": [null] }))
    );
    // Text prints values as JavaScript does.
    assert_eq!(
        render(json!(
            "tags: ${{ parameters.tags }}; nested: ${{ parameters.nested }}; none: ${{ none }}; on: ${{ parameters.enabled }}; off: ${{ parameters.off }}"
        )),
        Some(json!(
            "tags: a,b; nested: [object Object]; none: ; on: true; off: false"
        ))
    );
    // Block tags work in strings.
    assert_eq!(
        render(json!(
            "{% if parameters.enabled %}on{% else %}off{% endif %}"
        )),
        Some(json!("on"))
    );
    assert_eq!(
        render(json!("{% for t in parameters.tags %}[{{t}}]{% endfor %}")),
        Some(json!("[{{t}}][{{t}}]")),
        "plain {{ }} is text in Backstage's syntax"
    );
    assert_eq!(
        render(json!("{% for t in parameters.tags %}[${{t}}]{% endfor %}")),
        Some(json!("[a][b]"))
    );
    assert_eq!(
        render(json!(
            "{% if parameters.off %}a{% elseif parameters.enabled %}b{% endif %}"
        )),
        Some(json!("b"))
    );
}

#[test]
fn no_escaping_and_js_operators_only_inside_tags() {
    assert_eq!(
        render(json!("<${{ 'a&b' }}> === x")),
        Some(json!("<a&b> === x"))
    );
    assert_eq!(render(json!("${{ 'a === b' }}")), Some(json!("a === b")));
}

#[test]
fn truthiness_follows_backstage() {
    assert!(!is_truthy(None));
    assert!(!is_truthy(Some(&json!(false))));
    assert!(!is_truthy(Some(&json!(0))));
    assert!(!is_truthy(Some(&json!(""))));
    assert!(!is_truthy(Some(&json!([]))));
    assert!(!is_truthy(Some(&json!(null))));
    assert!(is_truthy(Some(&json!("false"))));
    assert!(is_truthy(Some(&json!({}))));
    assert!(is_truthy(Some(&json!([0]))));
}

#[test]
fn filters() {
    assert_eq!(
        render(json!("${{ parameters.repoUrl | parseRepoUrl }}")),
        Some(json!({ "host": "github.com", "owner": "acme", "repo": "billing" }))
    );
    assert_eq!(
        render(json!("${{ (parameters.repoUrl | parseRepoUrl).repo }}")),
        Some(json!("billing"))
    );
    assert_eq!(
        render(json!("${{ parameters.repoUrl | projectSlug }}")),
        Some(json!("acme/billing"))
    );
    assert_eq!(
        render(json!("${{ parameters.owner | parseEntityRef }}")),
        Some(json!({ "kind": "group", "namespace": "default", "name": "payments" }))
    );
    assert_eq!(
        render(json!(
            "${{ 'payments' | parseEntityRef({ defaultKind: 'Group', defaultNamespace: 'ops' }) | pick('namespace') }}"
        )),
        Some(json!("ops"))
    );
    assert_eq!(
        render(json!("${{ parameters.nested | dump }}")),
        Some(json!("{\"deep\":{\"x\":1}}"))
    );
    let error = Templater::new()
        .render_value(&json!("${{ 'x' | parseEntityRef }}"), &context())
        .unwrap_err();
    assert!(error.0.contains("no kind"), "{error}");
    let error = Templater::new()
        .render_value(
            &json!("${{ 'github.com?repo=x' | parseRepoUrl }}"),
            &context(),
        )
        .unwrap_err();
    assert!(error.0.contains("no owner"), "{error}");
    let error = Templater::new()
        .render_value(&json!("${{ '' | now }}"), &context())
        .unwrap_err();
    assert!(error.0.contains("unknown filter"), "{error}");
}

#[test]
fn cookiecutter_compat() {
    let context = json!({ "cookiecutter": { "name": "docs", "destination": { "owner": "acme", "repo": "docs" } } });
    let out = Templater::new()
        .render_text(
            Syntax::Cookiecutter,
            "name: {{cookiecutter.name | jsonify}}\nslug: {{cookiecutter.destination.owner + \"/\" + cookiecutter.destination.repo}}\n",
            &context,
        )
        .unwrap();
    assert_eq!(out, "name: \"docs\"\nslug: acme/docs\n");
}

#[test]
fn runaway_expressions_stop() {
    let templater = Templater::new();
    let error = templater
        .render_text(
            Syntax::Backstage,
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            &context(),
        )
        .unwrap_err();
    assert!(error.0.contains("more work"), "{error}");
    let error = templater
        .render_text(
            Syntax::Backstage,
            "{% macro f(n) %}${{ f(n) }}{% endmacro %}${{ f(1) }}",
            &context(),
        )
        .unwrap_err();
    assert!(!error.0.is_empty());
    assert!(templater.parse("${{ parameters. }}").is_err());
    assert!(templater.parse("{% if x %}").is_err());
    assert!(
        templater
            .parse("${{ parameters.x | lower }} and {% if a %}b{% endif %}")
            .is_ok()
    );
}
