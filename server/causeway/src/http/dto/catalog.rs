//! The catalog API's transfer objects, in Backstage's shapes.
//!
//! Entities themselves are free-form JSON objects: their bodies are served as stored (with
//! `metadata.uid`, `etag`, `generation` and `relations` spliced in), so [`Entity`] and
//! [`PartialEntity`] only document them: the envelope Backstage guarantees, any other member
//! allowed.

use std::collections::BTreeMap;

use causeway_platform::catalog::{self, locations};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::{RefOr, schema};
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .build()
}

fn string_map(description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            ObjectBuilder::new().schema_type(Type::String).build(),
        )))))
        .description(Some(description))
        .build()
}

fn free_object(description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
        .description(Some(description))
        .build()
}

fn array_of(items: Object, description: &str) -> schema::Array {
    ArrayBuilder::new()
        .items(items)
        .description(Some(description))
        .build()
}

/// `metadata`, with the fields Backstage defines; `name` is required in a whole entity.
fn metadata(whole: bool) -> Object {
    let link = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("url", string("An absolute URL"))
        .property("title", string("Text to show"))
        .property("icon", string("Icon name"))
        .property("type", string("What the link is"))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    let link = if whole { link.required("url") } else { link };
    let builder = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Backstage's metadata; other members are allowed"))
        .property(
            "name",
            string("The entity's name, unique within kind and namespace"),
        )
        .property("namespace", string("`default` when absent"))
        .property("uid", string("Assigned by the catalog"))
        .property("etag", string("Changes whenever the entity does"))
        .property(
            "generation",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("Counts changes to the entity's spec")),
        )
        .property("title", string("Display name"))
        .property("description", string("One-paragraph description"))
        .property("labels", string_map("Label values by key"))
        .property("annotations", string_map("Annotation values by key"))
        .property(
            "tags",
            array_of(
                ObjectBuilder::new().schema_type(Type::String).build(),
                "Lowercase tags",
            ),
        )
        .property(
            "links",
            array_of(link.build(), "Links to show with the entity"),
        )
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    if whole {
        builder.required("name").build()
    } else {
        builder.build()
    }
}

/// One relation of an entity, computed by the catalog.
fn relation() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("type", string("e.g. `ownedBy`, `partOf`, `dependsOn`"))
        .property("targetRef", string("The related entity's reference"))
        .property(
            "target",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("kind", string("Lowercase kind"))
                .property("namespace", string("Namespace"))
                .property("name", string("Name"))
                .required("kind")
                .required("namespace")
                .required("name"),
        )
        .required("type")
        .required("targetRef")
        .build()
}

fn entity(whole: bool, description: &str) -> RefOr<Schema> {
    let builder = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property("apiVersion", string("e.g. `backstage.io/v1alpha1`"))
        .property("kind", string("e.g. `Component`, `API`, `Group`"))
        .property("metadata", metadata(whole))
        .property("spec", free_object("The kind's own fields"))
        .property(
            "relations",
            array_of(relation(), "Relations to other entities, both directions"),
        )
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    let builder = if whole {
        builder
            .required("apiVersion")
            .required("kind")
            .required("metadata")
    } else {
        builder
    };
    RefOr::T(Schema::Object(builder.build()))
}

/// A catalog entity as served: Backstage's envelope (`apiVersion`, `kind`, `metadata`, `spec`,
/// `relations`); any other member is allowed.
pub struct Entity;

impl PartialSchema for Entity {
    fn schema() -> RefOr<Schema> {
        entity(
            true,
            "A catalog entity: Backstage's envelope (apiVersion, kind, metadata, spec, relations); other members are allowed",
        )
    }
}

impl ToSchema for Entity {}

/// An entity in a list: the whole entity, or only the fields selected with `fields`.
pub struct PartialEntity;

impl PartialSchema for PartialEntity {
    fn schema() -> RefOr<Schema> {
        entity(
            false,
            "A catalog entity (see Entity), or only the members selected with `fields`",
        )
    }
}

impl ToSchema for PartialEntity {}

/// `GET /entities/by-query`: one page. Written directly as JSON text by the handler, which
/// splices the entities' stored bodies; this type documents it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct EntityPage {
    pub items: Vec<PartialEntity>,
    /// Entities matching the query, on every page.
    pub total_items: u64,
    pub page_info: PageInfo,
}

/// Cursors to the neighbouring pages, when there are any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Pass as `cursor` for the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_cursor: Option<String>,
}

/// The body of `POST /entities/by-refs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityRefs {
    /// References such as `component:default/payments-api` (at most 10 000).
    pub entity_refs: Vec<String>,
    /// Dotted paths to keep.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// `POST /entities/by-refs`: the entities in the order asked, `null` for references that are
/// unknown or filtered out. Written directly as JSON text; this type documents it.
#[derive(ToSchema)]
pub struct EntitiesByRefs {
    pub items: Vec<Option<PartialEntity>>,
}

/// `GET /entity-facets`: for each facet asked for, its values and how many entities have each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Facets {
    pub facets: BTreeMap<String, Vec<FacetCount>>,
}

/// One value of a facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// The body of `POST /validate-entity`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ValidateEntity {
    /// The entity to check (required; without it the answer is the error envelope).
    #[schema(value_type = Object, required)]
    pub entity: Option<Value>,
    /// Where it comes from, for the messages (default `request`).
    #[serde(default)]
    pub location: Option<String>,
}

/// `POST /validate-entity` with an invalid entity: every broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValidationErrors {
    pub errors: Vec<ValidationError>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValidationError {
    /// Always `InputError`.
    pub name: String,
    /// `<field>: <rule>`, e.g. `metadata.name: must not be empty`.
    pub message: String,
}

impl From<&catalog::Problem> for ValidationError {
    fn from(problem: &catalog::Problem) -> Self {
        Self {
            name: "InputError".to_owned(),
            message: format!("{}: {}", problem.field, problem.message),
        }
    }
}

/// A registered location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Location {
    pub id: String,
    /// `file`, `url` or `git`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A path, a URL, or `<repository>#<branch>:<path>`.
    pub target: String,
}

impl From<&locations::Location> for Location {
    fn from(location: &locations::Location) -> Self {
        Self {
            id: location.id.clone(),
            kind: location.kind.clone(),
            target: location.target.clone(),
        }
    }
}

/// An item of `GET /locations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LocationData {
    pub data: Location,
}

/// The body of `POST /locations`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewLocation {
    /// `file`, `url` or `git`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A path on the server, an http(s) URL on an allowed host, or `<repository>#<branch>:<path>`.
    pub target: String,
}

/// `POST /locations`: the location and, in a dry run only, the entities it provides, whether it
/// was registered already, and what an ingestion would do. Written directly as JSON text (the
/// entities are spliced from their stored bodies); this type documents it.
#[derive(ToSchema)]
pub struct AddedLocation {
    pub location: Location,
    /// Empty unless `dryRun=true`, as in Backstage.
    pub entities: Vec<Entity>,
    /// Dry run only.
    pub exists: Option<bool>,
    /// Dry run only.
    pub report: Option<IngestReport>,
}

/// What an ingestion did (or, in a dry run, would do), by entity reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct IngestReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Entities of the same location that it no longer provides.
    pub orphaned: Vec<String>,
    /// References to entities that do not exist (kept, reported).
    pub warnings: Vec<String>,
    /// The import policies' warnings and waived denials (a denial refuses the import with 403).
    pub policies: Vec<super::guardrails::PolicyVerdict>,
}

impl From<&catalog::IngestReport> for IngestReport {
    fn from(report: &catalog::IngestReport) -> Self {
        Self {
            added: report.added.clone(),
            updated: report.updated.clone(),
            unchanged: report.unchanged.clone(),
            orphaned: report.orphaned.clone(),
            warnings: report.warnings.clone(),
            policies: report.policies.iter().map(Into::into).collect(),
        }
    }
}

/// The body of `POST /refresh`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    /// e.g. `component:default/payments-api`.
    pub entity_ref: String,
}

/// A 400 from `POST /validate-entity`: the broken rules of an invalid entity, or the error
/// envelope for a malformed request.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ValidateEntityError {
    Invalid(ValidationErrors),
    Malformed(super::ErrorEnvelope),
}
