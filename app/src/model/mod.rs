//! View models: what the server functions send to the pages. They are plain data so the browser
//! build, which cannot link the domain crate, can use them too.

use serde::{Deserialize, Serialize};

mod approvals;
mod create;
mod environments;
pub mod fleet;
mod guardrails;
pub use approvals::*;
pub use create::*;
pub use environments::*;
pub use guardrails::*;

/// A page the server rendered to HTML, for pages without interactive parts: the browser build
/// then carries none of their rendering code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub title: String,
    pub html: String,
}

/// The parts of a task's page that change while it runs, rendered by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRender {
    pub head_html: String,
    pub steps_html: String,
    /// The cancel button, while the user may still cancel.
    pub cancel_html: String,
    /// The log lines after the event asked for.
    pub log_html: String,
    /// The last event included (the one asked for when none is new).
    pub last_event_id: i64,
    pub finished: bool,
}

/// The signed-in user as the portal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub entity_ref: String,
    pub display_name: String,
    pub email: Option<String>,
    pub teams: Vec<TeamView>,
    pub platform_admin: bool,
}

/// A team, by reference and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub entity_ref: String,
    pub display_name: String,
}

/// One entity in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRow {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
}

impl EntityRow {
    /// The portal path of the entity's page.
    pub fn href(&self) -> String {
        entity_path(&self.kind, &self.namespace, &self.name)
    }

    /// Whether `needle` (already lowercase) occurs in the name, title, kind, type or description.
    pub fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || [
                Some(&self.name),
                self.title.as_ref(),
                Some(&self.kind),
                self.spec_type.as_ref(),
                self.description.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|field| field.to_lowercase().contains(needle))
    }
}

/// Everything the home page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    pub user: UserView,
    pub owned: Vec<EntityRow>,
}

/// What the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// Whether the development sign-in is enabled (`auth_mode = "dev"`).
    pub dev_sign_in: bool,
    /// Known users (reference, display name), offered by the development sign-in.
    pub users: Vec<(String, String)>,
    /// The OpenID Connect provider's name, when sign-in goes through it.
    pub oidc_provider: Option<String>,
}

/// The portal path of the entity `kind:namespace/name` (any case); the kind is lowercased because
/// the page looks entities up by their normalised reference.
pub fn entity_path(kind: &str, namespace: &str, name: &str) -> String {
    format!(
        "/catalog/{}/{}/{}",
        encode_segment(namespace),
        encode_segment(&kind.to_ascii_lowercase()),
        encode_segment(name)
    )
}

/// The portal path of a normalised reference `kind:namespace/name`.
pub fn ref_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    entity_path(kind, namespace, name)
}

/// Percent-encodes `text` for a URL path segment or query value. Unreserved characters stay as
/// they are, and so do `:` and `/` in query values, which keeps entity references readable in
/// shared links (`owner=group:default/payments`).
fn encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes one path segment.
pub fn encode_segment(text: &str) -> String {
    encode(text, b"")
}

/// Percent-encodes one query value.
pub fn encode_query_value(text: &str) -> String {
    encode(text, b":/")
}

/// Rows per page of the catalog table.
pub const CATALOG_PAGE_SIZE: u64 = 25;

/// The catalog's facets: URL parameter and heading. Every parameter may repeat; values of one
/// facet are alternatives, different facets must all match.
pub const FACETS: [(&str, &str); 7] = [
    ("kind", "Kind"),
    ("type", "Type"),
    ("owner", "Owner"),
    ("lifecycle", "Lifecycle"),
    ("system", "System"),
    ("namespace", "Namespace"),
    ("tag", "Tags"),
];

/// The catalog table's sortable columns: URL value and heading.
pub const SORT_COLUMNS: [(&str, &str); 7] = [
    ("name", "Name"),
    ("kind", "Kind"),
    ("type", "Type"),
    ("owner", "Owner"),
    ("lifecycle", "Lifecycle"),
    ("system", "System"),
    ("description", "Description"),
];

/// The whole state of the catalog page, which its URL carries so that a link shares the view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogParams {
    /// Full-text search term.
    pub q: String,
    /// Selected facet values as (parameter, value), in URL order.
    pub selected: Vec<(String, String)>,
    /// One of [`SORT_COLUMNS`]; `name` when empty or unknown.
    pub sort: String,
    pub descending: bool,
    /// From 1.
    pub page: u64,
}

impl CatalogParams {
    /// Reads the parameters from a query string's values; `values(name)` returns every value of
    /// parameter `name`. Unknown columns, empty values and bad page numbers fall back to defaults.
    pub fn from_query(values: impl Fn(&str) -> Vec<String>) -> Self {
        let first = |name: &str| values(name).into_iter().next().unwrap_or_default();
        let mut selected = Vec::new();
        for (param, _) in FACETS {
            for value in values(param) {
                let value = value.trim().to_owned();
                if !value.is_empty()
                    && !selected.iter().any(|(p, v): &(String, String)| {
                        p == param && v.eq_ignore_ascii_case(&value)
                    })
                {
                    selected.push((param.to_owned(), value));
                }
            }
        }
        let sort = first("sort");
        let sort = if SORT_COLUMNS.iter().any(|(c, _)| *c == sort) {
            sort
        } else {
            "name".to_owned()
        };
        Self {
            q: first("q").trim().to_owned(),
            selected,
            sort,
            descending: first("dir") == "desc",
            page: first("page")
                .parse::<u64>()
                .ok()
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    /// The selected values of facet `param`.
    pub fn values(&self, param: &str) -> Vec<&str> {
        self.selected
            .iter()
            .filter(|(p, _)| p == param)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `value` of facet `param` is selected (ignoring case, as the filter does).
    pub fn is_selected(&self, param: &str, value: &str) -> bool {
        self.selected
            .iter()
            .any(|(p, v)| p == param && v.eq_ignore_ascii_case(value))
    }

    /// The query string (without `?`); default values are left out so that links stay short.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        for (param, _) in FACETS {
            for value in self.values(param) {
                pairs.push((param, value.to_owned()));
            }
        }
        if self.sort != "name" && !self.sort.is_empty() {
            pairs.push(("sort", self.sort.clone()));
        }
        if self.descending {
            pairs.push(("dir", "desc".to_owned()));
        }
        if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The catalog page's address for these parameters.
    pub fn href(&self) -> String {
        let query = self.to_query();
        if query.is_empty() {
            "/catalog".to_owned()
        } else {
            format!("/catalog?{query}")
        }
    }

    /// The view with `value` of facet `param` switched on or off, from the first page.
    pub fn toggled(&self, param: &str, value: &str) -> Self {
        let mut next = self.clone();
        if next.is_selected(param, value) {
            next.selected
                .retain(|(p, v)| !(p == param && v.eq_ignore_ascii_case(value)));
        } else {
            next.selected.push((param.to_owned(), value.to_owned()));
        }
        next.page = 1;
        next
    }

    /// The view without any value of facet `param`, from the first page.
    pub fn cleared(&self, param: &str) -> Self {
        let mut next = self.clone();
        next.selected.retain(|(p, _)| p != param);
        next.page = 1;
        next
    }

    /// The view sorted by `column`: ascending first, descending when it already was ascending.
    pub fn sorted_by(&self, column: &str) -> Self {
        let mut next = self.clone();
        next.descending = self.sort == column && !self.descending;
        next.sort = column.to_owned();
        next.page = 1;
        next
    }

    /// The view at page `page`.
    pub fn at_page(&self, page: u64) -> Self {
        let mut next = self.clone();
        next.page = page.max(1);
        next
    }
}

/// One value of a facet with how many entities have it among those the other filters leave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    /// The value as the URL carries it.
    pub value: String,
    /// What the page shows (a team's display name for owners).
    pub label: String,
    pub count: u64,
}

/// One facet of the catalog page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetView {
    /// URL parameter, one of [`FACETS`].
    pub param: String,
    pub title: String,
    pub values: Vec<FacetValue>,
}

/// One row of the catalog table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRow {
    pub entity_ref: String,
    pub href: String,
    pub kind: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner: Option<RefLink>,
    pub system: Option<RefLink>,
}

/// A reference with what the page shows for it and, if the entity exists, its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefLink {
    pub entity_ref: String,
    pub label: String,
    /// `None` when the referenced entity does not exist.
    pub href: Option<String>,
}

/// Everything the catalog page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogView {
    pub rows: Vec<CatalogRow>,
    pub total: u64,
    pub facets: Vec<FacetView>,
}

/// How to reach a team or person: the "who owns this and how do I reach them" answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    pub entity_ref: String,
    /// `Group`, `User`, or the kind the reference names when the entity does not exist.
    pub kind: String,
    pub display_name: String,
    pub email: Option<String>,
    /// `None` when the entity does not exist.
    pub href: Option<String>,
}

/// One relation of an entity, with enough about the other end to list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationView {
    /// `ownedBy`, `hasMember`, …
    pub relation: String,
    pub target: RefLink,
    /// The other end's kind as the model spells it, or the reference's kind when it is missing.
    pub kind: String,
    pub spec_type: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
}

/// A link from `metadata.links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub url: String,
    pub title: String,
}

/// An API's definition as authored, with its type (`openapi`, `asyncapi`, `graphql`, `grpc`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiDefinitionView {
    pub api_type: String,
    pub text: String,
}

/// Everything an entity page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityView {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
    /// The description rendered from Markdown and sanitised on the server.
    pub description_html: Option<String>,
    pub links: Vec<LinkView>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// Who owns the entity (from its `ownedBy` relation).
    pub owner: Option<ContactView>,
    /// The entity's own contact details, for groups and users (`spec.profile`).
    pub profile: Option<ContactView>,
    pub system: Option<RefLink>,
    /// Every relation, both directions, sorted by type and target.
    pub relations: Vec<RelationView>,
    /// The relations this entity declares towards entities that do not exist.
    pub dangling: Vec<RelationView>,
    /// The relations drawn as SVG around the entity, generated and escaped on the server.
    pub graph_svg: String,
    pub definition: Option<ApiDefinitionView>,
}

impl EntityView {
    /// The relations of type `relation`.
    pub fn related(&self, relation: &str) -> Vec<RelationView> {
        self.relations
            .iter()
            .filter(|r| r.relation == relation)
            .cloned()
            .collect()
    }
}

/// One problem of an upload: which document (from 1), which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    pub document: Option<usize>,
    pub field: String,
    pub message: String,
}

/// What a preview found or an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// Whether this was a preview (nothing stored).
    pub dry_run: bool,
    /// Whether entities were stored.
    pub stored: bool,
    /// Documents found in the text.
    pub documents: usize,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// References to entities that do not exist (kept, reported).
    pub warnings: Vec<String>,
    /// Why nothing was (or would be) stored.
    pub problems: Vec<ImportProblem>,
    /// How many list entries were left out to keep the result small enough for a URL.
    pub omitted: usize,
}

impl ImportOutcome {
    /// Whether the text is valid and could be (or was) stored.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Keeps at most `limit` entries per list (and short messages), counting what was dropped, so
    /// the outcome fits into the address of the page a browser without JavaScript is sent to.
    pub fn truncated(mut self, limit: usize) -> Self {
        let mut omitted = self.omitted;
        for list in [
            &mut self.added,
            &mut self.updated,
            &mut self.unchanged,
            &mut self.warnings,
        ] {
            if list.len() > limit {
                omitted += list.len() - limit;
                list.truncate(limit);
            }
        }
        if self.problems.len() > limit {
            omitted += self.problems.len() - limit;
            self.problems.truncate(limit);
        }
        for problem in &mut self.problems {
            if problem.message.chars().count() > 300 {
                problem.message = problem.message.chars().take(300).collect::<String>() + "…";
            }
        }
        self.omitted = omitted;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &[(&str, &str)]) -> CatalogParams {
        CatalogParams::from_query(|name| {
            query
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
                .collect()
        })
    }

    #[test]
    fn catalog_params_round_trip_through_the_query_string() {
        let p = params(&[
            ("q", "pay ments"),
            ("kind", "Component"),
            ("tag", "java"),
            ("tag", "pci"),
            ("owner", "group:default/payments"),
            ("sort", "owner"),
            ("dir", "desc"),
            ("page", "3"),
        ]);
        assert_eq!(
            p.to_query(),
            "q=pay%20ments&kind=Component&owner=group:default/payments&tag=java&tag=pci&sort=owner&dir=desc&page=3"
        );
        assert!(p.is_selected("kind", "component"));
        assert_eq!(p.values("tag"), ["java", "pci"]);
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let p = params(&[("sort", "evil"), ("page", "0"), ("kind", " "), ("q", "  ")]);
        assert_eq!(
            p,
            CatalogParams {
                sort: "name".into(),
                page: 1,
                ..Default::default()
            }
        );
        assert_eq!(p.href(), "/catalog");
    }

    #[test]
    fn toggling_and_sorting_start_again_at_the_first_page() {
        let p = params(&[("kind", "component"), ("page", "2")]);
        assert_eq!(p.toggled("kind", "Component").href(), "/catalog");
        assert_eq!(
            p.toggled("tag", "java").href(),
            "/catalog?kind=component&tag=java"
        );
        assert_eq!(
            p.sorted_by("name").href(),
            "/catalog?kind=component&dir=desc"
        );
        assert_eq!(
            p.sorted_by("kind").href(),
            "/catalog?kind=component&sort=kind"
        );
        assert_eq!(p.at_page(3).href(), "/catalog?kind=component&page=3");
        assert_eq!(p.cleared("kind").href(), "/catalog");
    }

    #[test]
    fn entity_paths_lowercase_the_kind_and_encode_segments() {
        assert_eq!(
            ref_path("component:default/payments-api"),
            "/catalog/default/component/payments-api"
        );
        assert_eq!(
            entity_path("API", "default", "a b"),
            "/catalog/default/api/a%20b"
        );
    }

    #[test]
    fn outcomes_are_truncated_for_urls() {
        let outcome = ImportOutcome {
            added: (0..10).map(|i| i.to_string()).collect(),
            problems: vec![ImportProblem {
                document: Some(1),
                field: "f".into(),
                message: "x".repeat(400),
            }],
            ..Default::default()
        }
        .truncated(4);
        assert_eq!(outcome.added.len(), 4);
        assert_eq!(outcome.omitted, 6);
        assert_eq!(outcome.problems[0].message.chars().count(), 301);
    }
}
