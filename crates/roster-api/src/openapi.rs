//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the wire types' `ToSchema` derives. Request-body and query schemas below describe
//! what the domain's parsers accept (the handlers read raw JSON so that they can answer
//! exactly as Tallyfy's Laravel validation does); a snapshot test pins the whole document.

#![allow(dead_code)] // The types here exist to be described, never built.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder, Server};
use utoipa::{IntoParams, Modify, ToSchema};

/// The document's fixed parts; the paths come from the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Roster",
        description = "A self-hostable server that speaks Tallyfy's REST API for organizations, \
                       members, guests and groups. Every path is also served under `/api`.",
        license(name = "Apache-2.0")
    ),
    servers((url = "/", description = "As api.tallyfy.com"), (url = "/api", description = "As go.tallyfy.com/api")),
    tags(
        (name = "me", description = "The caller"),
        (name = "groups", description = "Groups of members and guests"),
        (name = "members", description = "Members (Tallyfy's users)"),
        (name = "guests", description = "Guests, addressed by email"),
        (name = "operations", description = "Probes for load balancers and orchestrators")
    ),
    components(schemas(crate::error::ErrorBody)),
    security(("bearer" = [], "client" = []))
)]
pub struct ApiDoc;

/// Adds what every operation shares, so each rule is stated once: the security schemes,
/// and the error answers that follow from an operation's shape.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal access token (`roster token create`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Tallyfy-Client",
                "Any non-empty value, as Tallyfy requires (e.g. `APIClient`).",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Logos are public by design (their unguessable id is the capability); so are
            // the probes.
            let public = path.starts_with("/logos/")
                || ["/healthz", "/readyz", "/metrics"].contains(&path.as_str());
            let in_org = path.contains("{org}");
            let names_resource = in_org && path.matches('{').count() > 1;
            let operations = [
                (&mut item.get, false, false),
                (&mut item.post, true, false),
                (&mut item.put, true, true),
                (&mut item.patch, true, true),
                (&mut item.delete, false, true),
            ];
            for (operation, has_body, may_be_stale) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                let conditional =
                    may_be_stale && path.starts_with("/organizations/{org}/groups/{group}");
                if !public {
                    add_error(
                        operation,
                        "401",
                        "Missing, unknown or expired token, or no X-Tallyfy-Client header.",
                    );
                }
                if in_org {
                    add_error(
                        operation,
                        "403",
                        "Not an active member of the organization, or not allowed to do this.",
                    );
                    add_error(
                        operation,
                        "404",
                        "No such organization id format, or no such resource in the organization.",
                    );
                } else if names_resource {
                    add_error(operation, "404", "No such resource.");
                }
                if !has_body && operation.parameters.iter().flatten().any(|p| {
                    matches!(p, RefOr::T(p) if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                }) {
                    add_error(operation, "422", "A query parameter is invalid (an unknown sort, a bad cursor).");
                }
                if has_body {
                    add_error(
                        operation,
                        "400",
                        "The body is not JSON, or a business rule refused the change.",
                    );
                    add_error(
                        operation,
                        "422",
                        "The input is invalid; `errors` names each bad field.",
                    );
                }
                if conditional {
                    add_error(
                        operation,
                        "412",
                        "`If-Match` names a version the group no longer has.",
                    );
                }
                add_error(
                    operation,
                    "429",
                    "Over the rate limit; retry after `Retry-After` seconds.",
                );
                if has_body {
                    add_error(operation, "413", "The body is over the size limit.");
                }
                add_error(
                    operation,
                    "503",
                    "The database is saturated; retry after `Retry-After` seconds.",
                );
            }
        }
    }
}

fn add_error(operation: &mut Operation, status: &str, description: &str) {
    if operation.responses.responses.contains_key(status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
        .build();
    operation.responses.responses.insert(status.to_owned(), RefOr::T(response));
}

/// The document with its paths, as served at `/openapi.json`.
pub fn document(paths: OpenApi) -> OpenApi {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    doc.merge(paths);
    Conventions.modify(&mut doc);
    doc.servers = Some(vec![Server::new("/"), Server::new("/api")]);
    doc
}

/// `POST /organizations/{org}/groups`.
#[derive(ToSchema)]
pub struct GroupCreate {
    /// Trimmed; at most 200 characters; unique in the organization ignoring case.
    #[schema(max_length = 200, example = "Onboarding Specialists")]
    name: String,
    #[schema(example = "Team responsible for new client onboarding.")]
    description: String,
    /// Active or invited members of the organization (numeric strings are accepted too).
    #[schema(example = json!([1001, 1005]), max_items = 1000)]
    members: Option<Vec<i64>>,
    /// Emails; new ones become guests of the organization.
    #[schema(example = json!(["client.liaison@partner.com"]), max_items = 1000)]
    guests: Option<Vec<String>>,
}

/// `PUT /organizations/{org}/groups/{group}`: every field optional; present lists replace.
#[derive(ToSchema)]
pub struct GroupUpdate {
    #[schema(max_length = 200, example = "Project Alpha Core Team")]
    name: Option<String>,
    description: Option<String>,
    #[schema(example = json!([1001, 1008]), max_items = 1000)]
    members: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    guests: Option<Vec<String>>,
}

/// `PATCH .../members`: at most 1,000 ids in `add` and `remove` together.
#[derive(ToSchema)]
pub struct MemberEdit {
    #[schema(example = json!([1010]))]
    add: Option<Vec<i64>>,
    #[schema(example = json!([1005]))]
    remove: Option<Vec<i64>>,
}

/// `PATCH .../guests`: at most 1,000 emails in `add` and `remove` together.
#[derive(ToSchema)]
pub struct GuestEdit {
    #[schema(example = json!(["new.client@partner.com"]))]
    add: Option<Vec<String>>,
    remove: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleName {
    Admin,
    Standard,
    Light,
}

/// `POST /organizations/{org}/users/invite`.
#[derive(ToSchema)]
pub struct Invite {
    #[schema(format = Email, example = "new.person@example.com")]
    email: String,
    #[schema(max_length = 32, example = "New")]
    first_name: String,
    #[schema(max_length = 32, example = "Person")]
    last_name: String,
    role: RoleName,
    #[schema(max_length = 5000)]
    message: Option<String>,
}

/// `PUT /organizations/{org}/users/{user}`.
#[derive(ToSchema)]
pub struct MemberUpdate {
    #[schema(max_length = 32)]
    first_name: Option<String>,
    #[schema(max_length = 32)]
    last_name: Option<String>,
    #[schema(example = "Europe/Berlin")]
    timezone: Option<String>,
}

/// `PUT /organizations/{org}/users/{user}/role`.
#[derive(ToSchema)]
pub struct RoleChange {
    role: RoleName,
}

/// `POST /organizations/{org}/guests`.
#[derive(ToSchema)]
pub struct GuestCreate {
    #[schema(format = Email, example = "client.a@example.com")]
    email: String,
    #[schema(max_length = 200)]
    first_name: Option<String>,
    #[schema(max_length = 200)]
    last_name: Option<String>,
    #[schema(max_length = 200)]
    company_name: Option<String>,
    #[schema(max_length = 20)]
    phone_1: Option<String>,
    #[schema(max_length = 20)]
    phone_2: Option<String>,
    timezone: Option<String>,
    image_url: Option<String>,
    contact_url: Option<String>,
    company_url: Option<String>,
    opportunity_name: Option<String>,
    opportunity_url: Option<String>,
}

/// `PUT /organizations/{org}/guests/{email}`: only `associated_members` is applied.
#[derive(ToSchema)]
pub struct GuestUpdate {
    #[schema(example = json!([1001]))]
    associated_members: Option<Vec<i64>>,
}

/// `POST /organizations/{org}/guests/{email}/to/member`.
#[derive(ToSchema)]
pub struct ToMember {
    /// Defaults to `standard`.
    role: Option<RoleName>,
}

/// Page-numbered listings (`page`, `per_page`, `q`, sorting, includes).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number, from 1.
    page: Option<i64>,
    /// Rows per page: default 10, at most 100 (larger values become 100).
    per_page: Option<i64>,
    /// Case-insensitive substring to look for.
    q: Option<String>,
    /// `name`, `created_at` (default) or `updated_at` (groups); `-` prefix for descending.
    sort_by: Option<String>,
    /// `asc`, `desc`, or a field as in `sort_by` (members: `name`, `email`, `created_at`, `updated_at`).
    sort: Option<String>,
    /// Comma list of includes: `users`, `assets` (groups), `groups` (members).
    with: Option<String>,
}

/// Guest listings also take `without_pagination`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestListQuery {
    page: Option<i64>,
    per_page: Option<i64>,
    /// Substring of the email.
    q: Option<String>,
    /// `email`, `created_at` (default) or `updated_at`; `-` prefix for descending.
    sort: Option<String>,
    /// `true` for every guest at once, without `meta`.
    without_pagination: Option<bool>,
}

/// Keyset pages of a group's people.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
    /// Default 100, at most 1,000.
    per_page: Option<i64>,
}

/// `with=` on a single resource.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithQuery {
    /// Comma list of includes: `users`, `assets` (groups), `groups` (members).
    with: Option<String>,
}

/// `GET /guests`: a page with `meta`, or with `without_pagination` every guest without it.
#[derive(ToSchema)]
pub struct GuestListing<'a> {
    data: Vec<crate::wire::GuestOut<'a>>,
    /// Absent with `without_pagination=true`.
    meta: Option<crate::wire::Meta>,
}

/// A logo upload: one `file` part.
#[derive(ToSchema)]
pub struct LogoUpload {
    /// PNG, JPEG, GIF or WebP; at most 2 MiB and 4096×4096 pixels.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Tallyfy's generic upload, for `subject_type=Group`.
#[derive(ToSchema)]
pub struct FileUpload {
    /// `Group`.
    #[schema(example = "Group")]
    subject_type: String,
    /// The group's id.
    subject_id: String,
    uploaded_from: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A group as `GET .../groups/{group}` answered it in a test run (ids and times kept).
pub fn group_example() -> serde_json::Value {
    serde_json::json!({"data": {
        "id": "a8e0f31b38260630068a655bfd68fe90", "name": "Sales Team", "description": "Handles all sales inquiries.",
        "logo": null, "members": [1, 2], "guests": ["client.a@example.com"], "member_count": 2, "guest_count": 1,
        "created_at": "2026-11-26T13:56:34.413Z", "last_updated": "2026-11-26T13:56:34.413Z",
        "updated_at": "2026-11-26T13:56:34.413Z"
    }})
}

/// A page of groups as a listing answered it in a test run.
pub fn group_list_example() -> serde_json::Value {
    let group = group_example()["data"].clone();
    serde_json::json!({"data": [group], "meta": {"pagination": {
        "total": 15, "count": 10, "per_page": 10, "current_page": 1, "total_pages": 2,
        "links": {"next": "http://127.0.0.1:8080/organizations/2400bc9318498f2191d05134878bdc4f/groups?page=2"}
    }}})
}

/// A member as `GET .../users/{user}` answered it in a test run.
pub fn user_example() -> serde_json::Value {
    serde_json::json!({"data": {
        "id": 2, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace",
        "timezone": null, "role": "standard", "status": "active", "is_default_admin": false,
        "created_at": "2026-11-26T13:56:34.454Z", "last_updated": "2026-11-26T13:56:34.454Z"
    }})
}

/// A guest as `GET .../guests/{email}` answered it in a test run.
pub fn guest_example() -> serde_json::Value {
    serde_json::json!({"data": {
        "id": 1, "email": "client@partner.com", "first_name": "Cli", "last_name": "Ent",
        "created_at": "2026-11-26T14:08:19.492Z", "last_updated": "2026-11-26T14:08:19.492Z", "deleted_at": null,
        "details": {"status": "active", "phone_1": "+1 555 0100", "phone_2": null, "timezone": null, "image_url": null,
            "contact_url": null, "company_url": null, "opportunity_url": null, "company_name": "Partner Inc",
            "opportunity_name": null, "associated_members": null, "disabled_at": null}
    }})
}
