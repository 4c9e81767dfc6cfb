//! Query strings (form-decoded: `+` and `%20` are both a space), `with` includes, and
//! the absolute pagination links Tallyfy's clients follow.

use axum::http::{HeaderMap, Uri, header};

/// The decoded pairs, in order.
pub fn pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last value given for `name`, if any.
pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `with=a,b`: related data to nest in the answer. Unknown names are ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct Includes {
    pub assets: bool,
    pub users: bool,
    pub groups: bool,
}

impl Includes {
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut includes = Self::default();
        for (_, value) in pairs.iter().filter(|(k, _)| k == "with") {
            for name in value.split(',').map(str::trim) {
                match name {
                    "assets" => includes.assets = true,
                    "users" => includes.users = true,
                    "groups" => includes.groups = true,
                    _ => {}
                }
            }
        }
        includes
    }
}

/// Where the client reached Roster (`scheme://host`), for the absolute URLs in answers:
/// pagination links and logo URLs.
#[derive(Clone, Debug)]
pub struct Origin(String);

impl Origin {
    pub fn new(headers: &HeaderMap, uri: &Uri) -> Self {
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|p| *p == "https" || *p == "http")
            .unwrap_or("http");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let mut origin = String::with_capacity(scheme.len() + 3 + host.len());
        origin.push_str(scheme);
        origin.push_str("://");
        origin.push_str(host);
        Self(origin)
    }

    /// `scheme://host`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// The request's headers and the URI the client asked for (before `/api` was taken
/// off), moved out of the request rather than copied; so it must be the handler's last
/// argument.
pub struct RequestHead {
    pub headers: HeaderMap,
    pub uri: Uri,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for RequestHead {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, _) = request.into_parts();
        let uri = parts
            .extensions
            .remove::<axum::extract::OriginalUri>()
            .map_or(parts.uri, |original| original.0);
        Ok(Self { headers: parts.headers, uri })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::new(&parts.headers, &parts.uri))
    }
}

/// Builds the absolute URL of another page of the same listing, keeping every other
/// query parameter as the client sent it.
pub struct PageLinks<'a> {
    base: String,
    pairs: &'a [(String, String)],
}

impl<'a> PageLinks<'a> {
    pub fn new(headers: &HeaderMap, uri: &Uri, pairs: &'a [(String, String)]) -> Self {
        Self { base: Origin::new(headers, uri).url(uri.path()), pairs }
    }

    pub fn page(&self, page: u64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let mut placed = false;
        for (key, value) in self.pairs {
            if key == "page" {
                if !placed {
                    query.append_pair("page", &page.to_string());
                    placed = true;
                }
            } else {
                query.append_pair(key, value);
            }
        }
        if !placed {
            query.append_pair("page", &page.to_string());
        }
        format!("{}?{}", self.base, query.finish())
    }
}

/// A boolean query flag, in PHP's words for one: `1`, `true`, `yes`, `on` and `0`,
/// `false`, `no`, `off` (any case); absent is false, anything else a 422.
pub fn flag(
    pairs: &[(String, String)],
    name: &'static str,
) -> Result<bool, roster_core::ValidationErrors> {
    let Some((_, value)) = pairs.iter().rev().find(|(k, _)| k == name) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(roster_core::ValidationErrors::single(
            name,
            roster_core::validation::messages::boolean(name),
        )),
    }
}

/// Parses listing parameters from decoded pairs.
pub fn list_params(
    pairs: &[(String, String)],
    allowed: &[roster_core::listing::SortField],
) -> Result<roster_core::listing::ListParams, roster_core::ValidationErrors> {
    roster_core::listing::ListParams::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        allowed,
    )
}
