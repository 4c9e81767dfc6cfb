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
        (name = "events", description = "Roster's own: the ordered change stream of an organization, and its audit log (admins only)"),
        (name = "webhooks", description = "Roster's own: the change stream pushed to your endpoints as signed Standard Webhooks, retried, logged and replayable (admins only)"),
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
                add_stream_cursor(operation);
                // Updates whose every field is optional take no body at all as "change
                // nothing", as Tallyfy does.
                if OPTIONAL_BODIES.contains(&operation.operation_id.as_deref().unwrap_or_default())
                    && let Some(RefOr::T(body)) = operation.request_body.as_mut()
                {
                    body.required = Some(utoipa::openapi::Required::False);
                }
                // A user id is any integer in the path (ids that name nobody are a 404),
                // not an `int64` whose bounds a generated client may step past.
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter
                        && parameter.name == "user"
                    {
                        parameter.schema = Some(RefOr::T(any_integer().into()));
                    }
                }
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
                // Load shedding answers 503 on every route.
                add_error(
                    operation,
                    "503",
                    "The database cannot be reached, or the server is busy; nothing was \
                     written. Retry after `Retry-After` seconds.",
                );
                if !public && (has_body || may_be_stale) {
                    add_error(
                        operation,
                        "507",
                        "The database has no space left; nothing was written. \
                         Retry after `Retry-After` seconds.",
                    );
                }
            }
        }
    }
}

/// Operations whose body may be left out (every field in it is optional).
/// The listings, which answer `Roster-Cursor` (see `routes::ROSTER_CURSOR`).
const LISTINGS: &[&str] = &[
    "listGroups",
    "listGroupMembers",
    "listGroupGuests",
    "listMembers",
    "listAllMembers",
    "listGuests",
    "listAllGuests",
];

/// Documents the `Roster-Cursor` header on a listing's 200.
fn add_stream_cursor(operation: &mut Operation) {
    if !LISTINGS.contains(&operation.operation_id.as_deref().unwrap_or_default()) {
        return;
    }
    if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
        let header = utoipa::openapi::header::HeaderBuilder::new()
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String),
            ))
            .description(Some(
                "The organization's change stream cursor, read in the same snapshot as the page: pass it as `after` to `/organizations/{org}/events` to follow every later change.",
            ))
            .build();
        ok.headers.insert("Roster-Cursor".to_owned(), RefOr::T(header));
    }
}

const OPTIONAL_BODIES: &[&str] = &[
    "updateGroup",
    "patchGroupMembers",
    "patchGroupGuests",
    "updateMember",
    "updateGuest",
    "convertGuestToMember",
    "updateWebhook",
    "rotateWebhookSecret",
];

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

// Patterns say what the body readers accept: they trim strings, treat an empty or blank
// string as absent, and refuse NUL (PostgreSQL cannot store it). `^[^\u0000]*$`: any
// text without NUL; `^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$`: text that is not blank (a
// required field, or one that may be left out but not sent empty).

// The patterns below that require "something besides whitespace" list the characters
// Rust's `str::trim` removes (Unicode White_Space) rather than writing `\s`, whose meaning
// differs between regex dialects (ECMAScript's has no U+0085 but has U+FEFF): the schema
// must refuse exactly what the server trims away to nothing.

/// `POST /organizations/{org}/groups`.
#[derive(ToSchema)]
pub struct GroupCreate {
    /// Trimmed; at most 200 characters; unique in the organization ignoring case (a
    /// name in use is a 422).
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "Onboarding Specialists"
    )]
    name: String,
    #[schema(
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "Team responsible for new client onboarding."
    )]
    description: String,
    /// User ids of active or invited members of the organization (numeric strings are
    /// accepted too); an id that names nobody there is a 422.
    #[schema(nullable = false, max_items = 1000, example = json!([1]), inline)]
    members: Option<Vec<PersonId>>,
    /// Emails; new ones become guests of the organization. A member's email or a
    /// disabled guest is a 422.
    #[schema(nullable = false, max_items = 1000, example = json!(["client.liaison@partner.com"]), inline)]
    guests: Option<Vec<EmailAddress>>,
}

/// A user id: a positive integer.
#[derive(ToSchema)]
#[schema(value_type = i64, minimum = 1)]
pub struct PersonId(i64);

/// An email address (checked for syntax only, and lowercased).
#[derive(ToSchema)]
#[schema(value_type = String, format = Email)]
pub struct EmailAddress(String);

/// `PUT /organizations/{org}/groups/{group}`: every field optional; present lists replace.
#[derive(ToSchema)]
pub struct GroupUpdate {
    /// As on create; may be left out, but not sent empty or null.
    #[schema(
        nullable = false,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "Project Alpha Core Team"
    )]
    name: Option<String>,
    /// May be left out, but not sent empty or null.
    #[schema(
        nullable = false,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$"
    )]
    description: Option<String>,
    /// Replaces the whole list when given (even `[]`); as on create.
    #[schema(nullable = false, max_items = 1000, example = json!([1]), inline)]
    members: Option<Vec<PersonId>>,
    /// Replaces the whole list when given (even `[]`); as on create.
    #[schema(nullable = false, max_items = 1000, inline)]
    guests: Option<Vec<EmailAddress>>,
}

/// A member to add: a user id, or one with the end of their membership.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum MemberAddition {
    Id(PersonId),
    Until(TimedMember),
}

#[derive(ToSchema)]
pub struct TimedMember {
    id: PersonId,
    /// When the membership ends (UTC, in the future, at most ten years ahead); `null`
    /// makes it permanent.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<String>,
}

/// A guest to add: an email, or one with the end of their membership.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum GuestAddition {
    Email(EmailAddress),
    Until(TimedGuest),
}

#[derive(ToSchema)]
pub struct TimedGuest {
    email: EmailAddress,
    /// As for members.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<String>,
}

/// `POST .../groups/{group}/restore`: optional.
#[derive(ToSchema)]
pub struct GroupRestore {
    /// A new name, needed when another group took the old one meanwhile: trimmed, at most
    /// 200 characters, unique in the organization ignoring case.
    #[schema(
        nullable = false,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "Sales (restored)"
    )]
    name: Option<String>,
}

/// `PATCH .../members`: at most 1,000 ids in `add` and `remove` together (a 422 beyond),
/// and no id in both.
#[derive(ToSchema)]
pub struct MemberEdit {
    /// Active or invited members of the organization (an id that names nobody there is
    /// a 422): a plain id, or `{"id": 5, "expires_at": "2027-03-31T00:00:00.000Z"}` for
    /// a membership that ends then (in the future, at most ten years ahead; `null`:
    /// permanent). Adding someone present changes only the expiry an object gives.
    #[schema(nullable = false, max_items = 1000, example = json!([1, {"id": 2, "expires_at": "2027-03-31T00:00:00.000Z"}]), inline)]
    add: Option<Vec<MemberAddition>>,
    /// Ones not in the group change nothing.
    #[schema(nullable = false, max_items = 1000, example = json!([]), inline)]
    remove: Option<Vec<PersonId>>,
}

/// `PATCH .../guests`: at most 1,000 emails in `add` and `remove` together (a 422
/// beyond), and no email in both.
#[derive(ToSchema)]
pub struct GuestEdit {
    /// New emails become guests of the organization; a member's email or a disabled
    /// guest is a 422. An element may be `{"email": ..., "expires_at": ...}`, as for
    /// members.
    #[schema(nullable = false, max_items = 1000, example = json!(["new.client@partner.com"]), inline)]
    add: Option<Vec<GuestAddition>>,
    #[schema(nullable = false, max_items = 1000, inline)]
    remove: Option<Vec<EmailAddress>>,
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
    /// A current member's email is a 422.
    #[schema(format = Email, example = "new.person@example.com")]
    email: String,
    #[schema(
        max_length = 32,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "New"
    )]
    first_name: String,
    #[schema(
        max_length = 32,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$",
        example = "Person"
    )]
    last_name: String,
    role: RoleName,
    #[schema(max_length = 5000, pattern = r"^[^\u0000]*$")]
    message: Option<String>,
}

/// `PUT /organizations/{org}/users/{user}`: each field may be left out, but not sent
/// empty or null.
#[derive(ToSchema)]
pub struct MemberUpdate {
    #[schema(
        nullable = false,
        max_length = 32,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$"
    )]
    first_name: Option<String>,
    #[schema(
        nullable = false,
        max_length = 32,
        pattern = r"^[^\u0000]*[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u0000][^\u0000]*$"
    )]
    last_name: Option<String>,
    #[schema(
        nullable = false,
        pattern = r"^\s*[A-Za-z0-9/_+-]{1,64}\s*$",
        example = "Europe/Berlin"
    )]
    timezone: Option<String>,
}

/// `PUT /organizations/{org}/users/{user}/role`.
#[derive(ToSchema)]
pub struct RoleChange {
    role: RoleName,
}

/// `POST /organizations/{org}/guests`. Every field but `email` may be null or empty.
#[derive(ToSchema)]
pub struct GuestCreate {
    /// An existing guest's or a member's email is a 422.
    #[schema(format = Email, example = "client.a@example.com")]
    email: String,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    first_name: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    last_name: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    company_name: Option<String>,
    #[schema(max_length = 20, pattern = r"^[^\u0000]*$")]
    phone_1: Option<String>,
    #[schema(max_length = 20, pattern = r"^[^\u0000]*$")]
    phone_2: Option<String>,
    #[schema(max_length = 64, pattern = r"^[^\u0000]*$")]
    timezone: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    image_url: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    contact_url: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    company_url: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    opportunity_name: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    opportunity_url: Option<String>,
}

/// `PUT /organizations/{org}/guests/{email}`: only `associated_members` is applied.
#[derive(ToSchema)]
pub struct GuestUpdate {
    /// Replaces the list when given; ids that name no member of the organization are a
    /// 422.
    #[schema(nullable = false, example = json!([1]), inline)]
    associated_members: Option<Vec<PersonId>>,
}

/// `POST /organizations/{org}/guests/{email}/to/member`.
#[derive(ToSchema)]
pub struct ToMember {
    /// Defaults to `standard`.
    role: Option<RoleName>,
}

/// An integer of any size: Roster clamps page numbers and sizes rather than refusing
/// them, as Tallyfy does, so the schema declares no bounds (and no `int64`, whose bounds a
/// client may exceed). Anything but an integer is a 422.
fn any_integer() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Integer).build()
}

fn one_of_strings(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Orders, each also with a `-` prefix for descending (`last_updated` is `updated_at`).
fn orders(fields: &[&str]) -> Vec<String> {
    fields.iter().flat_map(|f| [(*f).to_owned(), format!("-{f}")]).collect()
}

fn with_directions(mut orders: Vec<String>) -> Vec<String> {
    orders.splice(0..0, ["asc".to_owned(), "desc".to_owned()]);
    orders
}

const GROUP_ORDERS: &[&str] = &["name", "created_at", "updated_at", "last_updated"];
const MEMBER_ORDERS: &[&str] = &["name", "email", "created_at", "updated_at", "last_updated"];
const GUEST_ORDERS: &[&str] = &["email", "created_at", "updated_at", "last_updated"];

/// An order enum, with `x-enum-varnames` (read by openapi-python-client and the OpenAPI
/// Generator) so that generated clients name `-name` `NAME_DESC` rather than `VALUE_1`.
fn strings(values: &[String]) -> utoipa::openapi::Object {
    let names: Vec<String> = values
        .iter()
        .map(|v| match v.strip_prefix('-') {
            Some(field) => format!("{}_DESC", field.to_ascii_uppercase()),
            None => v.to_ascii_uppercase(),
        })
        .collect();
    let mut schema = one_of_strings(&values.iter().map(String::as_str).collect::<Vec<_>>());
    schema.extensions = Some(
        utoipa::openapi::extensions::Extensions::builder()
            .add("x-enum-varnames", serde_json::json!(names))
            .build(),
    );
    schema
}
fn group_sort_by() -> utoipa::openapi::Object {
    strings(&orders(GROUP_ORDERS))
}
fn group_sort() -> utoipa::openapi::Object {
    strings(&with_directions(orders(GROUP_ORDERS)))
}
fn member_sort_by() -> utoipa::openapi::Object {
    strings(&orders(MEMBER_ORDERS))
}
fn member_sort() -> utoipa::openapi::Object {
    strings(&with_directions(orders(MEMBER_ORDERS)))
}
fn guest_sort_by() -> utoipa::openapi::Object {
    strings(&orders(GUEST_ORDERS))
}
fn guest_sort() -> utoipa::openapi::Object {
    strings(&with_directions(orders(GUEST_ORDERS)))
}

/// Page-numbered listings.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1; values below 1 are page 1.
    #[param(schema_with = any_integer)]
    page: Option<i64>,
    /// Rows per page: default 10; values above 100 become 100, values below 1 the default.
    #[param(schema_with = any_integer)]
    per_page: Option<i64>,
}

/// `GET .../groups`: search, order and includes (with [`PageQuery`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupListQuery {
    /// Case-insensitive substring of the name or description.
    #[param(pattern = r"^[^\u0000]*$")]
    q: Option<String>,
    /// The order (default `created_at`); a `-` prefix sorts descending.
    #[param(schema_with = group_sort_by)]
    sort_by: Option<String>,
    /// `asc` or `desc`; or, without `sort_by`, an order as `sort_by` takes (beside a
    /// `sort_by`, an order here gives way to it).
    #[param(schema_with = group_sort)]
    sort: Option<String>,
    /// Comma list of includes: `users` (the members' user objects), `assets` (the logo's
    /// asset record); other names are ignored.
    with: Option<String>,
    /// `only` lists the trash (deleted groups not yet purged, with `deleted_at`), `with`
    /// lists live and trashed groups together; absent (or `without`) lists live groups, as
    /// Tallyfy does. `only` and `with` need permission to manage groups.
    #[param(schema_with = trashed_list)]
    trashed: Option<String>,
}

/// `GET .../users` (with [`PageQuery`]) and `.../users-list`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberListQuery {
    /// Case-insensitive substring of the name or email.
    #[param(pattern = r"^[^\u0000]*$")]
    q: Option<String>,
    /// The order (default `created_at`); a `-` prefix sorts descending.
    #[param(schema_with = member_sort_by)]
    sort_by: Option<String>,
    /// `asc` or `desc`; or, without `sort_by`, an order as `sort_by` takes.
    #[param(schema_with = member_sort)]
    sort: Option<String>,
    /// `groups` adds each member's groups; other names are ignored.
    with: Option<String>,
}

/// `GET .../guests` (with [`PageQuery`] and [`WithoutPaginationQuery`]) and
/// `.../guests-list`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestListQuery {
    /// Case-insensitive substring of the email.
    #[param(pattern = r"^[^\u0000]*$")]
    q: Option<String>,
    /// The order (default `created_at`); a `-` prefix sorts descending.
    #[param(schema_with = guest_sort_by)]
    sort_by: Option<String>,
    /// `asc` or `desc`; or, without `sort_by`, an order as `sort_by` takes.
    #[param(schema_with = guest_sort)]
    sort: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithoutPaginationQuery {
    /// `true` for every guest at once, without `meta` (`1`/`0`, `yes`/`no`, `on`/`off`
    /// are read as PHP reads them).
    without_pagination: Option<bool>,
}

// An empty cursor is no cursor: the first page.
fn member_cursor() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some("^([1-9][0-9]{0,17})?$"))
        .build()
}

fn guest_cursor() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some("^([0-9a-f]{2})*$"))
        .build()
}

/// Keyset pages of a group's members.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberCursorQuery {
    /// `meta.next_cursor` of the previous page (the last member id seen: the page starts
    /// after it).
    #[param(schema_with = member_cursor)]
    cursor: Option<String>,
    /// Only those whose membership ends before this UTC time (who is about to leave).
    #[param(value_type = Option<String>, format = DateTime)]
    expiring_before: Option<String>,
    /// Default 100; values above 1,000 become 1,000, values below 1 the default.
    #[param(schema_with = any_integer)]
    per_page: Option<i64>,
}

/// Keyset pages of a group's guests.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestCursorQuery {
    /// `meta.next_cursor` of the previous page, exactly as issued: a hex string that
    /// encodes the last guest's email (any other string is a 422).
    #[param(schema_with = guest_cursor)]
    cursor: Option<String>,
    /// Only those whose membership ends before this UTC time.
    #[param(value_type = Option<String>, format = DateTime)]
    expiring_before: Option<String>,
    /// Default 100; values above 1,000 become 1,000, values below 1 the default.
    #[param(schema_with = any_integer)]
    per_page: Option<i64>,
}

/// A page of a webhook endpoint's delivery log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryLogQuery {
    /// Only deliveries in this state.
    #[param(schema_with = delivery_status)]
    status: Option<String>,
    /// The previous page's `next_cursor`, exactly as issued (a delivery id).
    #[param(schema_with = delivery_cursor)]
    after: Option<String>,
    /// Deliveries per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
}

fn delivery_status() -> utoipa::openapi::Object {
    one_of_strings(&["pending", "succeeded", "failed", "exhausted"])
}

fn delivery_cursor() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some("^[1-9][0-9]{0,17}$"))
        .build()
}

/// `with=` on a single resource.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithQuery {
    /// Comma list of includes: `users`, `assets` (groups), `groups` (members).
    with: Option<String>,
}

/// `GET .../groups/{group}`: `with=` and `trashed=`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupGetQuery {
    /// Comma list of includes: `users` (the members' user objects), `assets` (the logo's
    /// asset record).
    with: Option<String>,
    /// `with` also reads a group in the trash (with `deleted_at` and the people a restore
    /// would bring back); needs permission to manage groups.
    #[param(schema_with = trashed_one)]
    trashed: Option<String>,
}

/// `DELETE .../groups/{group}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupDeleteQuery {
    /// `true` purges the group (live or in the trash) at once, with its logo: it cannot
    /// be restored. Without it the group goes to the trash.
    #[param(schema_with = force_flag)]
    force: Option<String>,
}

fn trashed_list() -> utoipa::openapi::Object {
    one_of_strings(&["without", "only", "with"])
}

fn trashed_one() -> utoipa::openapi::Object {
    one_of_strings(&["without", "with"])
}

fn force_flag() -> utoipa::openapi::Object {
    one_of_strings(&["true", "false", "1", "0"])
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
    /// `Group` (in any case).
    #[schema(pattern = "^[Gg][Rr][Oo][Uu][Pp]$", example = "Group")]
    subject_type: String,
    /// The group's id; an id that names no group of the organization is a 404.
    #[schema(pattern = "^[0-9a-f]{32}$")]
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
