//! Reads reused between requests, exactly. Every entry is tagged with a
//! [`ChangeEpoch`] learned before it was read, and is used only by a request that learned
//! that same epoch: a commit raises the epoch, so an entry never outlives a write.
//!
//! A principal for an organization is kept with the two stream heads it depends on
//! (its token's org and the org asked about, see `PrincipalHeads`) and reused while
//! neither has moved; one asked about no org (`GET /me`) is tagged with the store's
//! global epoch (any commit anywhere). Answers are kept per organization and tagged with that organization's epoch, its change
//! stream's head: every committed change to the org (by this instance or any other
//! process on the database) raises it, and a write in one organization leaves the
//! cached answers of every other one alone. Backends that cannot tell an epoch answer
//! `None`, and nothing is reused there.

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

/// The caches a request can hit: who a token is, and whole answers to `GET`s.
pub struct ReadCaches {
    /// Principals asked about no org, on the global epoch.
    pub principals: EpochCache<TokenHash, Principal>,
    pub org_principals: OrgPrincipals,
    pub answers: OrgAnswers,
}

/// At most this many principals are kept of each kind; the set starts over when full.
const PRINCIPALS: usize = 4096;

impl ReadCaches {
    /// Caches holding at most `bytes` of answers (0 turns them all off).
    pub fn new(bytes: usize) -> Self {
        let principals = if bytes == 0 { 0 } else { PRINCIPALS };
        Self {
            principals: EpochCache::new(principals),
            org_principals: OrgPrincipals { kept: Mutex::default(), max: principals },
            answers: OrgAnswers::new(bytes),
        }
    }
}

/// Principals for an org, each with the heads it was read at (`Principal::heads`).
pub struct OrgPrincipals {
    /// By token, then org (a token is used with a handful of orgs at most); `len`
    /// counts the principals across them.
    kept: Mutex<Kept>,
    max: usize,
}

#[derive(Default)]
struct Kept {
    by_token: HashMap<TokenHash, Vec<(OrgId, Principal)>>,
    len: usize,
}

impl OrgPrincipals {
    /// The principal last read for `token` in `org`, to check against the heads now.
    pub fn get(&self, token: &TokenHash, org: &OrgId) -> Option<Principal> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let orgs = kept.by_token.get(token)?;
        orgs.iter().find(|(kept_org, _)| kept_org == org).map(|(_, principal)| principal.clone())
    }

    /// Keeps a principal that was read with its heads, in place of the one before.
    pub fn insert(&self, token: TokenHash, org: &OrgId, principal: Principal) {
        if self.max == 0 || principal.heads.is_none() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len >= self.max {
            *kept = Kept::default();
        }
        let Kept { by_token, len } = &mut *kept;
        let orgs = by_token.entry(token).or_default();
        match orgs.iter_mut().find(|(kept_org, _)| kept_org == org) {
            Some((_, slot)) => *slot = principal,
            None => {
                orgs.push((org.clone(), principal));
                *len += 1;
            }
        }
    }
}

/// Whole answers, one generation per organization (each at its own epoch), up to a
/// total weight across them all.
pub struct OrgAnswers {
    orgs: Mutex<OrgGenerations>,
    max_weight: usize,
    /// Answers that depend on one group alone (a `GET` of it without `with=users`),
    /// kept across the org's epochs: after a write elsewhere in the org, one is reused
    /// once the group's own version (and its next membership end) shows it unchanged.
    by_group: Mutex<HashMap<(OrgId, String), CachedAnswer>>,
}

/// At most this many answers wait for revalidation; the set starts over when full.
const REVALIDATABLE: usize = 4096;

struct OrgGenerations {
    weight: usize,
    by_org: HashMap<OrgId, Generation<String, CachedAnswer>>,
}

impl OrgAnswers {
    pub fn new(max_weight: usize) -> Self {
        Self {
            orgs: Mutex::new(OrgGenerations { weight: 0, by_org: HashMap::default() }),
            max_weight,
            by_group: Mutex::new(HashMap::default()),
        }
    }

    /// An answer of one group, read at some earlier epoch, to revalidate.
    fn group_answer(&self, org: &OrgId, key: &str) -> Option<CachedAnswer> {
        let by_group = self.by_group.lock().unwrap_or_else(PoisonError::into_inner);
        by_group.get(&(org.clone(), key.to_owned())).cloned()
    }

    fn keep_group_answer(&self, org: &OrgId, key: String, value: CachedAnswer) {
        if self.max_weight == 0 {
            return;
        }
        let mut by_group = self.by_group.lock().unwrap_or_else(PoisonError::into_inner);
        if by_group.len() >= REVALIDATABLE {
            by_group.clear();
        }
        by_group.insert((org.clone(), key), value);
    }

    pub fn get(&self, org: &OrgId, epoch: ChangeEpoch, key: &str) -> Option<CachedAnswer> {
        let orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
        orgs.by_org.get(org)?.get(epoch, key)
    }

    /// Keeps `value`, read after learning the org's `epoch`, unless a newer epoch of
    /// the org is already known.
    pub fn insert(&self, org: &OrgId, epoch: ChangeEpoch, key: String, value: CachedAnswer) {
        let weight = value.weight() + key.len();
        if self.max_weight == 0 || weight > self.max_weight / 4 {
            return;
        }
        let mut orgs = self.orgs.lock().unwrap_or_else(PoisonError::into_inner);
        if orgs.weight + weight > self.max_weight {
            orgs.by_org.clear();
            orgs.weight = 0;
        }
        let OrgGenerations { weight: total, by_org } = &mut *orgs;
        let generation = by_org.entry(org.clone()).or_insert_with(Generation::empty);
        let before = generation.weight;
        generation.insert(epoch, key, value, weight, false);
        *total = (*total + generation.weight).saturating_sub(before);
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

impl<K: Hash + Eq, V: Clone> Generation<K, V> {
    fn empty() -> Self {
        Self { epoch: None, weight: 0, entries: HashMap::default() }
    }

    fn get<Q>(&self, epoch: ChangeEpoch, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.epoch != Some(epoch) {
            return None;
        }
        self.entries.get(key).cloned()
    }

    /// Keeps `value` unless a newer epoch is already known (then it may predate a write
    /// and is dropped); a newer `epoch`, or `start_over`, empties the generation first.
    fn insert(&mut self, epoch: ChangeEpoch, key: K, value: V, weight: usize, start_over: bool) {
        if self.epoch > Some(epoch) {
            return;
        }
        if self.epoch < Some(epoch) || start_over {
            self.entries.clear();
            self.weight = 0;
            self.epoch = Some(epoch);
        }
        // Two requests may race to fill the same entry; either value is right.
        if !self.entries.contains_key(&key) {
            self.weight += weight;
            self.entries.insert(key, value);
        }
    }
}

impl<K: Hash + Eq, V: Clone> EpochCache<K, V> {
    pub fn new(max_weight: usize) -> Self {
        Self { generation: Mutex::new(Generation::empty()), max_weight }
    }

    /// The entry read under `epoch`, if any.
    pub fn get(&self, epoch: ChangeEpoch, key: &K) -> Option<V> {
        self.generation.lock().unwrap_or_else(PoisonError::into_inner).get(epoch, key)
    }

    /// Keeps `value`, read after learning `epoch`, unless a newer epoch is already known.
    pub fn insert(&self, epoch: ChangeEpoch, key: K, value: V, weight: usize) {
        if self.max_weight == 0 || weight > self.max_weight / 4 {
            return;
        }
        let mut generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        let full = generation.weight + weight > self.max_weight;
        generation.insert(epoch, key, value, weight, full);
    }
}

/// A `200` JSON answer as it was sent, with the version its `ETag` names.
#[derive(Clone)]
pub struct CachedAnswer {
    body: Bytes,
    version: Option<i64>,
    /// `ETag` of `version`, made once.
    etag: Option<HeaderValue>,
    /// A listing's `Roster-Cursor`.
    cursor: Option<HeaderValue>,
    /// For an answer that depends on one group alone, at `version`: that group.
    group: Option<roster_core::GroupId>,
}

impl CachedAnswer {
    pub fn new(body: Bytes, version: Option<i64>) -> Self {
        let etag = version.and_then(|v| HeaderValue::from_str(&etag(v)).ok());
        Self { body, version, etag, cursor: None, group: None }
    }

    /// An answer that depends on nothing but group `id` at `version` (its fields and the
    /// ids and emails of its people): reusable whenever the group is still at `version`.
    pub fn of_group(body: Bytes, id: roster_core::GroupId, version: i64) -> Self {
        Self { group: Some(id), ..Self::new(body, Some(version)) }
    }

    /// A listing's answer, with the stream cursor read in its snapshot.
    pub fn listing(body: Bytes, cursor: HeaderValue) -> Self {
        Self { cursor: Some(cursor), ..Self::new(body, None) }
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
        if let Some(cursor) = &self.cursor {
            response.headers_mut().insert(crate::routes::ROSTER_CURSOR, cursor.clone());
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

/// Answers a `GET` of the caller's org with what `compute` answered before, when nothing
/// has been written to the org since (its epoch unchanged); otherwise runs `compute` and
/// keeps its answer.
pub async fn reuse_or<F>(
    state: &crate::AppState,
    caller: &crate::auth::OrgCaller,
    key: impl FnOnce() -> String,
    request_headers: &HeaderMap,
    compute: F,
) -> Result<Response, crate::ApiError>
where
    F: Future<Output = Result<CachedAnswer, crate::ApiError>>,
{
    // Learned before anything is read, so that what is read is at least this new.
    use std::sync::atomic::Ordering::Relaxed;
    let epoch = match caller.org_epoch {
        Some(known) => known,
        None => state.store.org_epoch(&caller.org).await?,
    };
    let Some(epoch) = epoch else {
        state.metrics.answer_misses.fetch_add(1, Relaxed);
        return Ok(compute.await?.respond(request_headers));
    };
    let key = key();
    if let Some(hit) = state.caches.answers.get(&caller.org, epoch, &key) {
        state.metrics.answer_hits.fetch_add(1, Relaxed);
        return Ok(hit.respond(request_headers));
    }
    if let Some(earlier) = state.caches.answers.group_answer(&caller.org, &key)
        && let (Some(id), Some(version)) = (&earlier.group, earlier.version)
    {
        // Read after the epoch was learned: unchanged now means unchanged since the
        // answer was read (every change to the group raises its version), and no
        // membership of it has ended since unless its next end has come.
        let now = state.store.clock().now();
        let current = state.store.group_version(&caller.org, id).await?;
        if current.is_some_and(|(v, next_end)| v == version && next_end.is_none_or(|at| now < at)) {
            state.metrics.answer_revalidated.fetch_add(1, Relaxed);
            let response = earlier.respond(request_headers);
            state.caches.answers.insert(&caller.org, epoch, key, earlier);
            return Ok(response);
        }
    }
    state.metrics.answer_misses.fetch_add(1, Relaxed);
    let answer = compute.await?;
    let response = answer.respond(request_headers);
    if answer.group.is_some() {
        state.caches.answers.keep_group_answer(&caller.org, key.clone(), answer.clone());
    }
    state.caches.answers.insert(&caller.org, epoch, key, answer);
    Ok(response)
}
