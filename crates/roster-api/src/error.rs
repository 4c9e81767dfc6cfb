//! One error type for every refusal, with Tallyfy's body:
//! `{"error": true, "message": "...", "code": "..."}` plus `errors` on a 422.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::{StoreError, StoreErrorKind, ValidationErrors, WriteError};
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    errors: Option<ValidationErrors>,
    /// Seconds for `Retry-After`, on answers that a later retry can turn into a success.
    retry_after: Option<u32>,
}

/// Every refusal's body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Always true.
    error: bool,
    #[schema(example = "The given data was invalid.")]
    message: &'a str,
    /// A stable code, e.g. `VALIDATION_FAILED`, `RESOURCE_NOT_FOUND`, `FORBIDDEN`.
    #[schema(example = "VALIDATION_FAILED")]
    code: &'static str,
    /// On a 422: messages by field path, in Laravel's wording.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>,
             example = json!({"name": ["The name has already been taken."]}))]
    errors: Option<&'a ValidationErrors>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, code, message: message.into(), errors: None, retry_after: None }
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "Unauthenticated.")
    }

    pub fn missing_client_header() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "The X-Tallyfy-Client header is required.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "You do not have permission to perform this action.",
        )
    }

    pub fn not_in_org() -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", "You are not a member of this organization.")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "Resource not found")
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "The request body is too large.",
        )
    }

    /// The body did not arrive in full within `--body-timeout`.
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "The request body did not arrive in time.",
        )
    }

    pub fn validation(errors: ValidationErrors) -> Self {
        Self {
            errors: Some(errors),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                "The given data was invalid.",
            )
        }
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            format!("Too many requests. Please try again in {retry_after} seconds."),
        )
        .retry_after(u32::try_from(retry_after).unwrap_or(u32::MAX))
    }

    /// A fifth long-poll of the change stream with one token.
    pub fn too_many_long_polls() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_LONG_POLLS",
            "This token already holds the most long-polls allowed at once (4).",
        )
        .retry_after(1)
    }

    /// More requests at once than `--max-concurrent-requests`.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is busy; retry shortly.",
        )
        .retry_after(1)
    }

    fn retry_after(self, seconds: u32) -> Self {
        Self { retry_after: Some(seconds), ..self }
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            "The group has changed since the version given in If-Match.",
        )
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    /// A server fault: the detail goes to the log with where it happened, never to the client.
    pub fn internal(context: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %crate::edge::current_request_id(), context, %detail, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Something went wrong on our side.",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// A storage failure answers by its kind: a fault is a 500 that says nothing; the others
/// say what an operator or a client can act on, with when to retry. The detail goes to
/// the log, with the request id.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let request_id = crate::edge::current_request_id();
        let (context, detail) = (err.context, &err.detail);
        match err.kind {
            StoreErrorKind::Fault => Self::internal(context, detail),
            StoreErrorKind::Busy => {
                tracing::warn!(%request_id, context, %detail, "storage busy");
                Self::overloaded()
            }
            StoreErrorKind::Full => {
                tracing::error!(%request_id, context, %detail, "storage full");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "INSUFFICIENT_STORAGE",
                    "The database has no space left, so the change was not saved; \
                     reads still work. Retry once an operator has freed space.",
                )
                .retry_after(30)
            }
            StoreErrorKind::Unreachable => {
                tracing::error!(%request_id, context, %detail, "database unreachable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "The database cannot be reached right now; retry shortly.",
                )
                .retry_after(5)
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::validation(errors)
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::NotFound => Self::not_found(),
            WriteError::Invalid(errors) => Self::validation(errors),
            WriteError::Conflict(message) => Self::conflict(message),
            WriteError::Rejected(message) => Self::bad_request(message),
            WriteError::PreconditionFailed => Self::precondition_failed(),
            WriteError::Store(err) => err.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: true,
            message: &self.message,
            code: self.code,
            errors: self.errors.as_ref(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub(crate) async fn endpoint_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "API endpoint not found")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "The method is not allowed for this endpoint.",
    )
}

/// A panic is a bug: log it, answer a bare 500.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    ApiError::internal("handler panicked", detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(err: StoreError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = ApiError::from(err).into_response();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status();
        let body = body_json(response);
        (status, retry_after, body)
    }

    /// The answer's JSON (error bodies are built in memory, so one poll reads them).
    fn body_json(response: Response) -> serde_json::Value {
        let runtime =
            tokio::runtime::Builder::new_current_thread().build().expect("a test runtime");
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("the body");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[test]
    fn each_kind_of_storage_failure_answers_what_it_is() {
        let (status, retry, body) = answer(StoreError::busy("test", "pool empty"));
        assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("1")));
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");

        let (status, retry, body) = answer(StoreError::unreachable("test", "connection refused"));
        assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("5")));
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(body["message"], "The database cannot be reached right now; retry shortly.");

        let (status, retry, body) = answer(StoreError::full("test", "SQLITE_FULL"));
        assert_eq!((status, retry.as_deref()), (StatusCode::INSUFFICIENT_STORAGE, Some("30")));
        assert_eq!(body["code"], "INSUFFICIENT_STORAGE");
        assert!(!body.to_string().contains("SQLITE_FULL"), "{body}");

        let (status, retry, body) = answer(StoreError::new("test", "disk on fire"));
        assert_eq!((status, retry), (StatusCode::INTERNAL_SERVER_ERROR, None));
        assert_eq!(
            body,
            serde_json::json!({"error": true, "code": "INTERNAL_SERVER_ERROR",
                               "message": "Something went wrong on our side."})
        );
    }
}
