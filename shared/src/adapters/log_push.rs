//! The `Push` of the Lambda functions until the realtime issue brings WebSocket delivery: it logs
//! each event's kind and recipient count (never its content) and delivers nothing. Nobody can be
//! connected yet, so nothing is lost; the realtime issue replaces it with the API Gateway
//! management adapter.

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
