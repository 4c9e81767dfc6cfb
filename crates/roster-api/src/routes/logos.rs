//! Group logos: upload (here and through Tallyfy's generic `POST /file`), removal, and
//! serving the bytes to `<img>` tags without a token.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::logo::{self, LogoImage};
use roster_core::model::NewLogo;
use roster_core::{AssetId, GroupId, ValidationErrors};
use tokio::sync::Semaphore;

use crate::auth::{ManageGroups, Permitted};
use crate::body::within_body_timeout;
use crate::conditional::with_etag;
use crate::openapi::{FileUpload, LogoUpload};
use crate::path::GroupPath;
use crate::query::Origin;
use crate::wire::{AssetOut, GroupOut, Item};
use crate::{ApiError, AppState};

/// Uploads are at most 2 MiB; the body may be a little larger for the multipart framing.
/// Bigger bodies are refused with 413 before they are read.
pub const BODY_LIMIT: usize = logo::MAX_BYTES + 512 * 1024;

/// Decoding a large image takes tens of megabytes; one at a time bounds the memory.
static DECODES: Semaphore = Semaphore::const_new(1);

struct Upload {
    bytes: Vec<u8>,
    filename: String,
    fields: Vec<(String, String)>,
}

impl Upload {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
    }
}

async fn read_upload(multipart: Result<Multipart, MultipartRejection>) -> Result<Upload, ApiError> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::bad_request("The request must be multipart/form-data with a file part.")
    })?;
    let mut upload = Upload { bytes: Vec::new(), filename: String::new(), fields: Vec::new() };
    let mut has_file = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::payload_too_large());
            }
            Err(_) => return Err(ApiError::bad_request("The multipart body could not be read.")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            // Shown back to every reader: keep it printable (and storable on every backend).
            upload.filename =
                field.file_name().unwrap_or("logo").chars().filter(|c| !c.is_control()).collect();
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large()
                } else {
                    ApiError::bad_request("The multipart body could not be read.")
                }
            })?;
            upload.bytes = bytes.to_vec();
            has_file = true;
        } else {
            let text = field
                .text()
                .await
                .map_err(|_| ApiError::bad_request("The multipart body could not be read."))?;
            upload.fields.push((name, text));
        }
    }
    if !has_file {
        return Err(ValidationErrors::single("file", "The file field is required.").into());
    }
    Ok(upload)
}

/// Checks the upload by decoding it, off the async workers and one at a time.
async fn accept(upload: Upload, uploaded_from: String) -> Result<NewLogo, ApiError> {
    let _permit = DECODES.acquire().await.map_err(|e| ApiError::internal("logo decode", e))?;
    let (checked, bytes) =
        tokio::task::spawn_blocking(move || (logo::check(&upload.bytes), upload.bytes))
            .await
            .map_err(|e| ApiError::internal("logo decode", e))?;
    let LogoImage { content_type, .. } = checked?;
    Ok(NewLogo { bytes, content_type, filename: upload.filename, uploaded_from })
}

/// Upload a group's logo
///
/// Sets or replaces the group's logo from one multipart `file` part: PNG, JPEG, GIF or
/// WebP, at most 2 MiB and 4096×4096 pixels, checked by decoding it. The bytes are served
/// back exactly as uploaded at the group's `logo` URL. Needs permission to manage groups;
/// 422 names why an image is refused; 413 for a body over 2.5 MiB.
#[utoipa::path(
    post, operation_id = "uploadGroupLogo", path = "/organizations/{org}/groups/{group}/logo", tag = "groups",
    params(("org" = String, Path, description = "Organization id"), ("group" = String, Path, description = "Group id")),
    request_body(content = LogoUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "The group with its new logo", body = Item<GroupOut>,
               headers(("ETag" = String, description = "The group's version, quoted"))),
              (status = 413, description = "The body is over the upload limit", body = crate::error::ErrorBody))
)]
pub async fn upload(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
    origin: Origin,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let upload = within_body_timeout(&state, read_upload(multipart)).await??;
    let logo = accept(upload, "group_logo".to_owned()).await?;
    let group = state.store.set_group_logo(&caller.org, &id, &logo).await?;
    Ok(with_etag(
        Json(Item { data: GroupOut::new(&group, &origin) }).into_response(),
        group.version,
    ))
}

/// Remove a group's logo
///
/// Deletes the logo; the group's `logo` is null again and its version goes up. Needs
/// permission to manage groups; 404 for an unknown group.
#[utoipa::path(
    delete, operation_id = "deleteGroupLogo", path = "/organizations/{org}/groups/{group}/logo", tag = "groups",
    params(("org" = String, Path, description = "Organization id"), ("group" = String, Path, description = "Group id")),
    responses((status = 204, description = "The logo is gone; `logo` is null again"))
)]
pub async fn remove(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    GroupPath(id): GroupPath,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_group_logo(&caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload a file (Tallyfy's generic upload)
///
/// Tallyfy's upload endpoint: `subject_type=Group` with `subject_id` sets that group's logo
/// from the `file` part (the same checks as the logo upload), and answers the stored asset.
/// Needs permission to manage groups; 422 for a missing or unsupported subject.
#[utoipa::path(
    post, operation_id = "uploadFile", path = "/organizations/{org}/file", tag = "groups",
    params(("org" = String, Path, description = "Organization id")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "The stored asset", body = Item<AssetOut>),
              (status = 413, description = "The body is over the upload limit", body = crate::error::ErrorBody))
)]
pub async fn generic_upload(
    Permitted { caller, .. }: Permitted<ManageGroups>,
    State(state): State<AppState>,
    origin: Origin,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let upload = within_body_timeout(&state, read_upload(multipart)).await??;
    let mut errors = ValidationErrors::new();
    match upload.field("subject_type") {
        Some(kind) if kind.eq_ignore_ascii_case("group") => {}
        Some(_) => errors.add("subject_type", "The selected subject type is invalid."),
        None => errors.add("subject_type", "The subject type field is required."),
    }
    let subject = upload.field("subject_id").filter(|s| !s.is_empty());
    if subject.is_none() {
        errors.add("subject_id", "The subject id field is required.");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let id = subject.and_then(GroupId::parse).ok_or_else(ApiError::not_found)?;
    let uploaded_from =
        upload.field("uploaded_from").filter(|s| !s.is_empty()).unwrap_or("file").to_owned();
    let logo = accept(upload, uploaded_from).await?;
    let group = state.store.set_group_logo(&caller.org, &id, &logo).await?;
    let asset = AssetOut::of_logo(&group, &origin)
        .ok_or_else(|| ApiError::internal("upload", "logo vanished"))?;
    Ok((StatusCode::CREATED, Json(Item { data: asset })).into_response())
}

/// Get a logo's image
///
/// The logo's bytes with their real `Content-Type`, for `<img>` tags: no token is needed,
/// since the id is 128 random bits and changes with every upload (so the answer may be
/// cached for a year). 404 for an unknown or removed logo.
#[utoipa::path(
    get, operation_id = "getLogo", path = "/logos/{asset}", tag = "groups", security(()),
    params(("asset" = String, Path, description = "The asset id in the group's `logo` URL")),
    responses(
        (status = 200, description = "The logo's bytes, exactly as uploaded", content_type = "image/*",
         headers(("ETag" = String), ("Cache-Control" = String), ("X-Content-Type-Options" = String))),
        (status = 404, description = "No such logo", body = crate::error::ErrorBody)
    )
)]
pub async fn serve(
    Path(asset): Path<String>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let asset = AssetId::parse(&asset).ok_or_else(ApiError::not_found)?;
    let logo = state.store.logo(&asset).await?.ok_or_else(ApiError::not_found)?;
    let mut response = Body::from(logo.bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&logo.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("\"{asset}\"")) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
