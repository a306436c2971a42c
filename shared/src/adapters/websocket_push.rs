//! The real `Push`: the recipients' connections come from the connection store in one batched
//! lookup (`connections_of_users`: on DynamoDB one `BatchGetItem` per 100 recipients, never a
//! query per recipient), the frame is serialized once and posted to every connection
//! concurrently, at most `FAN_OUT` at a time. A connection that answers 410 Gone vanished
//! without a `$disconnect`: all its records are removed in one write, and every other
//! connection still gets the event.

use crate::domain::{Connection, UserId};
use crate::ports::{Clock, ConnectionApi, ConnectionStore, Event, PostError, Push};
use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use std::sync::Arc;

/// Posts in flight at once: enough to hide round trips, few enough not to trip API Gateway's
/// per-account limits or exhaust sockets.
pub const FAN_OUT: usize = 32;

pub struct WebSocketPush {
    connections: Arc<dyn ConnectionStore>,
    api: Arc<dyn ConnectionApi>,
    clock: Arc<dyn Clock>,
}

impl WebSocketPush {
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        api: Arc<dyn ConnectionApi>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            connections,
            api,
            clock,
        }
    }

    /// Posts `frame` to one connection; a Gone one is forgotten. `false` when it was throttled
    /// (the event must be tried again); other failures are logged and given up.
    async fn deliver(&self, connection: &Connection, frame: &[u8]) -> bool {
        match self.api.post(&connection.id, frame).await {
            Ok(()) => true,
            Err(PostError::Gone) => {
                tracing::debug!(connection = %connection.id, "stale connection removed");
                if let Err(e) = self.connections.forget(connection).await {
                    tracing::warn!(error = %e, "removing a stale connection failed");
                }
                true
            }
            Err(PostError::Throttled) => {
                tracing::warn!(connection = %connection.id, "post throttled");
                false
            }
            Err(PostError::Unexpected(e)) => {
                tracing::warn!(error = %e, connection = %connection.id, "post failed");
                true
            }
        }
    }

    /// Posts to every connection, `FAN_OUT` at a time; an error when any was throttled, so the
    /// delivery is retried (the others may then see the event twice; clients drop repeats).
    async fn post_all(&self, connections: &[Connection], event: &Event) -> anyhow::Result<()> {
        let frame = serde_json::to_vec(&event.to_json())?;
        let frame = frame.as_slice();
        let landed: Vec<bool> = stream::iter(connections.iter().cloned())
            .map(|c| async move { self.deliver(&c, frame).await })
            .buffer_unordered(FAN_OUT)
            .collect()
            .await;
        let throttled = landed.iter().filter(|l| !**l).count();
        if throttled > 0 {
            anyhow::bail!("{throttled} posts throttled by API Gateway");
        }
        Ok(())
    }
}

#[async_trait]
impl Push for WebSocketPush {
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()> {
        let connections = self
            .connections
            .connections_of_users(recipients, self.clock.now())
            .await?;
        self.post_all(&connections, event).await
    }

    async fn push_to(&self, connections: &[Connection], event: &Event) -> anyhow::Result<()> {
        self.post_all(connections, event).await
    }
}
