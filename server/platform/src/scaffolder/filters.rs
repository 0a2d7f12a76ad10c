//! The filters Backstage's templater adds to Nunjucks (`parseRepoUrl`, `parseEntityRef`, `pick`,
//! `projectSlug`), Nunjucks built-ins minijinja names differently or lacks (`dump`), and
//! cookiecutter's `jsonify`. Each behaves as its Backstage counterpart, including which inputs
//! it refuses.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value};

/// Every filter a template may use, for error messages and static checks.
pub const NAMES: &[&str] = &[
    "parseRepoUrl",
    "parseEntityRef",
    "pick",
    "projectSlug",
    "dump",
    "jsonify",
    // minijinja's built-ins that Nunjucks shares.
    "abs",
    "attr",
    "batch",
    "capitalize",
    "default",
    "d",
    "dictsort",
    "escape",
    "e",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
];

/// Adds the filters to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("parseRepoUrl", parse_repo_url);
    env.add_filter("projectSlug", project_slug);
    env.add_filter("parseEntityRef", parse_entity_ref);
    env.add_filter("pick", pick);
    env.add_filter("dump", dump);
    env.add_filter("jsonify", jsonify);
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// The parts of a repository URL in the scaffolder's form, `host?owner=o&repo=r` (with
/// `organization`, `workspace` and `project` for the hosts that use them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepoUrl {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub repo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl RepoUrl {
    /// Parses `text` as Backstage's `parseRepoUrl` does: it must be a host (with an optional
    /// port) followed by a query naming at least the repository, and, except for hosts that
    /// group repositories by project, its owner.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(&format!("https://{text}")).map_err(|e| {
            format!(
                "{text:?} is not a repository URL ({e}); expected host?owner=<owner>&repo=<repo>"
            )
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("{text:?} names no host")),
        };
        if url.path() != "/" && !url.path().is_empty() {
            return Err(format!(
                "{text:?} has a path; expected host?owner=<owner>&repo=<repo>"
            ));
        }
        let get = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
                .filter(|v| !v.is_empty())
        };
        let project = get("project");
        let repo = get("repo").ok_or_else(|| format!("{text:?} has no repo"))?;
        let owner = get("owner");
        // Bitbucket and Azure DevOps group repositories by project instead of by owner.
        if owner.is_none() && project.is_none() {
            return Err(format!("{text:?} has no owner"));
        }
        Ok(Self {
            host,
            owner,
            repo,
            organization: get("organization"),
            workspace: get("workspace"),
            project,
        })
    }
}

fn parse_repo_url(text: String) -> Result<Value, Error> {
    RepoUrl::parse(&text)
        .map(|parsed| Value::from(minijinja::value::Serde(&parsed)))
        .map_err(|e| invalid(format!("parseRepoUrl: {e}")))
}

fn project_slug(text: String) -> Result<Value, Error> {
    let parsed = RepoUrl::parse(&text).map_err(|e| invalid(format!("projectSlug: {e}")))?;
    let owner = parsed.owner.or(parsed.project).unwrap_or_default();
    Ok(Value::from(format!("{owner}/{}", parsed.repo)))
}

/// `ref | parseEntityRef({ defaultKind, defaultNamespace })`: kind, namespace and name as
/// written (Backstage keeps their case).
fn parse_entity_ref(text: String, context: Option<Value>) -> Result<Value, Error> {
    let option = |key: &str| -> Result<Option<String>, Error> {
        let Some(context) = &context else {
            return Ok(None);
        };
        let value = context.get_attr(key)?;
        Ok(match value.kind() {
            ValueKind::Undefined | ValueKind::None => None,
            _ => Some(value.to_string()),
        })
    };
    let default_kind = option("defaultKind")?;
    let default_namespace = option("defaultNamespace")?.unwrap_or_else(|| "default".to_owned());
    let slash = text.find('/');
    let colon = text.find(':').filter(|c| slash.is_none_or(|s| *c < s));
    let kind = colon.map(|c| text[..c].to_owned()).or(default_kind);
    let namespace = slash
        .map(|s| text[colon.map_or(0, |c| c + 1)..s].to_owned())
        .unwrap_or(default_namespace);
    let name = &text[slash.map_or(colon.map_or(0, |c| c + 1), |s| s + 1)..];
    let Some(kind) = kind.filter(|k| !k.is_empty()) else {
        return Err(invalid(format!(
            "parseEntityRef: {text:?} has no kind and no defaultKind was given"
        )));
    };
    if namespace.is_empty() || name.is_empty() {
        return Err(invalid(format!(
            "parseEntityRef: {text:?} is not an entity reference; expected [kind:][namespace/]name"
        )));
    }
    Ok(Value::from(minijinja::value::Serde(serde_json::json!({
        "kind": kind, "namespace": namespace, "name": name
    }))))
}

fn pick(object: Value, key: String) -> Result<Value, Error> {
    object.get_attr(&key)
}

/// Nunjucks' `dump`: `JSON.stringify(value, null, spaces)`.
fn dump(value: Value, spaces: Option<Value>) -> Result<String, Error> {
    let json = serde_json::to_value(&value).map_err(|e| invalid(format!("dump: {e}")))?;
    let indent = spaces
        .and_then(|s| i64::try_from(s).ok())
        .filter(|n| *n > 0)
        .map(|n| n.min(10) as usize);
    Ok(match indent {
        Some(n) => stringify_indented(&json, n),
        None => json.to_string(),
    })
}

/// Cookiecutter's `jsonify`, with its optional indent keyword.
fn jsonify(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<i64> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    dump(value, indent.map(Value::from))
}

fn stringify_indented(value: &serde_json::Value, spaces: usize) -> String {
    let indent = vec![b' '; spaces];
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&indent);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut serializer).expect("JSON values always serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
