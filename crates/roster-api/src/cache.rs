//! Reads reused between requests, exactly. Every entry is tagged with the store's
//! [`ChangeEpoch`] at the time it was read, and is used only by a request that learned
//! that same epoch: any commit (by this instance or any other process on the database)
//! raises the epoch, so an entry never outlives a write. Backends that cannot tell their
//! epoch cheaply (PostgreSQL, whose instances do not see each other's writes) answer
//! `None`, and nothing is reused there.
//!
//! Writes empty the caches as a side effect, so they pay off for read-mostly traffic
//! (a directory is read far more often than it changes) and cost one hash lookup
//! otherwise.

use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;
use axum::http::header::ETAG;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::OrgId;
use roster_core::store::{ChangeEpoch, Principal};
use roster_core::token::TokenHash;

use crate::FastHashMap as HashMap;
use crate::conditional::{etag, not_modified};

/// The two caches a request can hit: who a token is, and whole answers to `GET`s.
pub struct ReadCaches {
    pub principals: EpochCache<(TokenHash, Option<OrgId>), Principal>,
    pub answers: EpochCache<String, CachedAnswer>,
}

impl ReadCaches {
    /// Caches holding at most `bytes` of answers (0 turns both off).
    pub fn new(bytes: usize) -> Self {
        Self {
            principals: EpochCache::new(if bytes == 0 { 0 } else { 4096 }),
            answers: EpochCache::new(bytes),
        }
    }
}

/// Entries of one epoch, up to a total weight. A newer epoch empties it; when full, it
/// starts over (the entries of a read-mostly workload come back at once).
pub struct EpochCache<K, V> {
    generation: Mutex<Generation<K, V>>,
    max_weight: usize,
}

struct Generation<K, V> {
    epoch: Option<ChangeEpoch>,
    weight: usize,
    /// (The cache's bound caps what keys chosen to collide could cost.)
    entries: HashMap<K, V>,
}

impl<K: Hash + Eq, V: Clone> EpochCache<K, V> {
    pub fn new(max_weight: usize) -> Self {
        Self {
            generation: Mutex::new(Generation {
                epoch: None,
                weight: 0,
                entries: HashMap::default(),
            }),
            max_weight,
        }
    }

    /// The entry read under `epoch`, if any.
    pub fn get(&self, epoch: ChangeEpoch, key: &K) -> Option<V> {
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        if generation.epoch != Some(epoch) {
            return None;
        }
        generation.entries.get(key).cloned()
    }

    /// Keeps `value`, read after learning `epoch`, unless a newer epoch is already known
    /// (then the value may predate a write and is dropped).
    pub fn insert(&self, epoch: ChangeEpoch, key: K, value: V, weight: usize) {
        if self.max_weight == 0 || weight > self.max_weight / 4 {
            return;
        }
        let mut generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        if generation.epoch > Some(epoch) {
            return;
        }
        if generation.epoch < Some(epoch) || generation.weight + weight > self.max_weight {
            generation.entries.clear();
            generation.weight = 0;
            generation.epoch = Some(epoch);
        }
        // Two requests may race to fill the same entry; either value is right.
        if !generation.entries.contains_key(&key) {
            generation.weight += weight;
            generation.entries.insert(key, value);
        }
    }
}

/// A `200` JSON answer as it was sent, with the version its `ETag` names.
#[derive(Clone)]
pub struct CachedAnswer {
    body: Bytes,
    version: Option<i64>,
    /// `ETag` of `version`, made once.
    etag: Option<HeaderValue>,
}

impl CachedAnswer {
    pub fn new(body: Bytes, version: Option<i64>) -> Self {
        let etag = version.and_then(|v| HeaderValue::from_str(&etag(v)).ok());
        Self { body, version, etag }
    }

    pub fn weight(&self) -> usize {
        self.body.len()
    }

    /// The answer again; `304` when `If-None-Match` names its version.
    pub fn respond(&self, request_headers: &HeaderMap) -> Response {
        if let Some(version) = self.version
            && let Some(unchanged) = not_modified(request_headers, version)
        {
            return unchanged;
        }
        let mut response = crate::wire::json_answer(StatusCode::OK, self.body.clone());
        if let Some(etag) = &self.etag {
            response.headers_mut().insert(ETAG, etag.clone());
        }
        response
    }
}

/// What a cached `GET` answer is found under: everything its bytes depend on besides
/// the data (the origin, for absolute URLs, and the path with its query).
pub fn answer_key(origin: &crate::query::Origin, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    let mut key = String::with_capacity(origin.as_str().len() + path.len());
    key.push_str(origin.as_str());
    key.push_str(path);
    key
}

/// Answers a `GET` with what `compute` answered before, when nothing has been written
/// since (`epoch` unchanged); otherwise runs `compute` and keeps its answer.
pub async fn reuse_or<F>(
    state: &crate::AppState,
    epoch: Option<ChangeEpoch>,
    key: impl FnOnce() -> String,
    request_headers: &HeaderMap,
    compute: F,
) -> Result<Response, crate::ApiError>
where
    F: Future<Output = Result<CachedAnswer, crate::ApiError>>,
{
    let Some(epoch) = epoch else {
        return Ok(compute.await?.respond(request_headers));
    };
    let key = key();
    if let Some(hit) = state.caches.answers.get(epoch, &key) {
        return Ok(hit.respond(request_headers));
    }
    let answer = compute.await?;
    let response = answer.respond(request_headers);
    let weight = answer.weight();
    state.caches.answers.insert(epoch, key, answer, weight);
    Ok(response)
}
