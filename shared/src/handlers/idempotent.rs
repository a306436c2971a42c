//! Idempotency for money-moving routes, as Stripe does it. The key (`Idempotency-Key`, scoped
//! per user) is claimed before any rule runs; the first answer, refusals included, becomes the
//! key's answer and is replayed byte for byte (with `Idempotent-Replayed: true`) to every
//! duplicate of the same request within 24 h. A different request under a used key is 422
//! `idempotency_key_reused`; a duplicate while the first runs is 409 `request_in_progress`.
//! A claim is a lease: if its holder dies, the key frees itself after `LEASE`, and the store's
//! movement re-checks the claim, so a key moves money at most once.

use crate::domain::{IdempotencyKey, Invalid, UserId};
use crate::error::{Error, Result};
use crate::http::{Body, Request, Response, problem::problem, request};
use crate::ports::{Claim, ClaimOutcome, IdemScope, LedgerStore, StoredAnswer};
use sha2::{Digest, Sha256};
use std::future::Future;
use time::{Duration, OffsetDateTime};

/// How long a claim stays exclusive without an answer: well past a function's 10 s timeout.
pub const LEASE: Duration = Duration::seconds(30);
/// How long a key's answer is kept.
pub const KEEP: Duration = Duration::hours(24);

/// The request's key: 400 `idempotency_key_required` when absent or empty, `validation_failed`
/// when malformed.
pub fn key(req: &Request) -> Result<IdempotencyKey> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Err(Error::IdempotencyKeyRequired);
    };
    if value.is_empty() {
        return Err(Error::IdempotencyKeyRequired);
    }
    let raw = value.to_str().map_err(|_| {
        Error::field(
            "Idempotency-Key",
            Invalid::new("must be printable ASCII characters"),
        )
    })?;
    IdempotencyKey::parse(raw).map_err(|e| Error::field("Idempotency-Key", e))
}

/// What identifies "the same request": the route, the path and the body's JSON (key order and
/// spacing do not matter).
pub fn fingerprint(req: &Request) -> [u8; 32] {
    let body: &[u8] = req.body().as_ref();
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    let mut h = Sha256::new();
    h.update(request::route_key(req).unwrap_or("").as_bytes());
    h.update([0]);
    h.update(req.uri().path().as_bytes());
    h.update([0]);
    h.update(&canonical);
    h.finalize().into()
}

/// What identifies "the same request" for one that is no HTTP request (the WebSocket `transfer`
/// action): a route name no HTTP route has, and the request's fields as JSON.
pub fn fingerprint_of(route: &str, fields: &serde_json::Value) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(fields.to_string().as_bytes());
    h.finalize().into()
}

/// A response as it will be stored and replayed.
pub fn answer_of(response: &Response<Body>) -> StoredAnswer {
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    StoredAnswer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned(),
        body,
    }
}

/// The response for a stored answer: the same bytes the first time and every time after.
pub fn respond_with(answer: &StoredAnswer, replayed: bool) -> Response<Body> {
    use lambda_http::http::{HeaderValue, StatusCode};
    let mut response = Response::new(Body::Text(answer.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&answer.content_type) {
        headers.insert("content-type", v);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Errors that are no answer to the request: they store nothing and free the key.
fn stores_nothing(e: &Error) -> bool {
    matches!(
        e,
        Error::Validation(_)
            | Error::InvalidJson(_)
            | Error::Unexpected(_)
            | Error::RequestInProgress
            | Error::Conflict
    )
}

/// The answer `key` already holds for this request, without running anything: for a request
/// refused before it reached its key (an in-chat transfer whose chat checks fail on a retry)
/// that may have been answered earlier. A free key is claimed and given back at once, so
/// nothing is stored; a key still running is 409 `request_in_progress`; a key used for another
/// request holds no answer for this one (`None`).
pub async fn answered(
    ledger: &dyn LedgerStore,
    user: UserId,
    key: IdempotencyKey,
    fingerprint: [u8; 32],
    now: OffsetDateTime,
) -> Result<Option<StoredAnswer>> {
    let claim = claim_of(user, key, fingerprint, now);
    match ledger.claim(&claim, now).await? {
        ClaimOutcome::Replay(answer) => Ok(Some(answer)),
        ClaimOutcome::Claimed => {
            ledger.release(&claim).await?;
            Ok(None)
        }
        ClaimOutcome::Mismatch => Ok(None),
        ClaimOutcome::InProgress => Err(Error::RequestInProgress),
    }
}

fn claim_of(
    user: UserId,
    key: IdempotencyKey,
    fingerprint: [u8; 32],
    now: OffsetDateTime,
) -> Claim {
    Claim {
        scope: IdemScope { user, key },
        token: format!("{:032x}", rand::random::<u128>()),
        fingerprint,
        lease_until: now + LEASE,
        expires_at: now + KEEP,
    }
}

/// Runs `work` at most once per key and request: claims the key, runs, stores the answer.
/// `work` stores its own success answer inside its money movement; refusals are stored here.
pub async fn run<F, Fut>(
    ledger: &dyn LedgerStore,
    user: UserId,
    key: IdempotencyKey,
    fingerprint: [u8; 32],
    now: OffsetDateTime,
    work: F,
) -> Result<Response<Body>>
where
    F: FnOnce(Claim) -> Fut,
    Fut: Future<Output = Result<StoredAnswer>>,
{
    let claim = claim_of(user, key, fingerprint, now);
    match ledger.claim(&claim, now).await? {
        ClaimOutcome::Claimed => {}
        ClaimOutcome::Replay(answer) => return Ok(respond_with(&answer, true)),
        ClaimOutcome::Mismatch => return Err(Error::Refused("idempotency_key_reused")),
        ClaimOutcome::InProgress => return Err(Error::RequestInProgress),
    }
    match work(claim.clone()).await {
        Ok(answer) => Ok(respond_with(&answer, false)),
        Err(e) if stores_nothing(&e) => {
            if let Err(release) = ledger.release(&claim).await {
                tracing::warn!(error = %release, "idempotency claim not released; its lease will lapse");
            }
            Err(e)
        }
        Err(e) => {
            let answer = answer_of(&problem(&e));
            match ledger.settle(&claim, &answer).await {
                Ok(()) => Ok(respond_with(&answer, false)),
                // Our lease lapsed and another request took the key over: it answers for it.
                Err(crate::ports::StoreError::Conflict) => Err(Error::RequestInProgress),
                Err(other) => Err(other.into()),
            }
        }
    }
}
