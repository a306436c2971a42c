//! A `Push` that delivers nothing: it logs each event's kind and recipient count at debug level
//! (never its content). The `messages` function uses it: its events go through the outbox to
//! `ws-deliver`, so it needs no `@connections` client at init (`config::chat_for_messages`).

use crate::domain::{Connection, UserId};
use crate::ports::{Event, Push};
use async_trait::async_trait;

#[derive(Debug, Default, Clone, Copy)]
pub struct LogPush;

#[async_trait]
impl Push for LogPush {
    async fn push(&self, recipients: &[UserId], event: &Event) -> anyhow::Result<()> {
        tracing::debug!(
            kind = event.kind,
            recipients = recipients.len(),
            "event (no WebSocket delivery yet)"
        );
        Ok(())
    }

    async fn push_to(&self, connections: &[Connection], event: &Event) -> anyhow::Result<()> {
        tracing::debug!(
            kind = event.kind,
            connections = connections.len(),
            "event (no WebSocket delivery)"
        );
        Ok(())
    }
}
