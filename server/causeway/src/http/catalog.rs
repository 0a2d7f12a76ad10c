//! The catalog REST API under `/api/catalog`, with the paths, parameters and JSON shapes of
//! Backstage's catalog backend so that existing clients work unchanged, plus `POST /import` for
//! uploading descriptor files.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causeway_platform::catalog::import::Importer;
use causeway_platform::catalog::index::{Index, Stored};
use causeway_platform::catalog::query::{Cursor, Filter, FullText, Order, Query, parse_fields};
use causeway_platform::catalog::{IngestOptions, prepare, render, search, yaml};
use causeway_platform::identity::Principal;

use super::AppState;
use super::auth::request_id;
use super::dto::ErrorEnvelope;
use super::dto::catalog::{
    AddedLocation, EntitiesByRefs, Entity, EntityPage, EntityRefs, FacetCount, Facets,
    IngestReport, Location, LocationData, NewLocation, PageInfo, PartialEntity, Refresh,
    ValidateEntity, ValidateEntityError, ValidationError, ValidationErrors,
};
use super::entity_list::{self, render_all, render_all_into, render_one, room_for};
use super::error::{ApiError, json_body};

/// Most items one request may ask for.
const MAX_LIMIT: u64 = 10_000;
/// Most facets one request may ask for.
const MAX_FACETS: usize = 20;

/// Parses `orderField` parameters (the domain holds their limits, which cursors meet too).
fn orders(params: &[String]) -> Result<Vec<Order>, ApiError> {
    Ok(Order::parse(params)?)
}

/// Items per page when `limit` is not given to `by-query`, as in Backstage.
const DEFAULT_LIMIT: u64 = 20;

/// Query parameters, keeping repeated keys (`filter=a&filter=b`).
struct Params(Vec<(String, String)>);

impl Params {
    fn from(raw: Option<String>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
        match self.one(name) {
            None => Ok(None),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) if n <= max => Ok(Some(n)),
                _ => Err(ApiError::input(format!(
                    "{name}: {text:?} is not valid; expected a whole number from 0 to {max}"
                ))),
            },
        }
    }
}

/// A response whose body is JSON text written without going through a `Value`.
pub struct RawJson(Vec<u8>);

impl IntoResponse for RawJson {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

#[utoipa::path(get, path = "/api/catalog/entities/by-query", tag = "catalog",
    params(
        ("filter" = Option<Vec<String>>, Query, description = "Filter set; repeat for OR, comma-separate conditions for AND: `kind=component,spec.lifecycle=production`, `metadata.tags.java`, `relations.ownedby=group:default/payments`"),
        ("fields" = Option<Vec<String>>, Query, description = "Dotted paths to keep, comma-separated"),
        ("limit" = Option<u64>, Query, minimum = 0, maximum = 10000, description = "Page size (default 20, at most 10000)"),
        ("offset" = Option<u64>, Query, minimum = 0, description = "Items to skip"),
        ("orderField" = Option<Vec<String>>, Query, description = "`field,asc|desc`, repeatable"),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `pageInfo`; the query it carries replaces filter, order and full text"),
        ("fullTextFilterTerm" = Option<String>, Query, description = "Case-insensitive substring"),
        ("fullTextFilterFields" = Option<Vec<String>>, Query, description = "Fields the term is matched in (default: every indexed field)"),
    ),
    responses((status = 200, description = "One page of entities", body = EntityPage), (status = 400, description = "Invalid parameter, named in the message", body = ErrorEnvelope)))]
/// `GET /entities/by-query`
pub async fn by_query(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<RawJson, ApiError> {
    let params = Params::from(raw);
    let limit = params.number("limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let fields = parse_fields(&params.all("fields"));
    let (query, offset) = match params.one("cursor") {
        // A cursor carries the whole query; the other parameters are ignored, as in Backstage.
        Some(cursor) => {
            let cursor = Cursor::decode(cursor)?;
            (cursor.query, cursor.offset)
        }
        None => {
            let full_text = params
                .one("fullTextFilterTerm")
                .filter(|t| !t.trim().is_empty())
                .map(|term| FullText {
                    term: term.to_owned(),
                    fields: parse_fields(&params.all("fullTextFilterFields")),
                });
            let query = Query {
                filter: Filter::parse(&params.all("filter"), "filter")?,
                order: orders(&params.all("orderField"))?,
                full_text,
            };
            (query, params.number("offset", u64::MAX)?.unwrap_or(0))
        }
    };
    let catalog = &state.platform.catalog;
    let page = query.page(&catalog.index(), offset, limit);
    let mut page_info = PageInfo::default();
    if offset.saturating_add(page.ids.len() as u64) < page.total && limit > 0 {
        let next = Cursor {
            query: query.clone(),
            offset: offset.saturating_add(limit),
        };
        page_info.next_cursor = Some(next.encode());
    }
    if offset > 0 {
        let prev = Cursor {
            query,
            offset: offset.saturating_sub(limit),
        };
        page_info.prev_cursor = Some(prev.encode());
    }
    let mut out = Vec::with_capacity(room_for(page.ids.len()) + 512);
    out.extend_from_slice(b"{\"items\":");
    render_all_into(catalog, &page.ids, &fields, &mut out);
    out.extend(format!(",\"totalItems\":{},\"pageInfo\":", page.total).bytes());
    let _ = serde_json::to_writer(&mut out, &page_info);
    out.push(b'}');
    Ok(RawJson(out))
}

#[utoipa::path(get, path = "/api/catalog/entities", tag = "catalog",
    params(("filter" = Option<Vec<String>>, Query), ("fields" = Option<Vec<String>>, Query), ("order" = Option<Vec<String>>, Query, description = "`asc:field` or `desc:field`"), ("offset" = Option<u64>, Query, minimum = 0), ("limit" = Option<u64>, Query, minimum = 0, maximum = 10000, description = "At most 10000; all when absent"), ("after" = Option<String>, Query, description = "Cursor from the `Link` header")),
    responses((status = 200, description = "The entities", body = Vec<PartialEntity>,
            headers(("Link" = String, description = "`</api/catalog/entities?after=…&limit=…>; rel=\"next\"` when more remain"))),
        (status = 400, description = "Invalid parameter, named in the message", body = ErrorEnvelope)))]
/// `GET /entities` (the legacy list): `filter`, `fields`, `order`, `offset`, `limit`, `after`.
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from(raw);
    let order = orders(
        &params
            .all("order")
            .iter()
            .map(|o| {
                let (direction, field) = o.split_once(':').unwrap_or(("asc", o));
                format!("{field},{direction}")
            })
            .collect::<Vec<_>>(),
    )?;
    let fields = parse_fields(&params.all("fields"));
    let (query, offset) = match params.one("after") {
        Some(after) => {
            let cursor = Cursor::decode(after)?;
            (cursor.query, cursor.offset)
        }
        None => {
            let query = Query {
                filter: Filter::parse(&params.all("filter"), "filter")?,
                order,
                full_text: None,
            };
            (query, params.number("offset", u64::MAX)?.unwrap_or(0))
        }
    };
    let limit = params.number("limit", MAX_LIMIT)?;
    let catalog = &state.platform.catalog;
    let page = query.page(&catalog.index(), offset, limit.unwrap_or(u64::MAX));
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        entity_list::body(catalog, &page.ids, fields),
    )
        .into_response();
    if let Some(limit) = limit.filter(|l| offset.saturating_add(*l) < page.total) {
        let after = Cursor {
            query,
            offset: offset.saturating_add(limit),
        }
        .encode();
        if let Ok(link) = HeaderValue::from_str(&format!(
            "</api/catalog/entities?after={after}&limit={limit}>; rel=\"next\""
        )) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

fn rendered(index: &Index, entity: &Stored) -> RawJson {
    let mut out = Vec::with_capacity(2048);
    render::render_into(index, entity, &mut out);
    RawJson(out)
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFoundError", what)
}

#[utoipa::path(get, path = "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", tag = "catalog",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The entity", body = Entity), (status = 404, description = "No such entity", body = ErrorEnvelope)))]
/// `GET /entities/by-name/{kind}/{namespace}/{name}`
pub async fn by_name(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<RawJson, ApiError> {
    let entity_ref = format!(
        "{}:{}/{}",
        kind.to_lowercase(),
        namespace.to_lowercase(),
        name.to_lowercase()
    );
    let index = state.platform.catalog.index();
    index
        .by_ref(&entity_ref)
        .map(|e| rendered(&index, e))
        .ok_or_else(|| not_found(format!("No entity named '{entity_ref}' found")))
}

#[utoipa::path(get, path = "/api/catalog/entities/by-uid/{uid}", tag = "catalog", params(("uid" = String, Path)),
    responses((status = 200, description = "The entity", body = Entity), (status = 404, description = "No such entity", body = ErrorEnvelope)))]
/// `GET /entities/by-uid/{uid}`
pub async fn by_uid(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<RawJson, ApiError> {
    let index = state.platform.catalog.index();
    index
        .by_uid(&uid)
        .map(|e| rendered(&index, e))
        .ok_or_else(|| not_found(format!("No entity with uid {uid}")))
}

#[utoipa::path(delete, path = "/api/catalog/entities/by-uid/{uid}", tag = "catalog", params(("uid" = String, Path)),
    responses((status = 204, description = "Deleted, or did not exist"), (status = 403, description = "Not a member of the owning team", body = ErrorEnvelope)))]
/// `DELETE /entities/by-uid/{uid}`: 204 whether or not it existed, as in Backstage.
pub async fn delete_by_uid(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .catalog
        .delete_as(&principal, &uid, request_id(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/catalog/entities/by-refs", tag = "catalog",
    params(("filter" = Option<Vec<String>>, Query, description = "Only entities matching this filter set (as in by-query); others are `null`")),
    request_body = EntityRefs,
    responses((status = 200, description = "The entities in request order, `null` for unknown ones", body = EntitiesByRefs),
        (status = 400, description = "Malformed body, too many references, or an invalid filter", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /entities/by-refs`: the entities in the order asked, `null` for unknown references.
pub async fn by_refs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<EntityRefs>, axum::extract::rejection::JsonRejection>,
) -> Result<RawJson, ApiError> {
    let body = json_body(body)?;
    if body.entity_refs.len() > MAX_LIMIT as usize {
        return Err(ApiError::input(format!(
            "entityRefs: at most {MAX_LIMIT} references per request"
        )));
    }
    let filter = Filter::parse(&Params::from(raw).all("filter"), "filter")?;
    let fields = parse_fields(&body.fields);
    let index = state.platform.catalog.index();
    let allowed = (!filter.is_empty()).then(|| filter.evaluate(&index));
    let mut out = b"{\"items\":[".to_vec();
    for (i, text) in body.entity_refs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let normalised = causeway_platform::catalog::refs::parse(text, "", "default").ok();
        match normalised
            .and_then(|r| index.id_of(&r))
            .filter(|id| allowed.as_ref().is_none_or(|a| a.contains(*id)))
            .and_then(|id| index.get(id))
        {
            Some(entity) => render_one(&index, entity, &fields, &mut out),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"]}");
    Ok(RawJson(out))
}

#[utoipa::path(get, path = "/api/catalog/entity-facets", tag = "catalog",
    params(("facet" = Vec<String>, Query, description = "Field to count values of; repeatable"), ("filter" = Option<Vec<String>>, Query)),
    responses((status = 200, description = "The values of each facet with their counts", body = Facets), (status = 400, description = "No facet, too many, or an invalid filter", body = ErrorEnvelope)))]
/// `GET /entity-facets?facet=…&filter=…`
pub async fn facets(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Facets>, ApiError> {
    let params = Params::from(raw);
    let mut facets = params.all("facet");
    facets.sort();
    facets.dedup();
    if facets.len() > MAX_FACETS {
        return Err(ApiError::input(format!(
            "facet: at most {MAX_FACETS} facets per request"
        )));
    }
    if facets.is_empty() {
        return Err(ApiError::input(
            "facet: at least one facet is required, e.g. facet=kind",
        ));
    }
    let filter = Filter::parse(&params.all("filter"), "filter")?;
    let counted = search::facets(&state.platform.catalog.index(), &facets, &filter);
    let mut out = Facets::default();
    for (facet, values) in counted {
        let values = values
            .iter()
            .map(|(value, count)| FacetCount {
                value: value.clone(),
                count: *count,
            })
            .collect();
        out.facets.insert(facet, values);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/catalog/validate-entity", tag = "catalog",
    request_body = ValidateEntity,
    responses((status = 200, description = "Valid (no body)"),
        (status = 400, description = "An invalid entity: `{errors}`, one per broken rule; a malformed request: the error envelope", body = ValidateEntityError),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /validate-entity`: 200 when valid, 400 with every error otherwise.
pub async fn validate_entity(
    body: Result<Json<ValidateEntity>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let Some(entity) = body.entity else {
        return Err(ApiError::input("entity: is required"));
    };
    let source = body.location.unwrap_or_else(|| "request".to_owned());
    match prepare(&source, vec![entity]) {
        Ok(_) => Ok(StatusCode::OK.into_response()),
        Err(problems) => {
            let errors = ValidateEntityError::Invalid(ValidationErrors {
                errors: problems.iter().map(ValidationError::from).collect(),
            });
            Ok((StatusCode::BAD_REQUEST, Json(errors)).into_response())
        }
    }
}

#[utoipa::path(get, path = "/api/catalog/locations", tag = "catalog", responses((status = 200, description = "Every registered location", body = Vec<LocationData>)))]
/// `GET /locations`
pub async fn locations(State(state): State<AppState>) -> Result<Json<Vec<LocationData>>, ApiError> {
    let locations = state.platform.catalog.locations().await?;
    Ok(Json(
        locations
            .iter()
            .map(|l| LocationData {
                data: Location::from(l),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/catalog/locations/{id}", tag = "catalog", params(("id" = String, Path)),
    responses((status = 200, description = "The location", body = Location), (status = 404, description = "No such location", body = ErrorEnvelope)))]
/// `GET /locations/{id}`
pub async fn location(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Location>, ApiError> {
    Ok(Json(Location::from(
        &state.platform.catalog.location(&id).await?,
    )))
}

#[utoipa::path(post, path = "/api/catalog/locations", tag = "catalog",
    params(("dryRun" = Option<bool>, Query, description = "Read and validate, store nothing")),
    request_body = NewLocation,
    responses((status = 201, description = "The location; `entities`, `exists` and `report` are filled only by a dry run, as in Backstage", body = AddedLocation,
            links(("GetLocation" = (operation_id = "location", parameters(("id" = "$response.body#/location/id")))),
                ("DeleteLocation" = (operation_id = "delete_location", parameters(("id" = "$response.body#/location/id")))))),
        (status = 400, description = "Malformed body, unknown type, unreadable or invalid content", body = ErrorEnvelope),
        (status = 403, description = "Platform admins only", body = ErrorEnvelope),
        (status = 409, description = "Already registered, or an entity belongs to another location", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /locations[?dryRun=true]`: registers a location and ingests what it provides.
pub async fn add_location(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Json<NewLocation>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let dry_run = Params::from(raw).one("dryRun").is_some_and(|v| v == "true");
    let registered = state
        .platform
        .catalog
        .register_location(
            &principal,
            &body.kind,
            &body.target,
            dry_run,
            &state.read_policy(),
            request_id(&headers).as_deref(),
        )
        .await?;
    // As in Backstage, only a dry run lists the entities: a registration answers with the
    // location, and its entities are read through the catalog API (rendering a 10 000-entity
    // location into the answer cost more memory than the entities themselves).
    let entities = if !dry_run {
        b"[]".to_vec()
    } else {
        let index = state.platform.catalog.index();
        let ids: Vec<u32> = registered
            .report
            .added
            .iter()
            .chain(&registered.report.updated)
            .chain(&registered.report.unchanged)
            .filter_map(|r| index.id_of(r))
            .collect();
        drop(index);
        render_all(&state.platform.catalog, &ids, &[])
    };
    let mut out = b"{\"location\":".to_vec();
    let _ = serde_json::to_writer(&mut out, &Location::from(&registered.location));
    out.extend_from_slice(b",\"entities\":");
    out.extend(entities);
    if dry_run {
        out.extend_from_slice(b",\"exists\":");
        let _ = serde_json::to_writer(&mut out, &registered.exists);
        out.extend_from_slice(b",\"report\":");
        let _ = serde_json::to_writer(&mut out, &IngestReport::from(&registered.report));
    }
    out.push(b'}');
    Ok((StatusCode::CREATED, RawJson(out)).into_response())
}

#[utoipa::path(delete, path = "/api/catalog/locations/{id}", tag = "catalog", params(("id" = String, Path)),
    responses((status = 204, description = "Unregistered; its entities deleted"), (status = 403, description = "Platform admins only", body = ErrorEnvelope), (status = 404, description = "No such location", body = ErrorEnvelope)))]
/// `DELETE /locations/{id}`: unregisters it and deletes its entities; platform admins only.
pub async fn delete_location(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .catalog
        .unregister_as(&principal, &id, request_id(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/catalog/refresh", tag = "catalog", request_body = Refresh,
    responses((status = 200, description = "Its location was read again (no body)"),
        (status = 400, description = "Malformed body or reference, an entity not from a location, or its location unreadable or invalid", body = ErrorEnvelope),
        (status = 403, description = "Not an owner of the entity nor a platform admin", body = ErrorEnvelope),
        (status = 404, description = "No such entity", body = ErrorEnvelope),
        (status = 409, description = "An entity of the location belongs to another location", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /refresh` with `{"entityRef"}`: reads the entity's location again now; for the entity's
/// owners and platform admins.
pub async fn refresh(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<Refresh>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let body = json_body(body)?;
    let entity_ref =
        causeway_platform::catalog::refs::parse(&body.entity_ref, "component", "default")
            .map_err(|m| ApiError::input(format!("entityRef: {m}")))?;
    state
        .platform
        .catalog
        .refresh_as(
            &principal,
            &entity_ref,
            &state.read_policy(),
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(post, path = "/api/catalog/import", tag = "catalog", params(("dryRun" = Option<bool>, Query, description = "Validate and report, store nothing")),
    request_body(content = String, content_type = "application/yaml", description = "One or more YAML or JSON documents"),
    responses((status = 201, description = "Stored: what changed, by entity reference", body = IngestReport),
        (status = 200, description = "Dry run: what would change", body = IngestReport),
        (status = 400, description = "Every problem, by document and field; nothing stored", body = ErrorEnvelope),
        (status = 403, description = "An entity the caller's teams do not own, a User or Group entity, or an import the platform team's policies refuse (each denial in `errors`)", body = ErrorEnvelope),
        (status = 409, description = "An entity belongs to another location", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope)))]
/// `POST /import[?dryRun=true]` with a body of YAML or JSON documents: stores all of them or,
/// if any is invalid, none, listing every problem.
pub async fn import(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = Params::from(raw).one("dryRun").is_some_and(|v| v == "true");
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::input("request body: must be UTF-8 text (YAML or JSON)"))?;
    let documents = yaml::parse("upload", text).map_err(causeway_platform::Error::Rejected)?;
    if documents.is_empty() {
        return Err(ApiError::input("request body: contains no documents"));
    }
    let report = state
        .platform
        .catalog
        .import(
            Importer::Person(&principal),
            "upload",
            documents,
            IngestOptions {
                replace: false,
                dry_run,
            },
            request_id(&headers).as_deref(),
        )
        .await;
    let report = report?;
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(IngestReport::from(&report))).into_response())
}
