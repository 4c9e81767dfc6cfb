//! Request bodies. Read as JSON whatever the declared content type (Tallyfy's clients
//! are not all careful with it); validation happens in the domain, field by field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::Value;

use crate::{ApiError, AppState};

pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let read = within_body_timeout(state, Bytes::from_request(req, state)).await?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request("The request body could not be read.")
            }
        })?;
        // An empty body is an empty input: the validator then names what is missing.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Value::Null));
        }
        match serde_json::from_slice(&bytes) {
            Ok(body @ Value::Object(_)) => Ok(Self(body)),
            // Every body of this API is an object; `[]` or `"x"` is a client's mistake,
            // not an empty change.
            Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object.")),
            Err(_) => Err(ApiError::bad_request("The request body is not valid JSON.")),
        }
    }
}

/// Reading a body in full may take at most `--body-timeout` (408 beyond): a client
/// that trickles its body must not hold a request slot for long. Only requests that
/// read a body pay for the timer.
pub async fn within_body_timeout<T>(
    state: &AppState,
    read: impl Future<Output = T>,
) -> Result<T, ApiError> {
    tokio::time::timeout(state.config.body_timeout, read)
        .await
        .map_err(|_| ApiError::body_timeout())
}
