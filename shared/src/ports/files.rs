//! Object storage for uploaded files: presigned PUTs and GETs, a HEAD to check what arrived, the
//! copy that keeps an attached file and the delete that drops it. Presigning is local
//! computation (no network); `head`, `copy` and `delete` talk to the storage.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// A URL the client uses directly against the storage, with the headers it must send. `Debug`
/// leaves out the query (the signature is a bearer credential until it expires).
#[derive(Clone, PartialEq)]
pub struct Presigned {
    pub url: String,
    /// Every header the signature covers besides `host` (for a PUT: content type and length).
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Presigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let without_query = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("Presigned")
            .field("url", &format_args!("{without_query}?.."))
            .field("headers", &self.headers)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How the storage must answer a presigned GET, whatever was stored with the object: S3's
/// `response-content-type` / `response-content-disposition`, signed into the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Serve {
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
}

/// What the storage holds under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    pub content_type: Option<String>,
}

#[async_trait]
pub trait Files: Send + Sync {
    /// A PUT of exactly `size` bytes of `content_type` to `key`, valid `ttl` from `now`. The
    /// storage refuses any other length or type, a late PUT and a changed signature.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned>;

    /// A GET of `key`, valid `ttl` from `now`, answered with the headers of `serve`.
    async fn presign_get(
        &self,
        key: &str,
        serve: &Serve,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<Presigned>;

    /// The object under `key`, or `None` when nothing is stored there.
    async fn head(&self, key: &str) -> anyhow::Result<Option<StoredObject>>;

    /// Copies the object at `from` to `to` inside the bucket (attaching moves bytes out of the
    /// expiring uploads prefix) with `content_type` and no other stored header, so nothing a
    /// client added to its PUT beyond what was signed survives. Copying twice is harmless.
    async fn copy(&self, from: &str, to: &str, content_type: &str) -> anyhow::Result<()>;
    /// Deletes the object at `key`; deleting a missing object is harmless.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}
