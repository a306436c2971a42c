//! API Gateway's `@connections` management API: post a frame to one connection, or close it.
//! The real adapter is `adapters::apigw` (the SDK); the local server serves the same API.

use crate::domain::ConnectionId;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// 410: the connection no longer exists (it vanished without a `$disconnect`, or closed).
    #[error("connection gone")]
    Gone,
    /// 429 `LimitExceededException` after the SDK's own retries: the account's API Gateway
    /// throttle. Worth trying again later, never worth dropping the event over.
    #[error("throttled by API Gateway")]
    Throttled,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[async_trait]
pub trait ConnectionApi: Send + Sync {
    /// Sends one text frame to connection `id`.
    async fn post(&self, id: &ConnectionId, frame: &[u8]) -> Result<(), PostError>;

    /// Closes connection `id` (its `$disconnect` follows).
    async fn close(&self, id: &ConnectionId) -> Result<(), PostError>;
}
